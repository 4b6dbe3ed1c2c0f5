//! End to end: a real Dovecot asks the badclients daemon as its auth policy server
//! (`auth_policy_server_url`, the settings of docs/dovecot.md); the tests assert what the mail
//! client sees. The daemon's lookups go to testworld's fake DNS and RDAP on 127.0.0.1.
//!
//! Every test runs twice: `debian12::NAME` on the host's Dovecot 2.3 and `debian13::NAME` on
//! Dovecot 2.4 in the Debian 13 root (see tests/common/release.rs).
//!
//! Needs root, the Debian packages dovecot-core, dovecot-imapd, dovecot-pop3d and the Debian 13
//! root that scripts/test.sh builds (the tests fail with a hint otherwise).

mod common;

use std::time::{Duration, Instant};

use common::daemon::{
    Daemon, DaemonConfig, FakeInternet, API_KEY, BLOCK_MESSAGE, LISTED_IP, LISTED_NET, UNLISTED_IP,
    UNLISTED_IP2,
};
use common::dovecot::{Dovecot, Gate, PASSWORD};
use common::mail_clients::Forge;
use common::release::Release;

fn policy_dovecot(release: Release, daemon: &Daemon) -> Dovecot {
    Dovecot::start(
        release,
        Gate::Policy {
            url: format!("{}/", daemon.http_url()),
            api_key: API_KEY.into(),
        },
    )
}

fn listed(internet: &FakeInternet) -> DaemonConfig {
    DaemonConfig::new(internet).list("ip_net.deny.lst", &format!("{LISTED_NET}\n"))
}

/// The daemon's stderr and Dovecot's log, for failure messages.
fn context(daemon: &Daemon, dv: &Dovecot) -> String {
    format!(
        "\n--- daemon stderr ---\n{}\n--- dovecot log ---\n{}",
        daemon.stderr(),
        dv.log()
    )
}

fn imap_refusal() -> String {
    format!("a1 NO [ALERT] {BLOCK_MESSAGE}")
}

/// Audit lines naming `ip`, once at least `n` are there (waits up to 5 s) and no more came in
/// for another 300 ms.
fn settled_audit_lines(daemon: &Daemon, ip: &str, n: usize) -> Vec<String> {
    let needle = format!("ip={ip},");
    let count = || {
        daemon
            .audit_lines()
            .into_iter()
            .filter(|l| l.contains(&needle))
            .collect::<Vec<_>>()
    };
    let t0 = Instant::now();
    while count().len() < n && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    count()
}

fn imap_login_from_a_listed_network_is_refused_with_the_configured_message(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    let dv = policy_dovecot(release, &daemon);

    // Client address forged with a PROXY v1 header from a trusted loopback peer.
    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(reply, imap_refusal(), "{}", context(&daemon, &dv));
    // ... and with IMAP ID x-originating-ip.
    let reply = dv.imap_login(Forge::Id(LISTED_IP), "bob", PASSWORD);
    assert_eq!(reply, imap_refusal(), "{}", context(&daemon, &dv));

    // An unlisted network logs in.
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    let reply = dv.imap_login(Forge::Id(UNLISTED_IP), "bob", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );

    // A wrong password stays a wrong password (the policy server only sees successful ones).
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP2), "alice", "wrong");
    assert!(
        reply.starts_with("a1 NO [AUTHENTICATIONFAILED]"),
        "{reply}{}",
        context(&daemon, &dv)
    );

    // The facts came from the fakes.
    assert!(
        internet.origin_queries(UNLISTED_IP) >= 1,
        "the fake DNS saw no origin query for {UNLISTED_IP}{}",
        context(&daemon, &dv)
    );
    // One audit line per login, with the looked-up facts and the block.
    let blocked = settled_audit_lines(&daemon, LISTED_IP, 2);
    assert_eq!(blocked.len(), 2, "{blocked:#?}{}", context(&daemon, &dv));
    for (line, user) in blocked.iter().zip(["alice", "bob"]) {
        assert!(
            line.starts_with(&format!(
                "mail-audit: user=<{user}>, service=imap, ip={LISTED_IP}, host=rimap26.i.mail.ru, asn=AS47764, as_cc=RU"
            )),
            "{line}"
        );
        assert!(line.contains("blocked=True, matched=ip_net"), "{line}");
    }
    let allowed = settled_audit_lines(&daemon, UNLISTED_IP, 2);
    assert_eq!(allowed.len(), 2, "{allowed:#?}{}", context(&daemon, &dv));
    for line in &allowed {
        assert!(line.contains("asn=AS15169"), "{line}");
        assert!(!line.contains("blocked=True"), "{line}");
    }
}

fn pop3_login_from_a_listed_network_is_refused_with_the_configured_message(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    let dv = policy_dovecot(release, &daemon);

    let reply = dv.pop3_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(
        reply,
        format!("-ERR [AUTH] {BLOCK_MESSAGE}"),
        "{}",
        context(&daemon, &dv)
    );
    // POP3 XCLIENT ADDR= from a trusted peer.
    let reply = dv.pop3_login(Forge::Id(LISTED_IP), "bob", PASSWORD);
    assert_eq!(
        reply,
        format!("-ERR [AUTH] {BLOCK_MESSAGE}"),
        "{}",
        context(&daemon, &dv)
    );
    let reply = dv.pop3_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(reply.starts_with("+OK"), "{reply}{}", context(&daemon, &dv));

    let blocked = settled_audit_lines(&daemon, LISTED_IP, 2);
    assert_eq!(blocked.len(), 2, "{blocked:#?}{}", context(&daemon, &dv));
    assert!(
        blocked
            .iter()
            .all(|l| l.contains("service=pop3,") && l.contains("matched=ip_net")),
        "{blocked:#?}"
    );
}

