//! End to end through a real Postfix: SMTP AUTH goes through Dovecot SASL to the
//! badclients auth-policy endpoint, and badclients as Postfix policy service
//! (`check_policy_service inet:127.0.0.1:PORT`) refuses authenticated sessions from listed
//! networks at RCPT TO. The client address is forged with Postfix XCLIENT ADDR=; the tests
//! assert the SMTP replies the client sees.
//!
//! Every test that starts Postfix runs twice: `debian12::NAME` on the host's Postfix 3.7 and
//! Dovecot 2.3, and `debian13::NAME` on Postfix 3.10 and Dovecot 2.4 in the Debian 13 root (see
//! crates/testkit/src/release.rs).
//!
//! Needs root, the Debian packages postfix, dovecot-core and the Debian 13 root that
//! scripts/test.sh builds (the tests fail with a hint otherwise).

use testkit::daemon::{
    Daemon, DaemonConfig, FakeInternet, API_KEY, BLOCK_MESSAGE, LISTED_IP, LISTED_NET, UNLISTED_IP,
    UNLISTED_IP2,
};
use testkit::dovecot::{Dovecot, Gate, LuaPosition, PASSWORD};
use testkit::mail_clients::{base64, Forge};
use testkit::postfix::Postfix;
use testkit::release::Release;

fn context(daemon: &Daemon, dv: &Dovecot, pf: &Postfix) -> String {
    format!(
        "\n--- daemon stderr ---\n{}\n--- dovecot log ---\n{}\n--- postfix log ---\n{}",
        daemon.stderr(),
        dv.log(),
        pf.log()
    )
}

fn listed(internet: &FakeInternet) -> DaemonConfig {
    DaemonConfig::new(internet).list("ip_net.deny.lst", &format!("{LISTED_NET}\n"))
}

fn policy_gate(daemon: &Daemon) -> Gate {
    Gate::Policy {
        url: format!("{}/", daemon.http_url()),
        api_key: API_KEY.into(),
    }
}

#[test]
fn auth_plain_is_base64() {
    assert_eq!(base64(b"\0alice\0secret"), "AGFsaWNlAHNlY3JldA==");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fooba"), "Zm9vYmE=");
}

