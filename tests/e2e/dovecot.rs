//! End to end: a real Dovecot asks the badclients daemon as its auth policy server
//! (`auth_policy_server_url`, the settings of docs/dovecot.md); the tests assert what the mail
//! client sees. The daemon's lookups go to testworld's fake DNS and RDAP on 127.0.0.1.
//!
//! Every test runs twice: `debian12::NAME` on the host's Dovecot 2.3 and `debian13::NAME` on
//! Dovecot 2.4 in the Debian 13 root (see crates/testkit/src/release.rs).
//!
//! Needs root, the Debian packages dovecot-core, dovecot-imapd, dovecot-pop3d and the Debian 13
//! root that scripts/test.sh builds (the tests fail with a hint otherwise).

use std::time::{Duration, Instant};

use testkit::daemon::{
    Daemon, DaemonConfig, FakeInternet, API_KEY, BLOCK_MESSAGE, LISTED_IP, LISTED_NET, UNLISTED_IP,
    UNLISTED_IP2,
};
use testkit::dovecot::{Dovecot, Gate, PASSWORD};
use testkit::guesses::{self, GUESSES};
use testkit::mail_clients::Forge;
use testkit::release::Release;

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

/// The `mail-audit-report:` lines (from there on) naming `ip`.
fn report_lines(daemon: &Daemon, ip: &str) -> Vec<String> {
    daemon
        .lines_containing(&format!(", ip={ip}, result="))
        .into_iter()
        .filter_map(|l| l.find("mail-audit-report: ").map(|i| l[i..].to_string()))
        .collect()
}

/// The first report line for `user` from `ip` (waits up to 10 s for it).
fn report_line(daemon: &Daemon, user: &str, ip: &str) -> String {
    let needle = format!("mail-audit-report: user=<{user}>, service=imap, ip={ip}, result=");
    daemon
        .wait_for(Duration::from_secs(10), |l| l.contains(&needle))
        .map(|l| l[l.find("mail-audit-report: ").unwrap_or(0)..].to_string())
        .unwrap_or_else(|| {
            panic!(
                "no {needle:?} line; {} report lines for {ip}{}",
                report_lines(daemon, ip).len(),
                testkit::tail(&daemon.stderr(), 40)
            )
        })
}

fn brute_force_through_the_policy_server_costs_no_lookup(release: Release) {
    let internet = FakeInternet::start();
    let mut daemon = listed(&internet).start();
    let dv = policy_dovecot(release, &daemon);

    guesses::guesses_cost_nothing(&internet, &daemon, &dv, UNLISTED_IP, "the policy server");

    // Dovecot reports every failure (auth_policy_report_after_auth); a few are checked.
    let wrong_password = match release {
        Release::Debian12 => "failure",
        Release::Debian13 => "credentials",
    };
    for user in ["alice", "bob"] {
        let line = report_line(&daemon, user, UNLISTED_IP);
        assert_eq!(
            line,
            format!(
                "mail-audit-report: user=<{user}>, service=imap, ip={UNLISTED_IP}, result={wrong_password}"
            ),
            "{}",
            guesses::tail_context(&daemon, &dv)
        );
    }
    // An unknown user: `account` on 2.4.
    let unknown = match release {
        Release::Debian12 => "failure",
        Release::Debian13 => "account",
    };
    for user in ["ghost2", "nobody3"] {
        let line = report_line(&daemon, user, UNLISTED_IP);
        assert_eq!(
            line,
            format!(
                "mail-audit-report: user=<{user}>, service=imap, ip={UNLISTED_IP}, result={unknown}"
            ),
            "{}",
            guesses::tail_context(&daemon, &dv)
        );
    }
    // Let the last reports arrive, then: no report of a guess says it passed.
    let t0 = Instant::now();
    while report_lines(&daemon, UNLISTED_IP).len() < GUESSES
        && t0.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let reports = report_lines(&daemon, UNLISTED_IP);
    eprintln!(
        "{}: {} report lines for {GUESSES} guesses",
        release.name(),
        reports.len()
    );
    let passed: Vec<&String> = reports
        .iter()
        .filter(|l| l.ends_with("result=success") || l.ends_with("result=policy_reject"))
        .collect();
    assert!(passed.is_empty(), "{:?}", &passed[..passed.len().min(5)]);

    guesses::the_right_password_is_decided(&internet, &daemon, &dv, UNLISTED_IP);
    let success =
        format!("mail-audit-report: user=<alice>, service=imap, ip={UNLISTED_IP}, result=success");
    assert!(
        daemon
            .wait_for(Duration::from_secs(10), |l| l.ends_with(&success))
            .is_some(),
        "no {success:?}{}",
        guesses::tail_context(&daemon, &dv)
    );
    daemon.stop();
    guesses::report_has_one_login_and_no_blocked_user(&daemon);
}