fn doveadm_auth_test_fails_with_77_for_a_listed_network(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    let dv = policy_dovecot(release, &daemon);

    let out = dv.doveadm_auth_test(LISTED_IP, "imap", "alice", PASSWORD);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(77),
        "{text}{}",
        context(&daemon, &dv)
    );
    assert!(text.contains("auth failed"), "{text}");
    assert!(text.contains(BLOCK_MESSAGE), "{text}");

    let out = dv.doveadm_auth_test(UNLISTED_IP, "imap", "alice", PASSWORD);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        context(&daemon, &dv)
    );
    assert!(text.contains("auth succeeded"), "{text}");
}

fn audit_mode_lets_everything_through_and_logs_the_would_be_block(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).mode("audit").start();
    let dv = policy_dovecot(release, &daemon);

    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    let reply = dv.pop3_login(Forge::Proxy(LISTED_IP), "bob", PASSWORD);
    assert!(reply.starts_with("+OK"), "{reply}{}", context(&daemon, &dv));
    let out = dv.doveadm_auth_test(LISTED_IP, "imap", "alice", PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", context(&daemon, &dv));

    let lines = settled_audit_lines(&daemon, LISTED_IP, 3);
    assert_eq!(lines.len(), 3, "{lines:#?}{}", context(&daemon, &dv));
    for line in &lines {
        assert!(
            line.contains("blocked=True, matched=ip_net, enforced=False"),
            "{line}"
        );
    }
}

fn a_list_edited_while_the_daemon_runs_takes_effect_and_a_broken_edit_keeps_the_old_entries(
    release: Release,
) {
    let internet = FakeInternet::start();
    let daemon = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", "# nothing listed yet\n")
        .start();
    let dv = policy_dovecot(release, &daemon);

    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );

    // The edit is picked up without a restart (debounced ~0.5 s; allow 3 s).
    daemon.write_list("ip_net.deny.lst", &format!("{LISTED_NET}\n"));
    let t0 = Instant::now();
    let mut reply = String::new();
    while t0.elapsed() < Duration::from_secs(3) {
        reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
        if !reply.starts_with("a1 OK") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        reply,
        imap_refusal(),
        "the edited list did not take effect within 3 s{}",
        context(&daemon, &dv)
    );

    // A malformed line added to the same file: the error is logged with file:line and the
    // entry that was there keeps working.
    let mark = daemon.lines().len();
    daemon.write_list(
        "ip_net.deny.lst",
        &format!("{LISTED_NET}\nthis-is-not-a-network\n"),
    );
    let error = daemon.wait_for_from(mark, Duration::from_secs(3), |l| {
        l.contains("ip_net.deny.lst:2:") && l.contains("error")
    });
    assert!(
        error.is_some(),
        "no `ip_net.deny.lst:2: error` line within 3 s{}",
        context(&daemon, &dv)
    );
    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(reply, imap_refusal(), "{}", context(&daemon, &dv));
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
}

fn sighup_reloads_the_configuration(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    let dv = policy_dovecot(release, &daemon);

    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(reply, imap_refusal(), "{}", context(&daemon, &dv));

    let config = std::fs::read_to_string(daemon.config_path()).expect("read config");
    assert!(config.contains("mode = \"enforce\""), "{config}");
    std::fs::write(
        daemon.config_path(),
        config.replace("mode = \"enforce\"", "mode = \"audit\""),
    )
    .expect("write config");
    daemon.sighup();

    let t0 = Instant::now();
    let mut reply = String::new();
    while t0.elapsed() < Duration::from_secs(3) {
        reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
        if reply.starts_with("a1 OK") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        reply.starts_with("a1 OK"),
        "mode = \"audit\" not in effect 3 s after SIGHUP: {reply}{}",
        context(&daemon, &dv)
    );
}

fn with_the_daemon_down_dovecot_lets_logins_through(release: Release) {
    // auth_policy_reject_on_fail = no: an unreachable policy server does not lock users out.
    let internet = FakeInternet::start();
    let mut daemon = listed(&internet).start();
    let dv = policy_dovecot(release, &daemon);
    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(reply, imap_refusal(), "{}", context(&daemon, &dv));

    daemon.stop();
    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    assert!(
        dv.log().contains("Policy server HTTP error"),
        "{}",
        context(&daemon, &dv)
    );
}

on_both_releases!(
    imap_login_from_a_listed_network_is_refused_with_the_configured_message,
    pop3_login_from_a_listed_network_is_refused_with_the_configured_message,
    doveadm_auth_test_fails_with_77_for_a_listed_network,
    audit_mode_lets_everything_through_and_logs_the_would_be_block,
    a_list_edited_while_the_daemon_runs_takes_effect_and_a_broken_edit_keeps_the_old_entries,
    sighup_reloads_the_configuration,
    with_the_daemon_down_dovecot_lets_logins_through,
);