fn smtp_auth_from_a_listed_network_is_refused_through_dovecot_sasl(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    // Dovecot before Postfix; Postfix is dropped first (declared last).
    let dv = Dovecot::start(release, policy_gate(&daemon));
    let pf = Postfix::start(release, dv.auth_port, None);

    let (s, reply) = pf.auth_from(LISTED_IP, "alice", PASSWORD);
    assert_eq!(
        reply.code,
        535,
        "{}\n{}{}",
        reply.text(),
        s.transcript(),
        context(&daemon, &dv, &pf)
    );
    assert!(
        reply.text().starts_with("535 5.7.8 ") && reply.text().contains(BLOCK_MESSAGE),
        "{}{}",
        reply.text(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let (mut s, reply) = pf.auth_from(UNLISTED_IP2, "alice", PASSWORD);
    assert_eq!(
        reply.code,
        235,
        "{}{}",
        reply.text(),
        context(&daemon, &dv, &pf)
    );
    let rcpt = s.mail_rcpt("alice@e2e.test", "someone@example.org");
    assert_eq!(
        rcpt.code,
        250,
        "{}{}",
        rcpt.text(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let line = daemon
        .wait_for(std::time::Duration::from_secs(3), |l| {
            l.contains("mail-audit: ") && l.contains(&format!("ip={LISTED_IP},"))
        })
        .unwrap_or_default();
    assert!(
        line.contains("service=smtp,") && line.contains("blocked=True, matched=ip_net"),
        "{line:?}{}",
        context(&daemon, &dv, &pf)
    );
    assert!(internet.origin_queries(UNLISTED_IP2) >= 1);
}

fn policy_service_rejects_an_authenticated_session_from_a_listed_network_at_rcpt(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).postfix().start();
    // Dovecot only authenticates (no policy server): SMTP AUTH succeeds everywhere.
    let dv = Dovecot::start(release, Gate::None);
    let pf = Postfix::start(release, dv.auth_port, Some(daemon.postfix_addr()));

    let (mut s, auth) = pf.auth_from(LISTED_IP, "alice", PASSWORD);
    assert_eq!(
        auth.code,
        235,
        "{}{}",
        auth.text(),
        context(&daemon, &dv, &pf)
    );
    let rcpt = s.mail_rcpt("alice@e2e.test", "someone@example.org");
    assert!(
        (500..600).contains(&rcpt.code) && rcpt.text().contains("Recipient address rejected"),
        "RCPT from a listed network after AUTH: {}\n{}{}",
        rcpt.text(),
        s.transcript(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let (mut s, auth) = pf.auth_from(UNLISTED_IP2, "bob", PASSWORD);
    assert_eq!(auth.code, 235, "{}", auth.text());
    let rcpt = s.mail_rcpt("bob@e2e.test", "someone@example.org");
    assert_eq!(
        rcpt.code,
        250,
        "{}{}",
        rcpt.text(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let line = daemon
        .wait_for(std::time::Duration::from_secs(3), |l| {
            l.contains("mail-audit: ") && l.contains(&format!("ip={LISTED_IP},"))
        })
        .unwrap_or_default();
    assert!(
        line.contains("user=<alice>, service=smtp,")
            && line.contains("blocked=True, matched=ip_net"),
        "{line:?}{}",
        context(&daemon, &dv, &pf)
    );

    // With the daemon down, `default_action=DUNNO` lets the mail through.
    let mut daemon = daemon;
    daemon.stop();
    let (mut s, auth) = pf.auth_from(LISTED_IP, "alice", PASSWORD);
    assert_eq!(auth.code, 235, "{}", auth.text());
    let rcpt = s.mail_rcpt("alice@e2e.test", "someone@example.org");
    assert_eq!(
        rcpt.code,
        250,
        "{}{}",
        rcpt.text(),
        context(&daemon, &dv, &pf)
    );
    s.quit();
    assert!(
        pf.log().contains("problem talking to server"),
        "{}",
        context(&daemon, &dv, &pf)
    );
}

fn smtp_auth_through_the_lua_shim_is_refused_for_a_listed_network(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    let dv = Dovecot::with_shim(
        release,
        &daemon,
        LuaPosition::First,
        "result_block = disabled\n",
    );
    let pf = Postfix::start(release, dv.auth_port, None);

    let (s, reply) = pf.auth_from(LISTED_IP, "alice", PASSWORD);
    // Dovecot does not pass a passdb's reason on: Postfix says "(reason unavailable)".
    assert!(
        reply
            .text()
            .starts_with("535 5.7.8 Error: authentication failed"),
        "{}{}",
        reply.text(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let (s, reply) = pf.auth_from(UNLISTED_IP2, "bob", PASSWORD);
    assert_eq!(
        reply.code,
        235,
        "{}{}",
        reply.text(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let line = daemon
        .wait_for(std::time::Duration::from_secs(3), |l| {
            l.contains("mail-audit: ") && l.contains(&format!("ip={LISTED_IP},"))
        })
        .unwrap_or_default();
    assert!(
        line.contains("user=<alice>, service=smtp,")
            && line.contains("blocked=True, matched=ip_net"),
        "{line:?}{}",
        context(&daemon, &dv, &pf)
    );
}

fn smtp_in_audit_mode_passes_while_imap_stays_enforced(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet)
        .service_mode("smtp", "audit")
        .postfix()
        .start();
    let dv = Dovecot::start(release, policy_gate(&daemon));
    let pf = Postfix::start(release, dv.auth_port, Some(daemon.postfix_addr()));

    let (mut s, auth) = pf.auth_from(LISTED_IP, "alice", PASSWORD);
    assert_eq!(
        auth.code,
        235,
        "{}{}",
        auth.text(),
        context(&daemon, &dv, &pf)
    );
    let rcpt = s.mail_rcpt("alice@e2e.test", "someone@example.org");
    assert_eq!(
        rcpt.code,
        250,
        "{}{}",
        rcpt.text(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(
        reply,
        format!("a1 NO [ALERT] {BLOCK_MESSAGE}"),
        "{}",
        context(&daemon, &dv, &pf)
    );

    let line = daemon
        .wait_for(std::time::Duration::from_secs(3), |l| {
            l.contains("mail-audit: ") && l.contains("service=smtp,")
        })
        .unwrap_or_default();
    assert!(
        line.contains("blocked=True, matched=ip_net, enforced=False"),
        "{line:?}{}",
        context(&daemon, &dv, &pf)
    );
}

fn smtp_auth_through_the_shim_last_names_service_smtp_and_a_disabled_pop3_leaves_it_alone(
    release: Release,
) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet)
        .extra("disabled_services = [\"pop3\"]")
        .start();
    // The recommended shim setup: passwd-file (continue-ok), then the shim (result_success = ok).
    let dv = Dovecot::with_shim(release, &daemon, LuaPosition::Last, "result_success = ok\n");
    let pf = Postfix::start(release, dv.auth_port, None);

    let (s, reply) = pf.auth_from(UNLISTED_IP, "alice", PASSWORD);
    assert_eq!(
        reply.code,
        235,
        "{}\n{}{}",
        reply.text(),
        s.transcript(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let (s, reply) = pf.auth_from(LISTED_IP, "bob", PASSWORD);
    assert_eq!(
        reply.code,
        535,
        "{}\n{}{}",
        reply.text(),
        s.transcript(),
        context(&daemon, &dv, &pf)
    );
    s.quit();

    let allowed = daemon
        .wait_for(std::time::Duration::from_secs(5), |l| {
            l.contains(&format!(
                "mail-audit: user=<alice>, service=smtp, ip={UNLISTED_IP},"
            ))
        })
        .unwrap_or_default();
    assert!(
        !allowed.is_empty() && !allowed.contains("blocked=True"),
        "{allowed:?}{}",
        context(&daemon, &dv, &pf)
    );
    let blocked = daemon
        .wait_for(std::time::Duration::from_secs(5), |l| {
            l.contains(&format!(
                "mail-audit: user=<bob>, service=smtp, ip={LISTED_IP},"
            ))
        })
        .unwrap_or_default();
    assert!(
        blocked.contains("blocked=True, matched=ip_net") && !blocked.contains("password_checked"),
        "{blocked:?}{}",
        context(&daemon, &dv, &pf)
    );
    let lines = daemon.audit_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines.iter().all(|l| l.contains(", service=smtp, ")),
        "{lines:#?}"
    );
}

testkit::on_both_releases!(
    smtp_auth_from_a_listed_network_is_refused_through_dovecot_sasl,
    policy_service_rejects_an_authenticated_session_from_a_listed_network_at_rcpt,
    smtp_auth_through_the_lua_shim_is_refused_for_a_listed_network,
    smtp_in_audit_mode_passes_while_imap_stays_enforced,
    smtp_auth_through_the_shim_last_names_service_smtp_and_a_disabled_pop3_leaves_it_alone,
);