fn disabled_pop3_is_refused_through_the_policy_server_and_every_line_names_its_service(
    release: Release,
) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet)
        .extra("disabled_services = [\"pop3\"]")
        .start();
    let dv = policy_dovecot(release, &daemon);

    let reply = dv.pop3_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert_eq!(
        reply,
        format!("-ERR [AUTH] {BLOCK_MESSAGE}"),
        "{}",
        context(&daemon, &dv)
    );
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    let reply = dv.pop3_login(Forge::Id(UNLISTED_IP), "bob", PASSWORD);
    assert_eq!(
        reply,
        format!("-ERR [AUTH] {BLOCK_MESSAGE}"),
        "{}",
        context(&daemon, &dv)
    );

    let lines = settled_audit_lines(&daemon, UNLISTED_IP, 3);
    let services = testkit::daemon::audit_services(&lines);
    assert_eq!(
        services,
        ["pop3", "imap", "pop3"],
        "{lines:#?}{}",
        context(&daemon, &dv)
    );
    for (line, user) in lines.iter().zip(["alice", "alice", "bob"]) {
        assert!(
            line.starts_with(&format!("mail-audit: user=<{user}>, service=")),
            "{line}"
        );
    }
    assert!(
        lines[0].contains("blocked=True, matched=service")
            && lines[2].contains("blocked=True, matched=service")
            && !lines[1].contains("blocked=True"),
        "{lines:#?}"
    );
    // The reports name the service too.
    let last = "mail-audit-report: user=<bob>, service=pop3, ";
    assert!(
        daemon
            .wait_for(Duration::from_secs(10), |l| l.contains(last))
            .is_some(),
        "no {last:?}{}",
        context(&daemon, &dv)
    );
    let reports: Vec<String> = daemon.lines_containing("mail-audit-report: ");
    assert!(
        reports.iter().any(|l| l.contains("service=imap, "))
            && reports.iter().any(|l| l.contains("service=pop3, "))
            && !reports.iter().any(|l| l.contains("service=, ")),
        "{reports:#?}"
    );
}

/// Dovecot's own default `auth_policy_request_attributes` (2.3: login, pwhash, remote,
/// device_id, protocol; 2.4 adds session_id and fail_type) work without the documented
/// block: the user comes from `login`, and on 2.4 the report says why a login failed.
fn the_releases_default_request_attributes_work_unchanged(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    let config = format!(
        "auth_policy_server_url = {}/\n\
         auth_policy_server_api_header = X-API-Key: {API_KEY}\n\
         auth_policy_hash_nonce = defaults-nonce\n\
         auth_policy_check_before_auth = no\n\
         auth_policy_check_after_auth = yes\n\
         auth_policy_report_after_auth = yes\n",
        daemon.http_url()
    );
    assert!(!config.contains("request_attributes"));
    let dv = Dovecot::start(
        release,
        Gate::Documented {
            config,
            settings: String::new(),
        },
    );
    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(reply, imap_refusal(), "{}", context(&daemon, &dv));
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "bob", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "bob", "wrong");
    assert!(
        reply.starts_with("a1 NO [AUTHENTICATIONFAILED]"),
        "{reply}{}",
        context(&daemon, &dv)
    );

    let blocked = settled_audit_lines(&daemon, LISTED_IP, 1);
    assert_eq!(blocked.len(), 1, "{blocked:#?}{}", context(&daemon, &dv));
    assert!(
        blocked[0].starts_with(&format!(
            "mail-audit: user=<alice>, service=imap, ip={LISTED_IP}, "
        )) && blocked[0].contains("blocked=True, matched=ip_net"),
        "{blocked:#?}"
    );
    let allowed = settled_audit_lines(&daemon, UNLISTED_IP, 1);
    assert_eq!(allowed.len(), 1, "{allowed:#?}{}", context(&daemon, &dv));
    assert!(
        allowed[0].starts_with(&format!(
            "mail-audit: user=<bob>, service=imap, ip={UNLISTED_IP}, "
        )),
        "{allowed:#?}"
    );
    let wrong_password = match release {
        Release::Debian12 => "failure",
        Release::Debian13 => "credentials",
    };
    for (user, ip, result) in [
        ("alice", LISTED_IP, "policy_reject"),
        ("bob", UNLISTED_IP, "success"),
        ("bob", UNLISTED_IP, wrong_password),
    ] {
        let want =
            format!("mail-audit-report: user=<{user}>, service=imap, ip={ip}, result={result}");
        assert!(
            daemon
                .wait_for(Duration::from_secs(10), |l| l.ends_with(&want))
                .is_some(),
            "no {want:?}{}",
            context(&daemon, &dv)
        );
    }
}

testkit::on_both_releases!(
    imap_login_from_a_listed_network_is_refused_with_the_configured_message,
    pop3_login_from_a_listed_network_is_refused_with_the_configured_message,
    doveadm_auth_test_fails_with_77_for_a_listed_network,
    audit_mode_lets_everything_through_and_logs_the_would_be_block,
    a_list_edited_while_the_daemon_runs_takes_effect_and_a_broken_edit_keeps_the_old_entries,
    sighup_reloads_the_configuration,
    with_the_daemon_down_dovecot_lets_logins_through,
    brute_force_through_the_policy_server_costs_no_lookup,
    disabled_pop3_is_refused_through_the_policy_server_and_every_line_names_its_service,
    the_releases_default_request_attributes_work_unchanged,
);
