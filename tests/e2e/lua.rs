//! End to end: a real Dovecot with the shipped Lua passdb shim
//! (contrib/dovecot/badclients.lua, no auth policy server configured) asking the badclients
//! daemon over HTTP (TCP and unix socket); the tests assert what the mail client sees.
//!
//! Every test that starts Dovecot runs twice: `debian12::NAME` on the host's Dovecot 2.3 and
//! `debian13::NAME` on Dovecot 2.4 in the Debian 13 root (see crates/testkit/src/release.rs).
//!
//! Needs root, the Debian packages dovecot-core, dovecot-imapd, dovecot-pop3d,
//! dovecot-auth-lua, lua-socket, lua5.4 and the Debian 13 root that scripts/test.sh builds (the
//! tests fail with a hint otherwise).

use std::time::Duration;

use testkit::daemon::{
    decisions, Daemon, DaemonConfig, FakeInternet, API_KEY, BLOCK_MESSAGE, LISTED_IP, LISTED_NET,
    UNLISTED_IP, UNLISTED_IP2,
};
use testkit::dovecot::{Dovecot, LuaPosition, PASSWORD};
use testkit::guesses::{self, blocked_users, report_json};
use testkit::mail_clients::Forge;
use testkit::release::Release;

/// Linode (the contract's third login); its DNS is made to fail.
const LINODE_IP: &str = "139.162.133.252";

use testkit::guesses::REFUSED;

fn listed(internet: &FakeInternet) -> DaemonConfig {
    DaemonConfig::new(internet).list("ip_net.deny.lst", &format!("{LISTED_NET}\n"))
}

fn context(daemon: &Daemon, dv: &Dovecot) -> String {
    format!(
        "\n--- daemon stderr ---\n{}\n--- dovecot log ---\n{}",
        daemon.stderr(),
        dv.log()
    )
}

fn doveadm_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn check_endpoint_answers_in_the_shims_format() {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    let key = Some(API_KEY);

    let a = daemon.get(
        &format!("/v1/check?user=al%20ice&service=imap&ip={LISTED_IP}"),
        key,
    );
    assert_eq!(a.status, 200, "{a:?}\n{}", daemon.stderr());
    assert!(
        a.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{a:?}"
    );
    let lines: Vec<&str> = a.body.lines().collect();
    for expected in [
        "verdict=block",
        "enforced=yes",
        "matched=ip_net",
        &format!("message={BLOCK_MESSAGE}"),
    ] {
        assert!(lines.contains(&expected), "{expected:?} not in {a:?}");
    }

    let a = daemon.get(
        &format!("/v1/check?user=alice&service=imap&ip={UNLISTED_IP}"),
        key,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let lines: Vec<&str> = a.body.lines().collect();
    assert!(lines.contains(&"verdict=allow"), "{a:?}");
    assert!(lines.contains(&"matched="), "{a:?}");

    let target = format!("/v1/check?user=alice&service=imap&ip={LISTED_IP}");
    assert_eq!(daemon.get(&target, None).status, 401, "a missing API key");
    assert_eq!(
        daemon.get(&target, Some("wrong-key")).status,
        401,
        "a wrong API key"
    );
    let a = daemon.get("/v1/check?user=alice&service=imap&ip=not-an-ip", key);
    assert!((400..500).contains(&a.status), "{a:?}");
    let a = daemon.get("/v1/check?user=alice&service=imap", key);
    assert!((400..500).contains(&a.status), "no ip: {a:?}");

    // /healthz needs no key; /metrics does.
    assert_eq!(daemon.get("/healthz", None).status, 200);
    assert_eq!(daemon.get("/metrics", None).status, 401);
    assert_eq!(daemon.get("/metrics", key).status, 200);
}

fn shim_blocks_listed_networks_with_user_disabled_and_allows_when_the_daemon_is_down(
    release: Release,
) {
    let internet = FakeInternet::start();
    let mut daemon = listed(&internet).lookup("on_error = \"tempfail\"").start();
    let dv = Dovecot::with_shim(
        release,
        &daemon,
        LuaPosition::First,
        "result_block = disabled\non_daemon_down = allow\n",
    );

    // verdict=tempfail (lookups failed, on_error = "tempfail") is a temporary failure.
    internet.fail_dns_for(LINODE_IP);
    let reply = dv.imap_login(Forge::Proxy(LINODE_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 NO [UNAVAILABLE]"),
        "{reply}{}",
        context(&daemon, &dv)
    );

    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(reply, REFUSED, "{}", context(&daemon, &dv));
    let reply = dv.imap_login(Forge::Id(LISTED_IP), "bob", PASSWORD);
    assert_eq!(reply, REFUSED, "{}", context(&daemon, &dv));
    let reply = dv.pop3_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(
        reply,
        "-ERR [AUTH] Authentication failed.",
        "{}",
        context(&daemon, &dv)
    );
    let out = dv.doveadm_auth_test(LISTED_IP, "imap", "alice", PASSWORD);
    let text = doveadm_text(&out);
    assert_eq!(
        out.status.code(),
        Some(77),
        "{text}{}",
        context(&daemon, &dv)
    );
    assert!(text.contains("code=user_disabled"), "{text}");

    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    let reply = dv.pop3_login(Forge::Id(UNLISTED_IP), "bob", PASSWORD);
    assert!(reply.starts_with("+OK"), "{reply}{}", context(&daemon, &dv));
    let out = dv.doveadm_auth_test(UNLISTED_IP, "imap", "alice", PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", doveadm_text(&out));
    // The shim is a gate, never a password check.
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP2), "alice", "wrong");
    assert_eq!(reply, REFUSED, "{}", context(&daemon, &dv));

    // The logins were decided by the daemon, with facts from the fakes.
    assert!(internet.origin_queries(UNLISTED_IP) >= 1);
    let blocked: Vec<String> = daemon
        .audit_lines()
        .into_iter()
        .filter(|l| l.contains(&format!("ip={LISTED_IP},")))
        .collect();
    assert!(
        blocked.len() >= 4 && blocked.iter().all(|l| l.contains("matched=ip_net")),
        "{blocked:#?}"
    );
    assert!(
        blocked[0].starts_with(&format!(
            "mail-audit: user=<alice>, service=imap, ip={LISTED_IP}, host=rimap26.i.mail.ru, asn=AS47764"
        )),
        "{}",
        blocked[0]
    );

    // The user name reaches the daemon intact, whatever it holds (the shim URL-encodes it).
    let odd = "o'dd &service=pop3+x%41=?/é";
    let out = dv.doveadm_auth_test(LISTED_IP, "imap", odd, PASSWORD);
    assert_eq!(out.status.code(), Some(77), "{}", doveadm_text(&out));
    let line = daemon.wait_for(Duration::from_secs(3), |l| {
        l.contains(&format!(
            "mail-audit: user=<{odd}>, service=imap, ip={LISTED_IP},"
        ))
    });
    assert!(line.is_some(), "{}", context(&daemon, &dv));

    // Daemon stopped: on_daemon_down = allow lets the listed network in.
    daemon.stop();
    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    assert!(
        dv.log().contains("on_daemon_down=allow"),
        "{}",
        context(&daemon, &dv)
    );
}

fn shim_over_a_unix_socket_with_result_block_expired_and_tempfail_when_the_daemon_is_down(
    release: Release,
) {
    let internet = FakeInternet::start();
    let mut daemon = listed(&internet).http_unix_in(release).start();
    let dv = Dovecot::with_shim(
        release,
        &daemon,
        LuaPosition::First,
        "result_block = expired\non_daemon_down = tempfail\n",
    );

    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(
        reply,
        "a1 NO [EXPIRED] Password expired",
        "{}",
        context(&daemon, &dv)
    );
    let out = dv.doveadm_auth_test(LISTED_IP, "pop3", "bob", PASSWORD);
    let text = doveadm_text(&out);
    assert_eq!(
        out.status.code(),
        Some(77),
        "{text}{}",
        context(&daemon, &dv)
    );
    assert!(text.contains("code=pass_expired"), "{text}");
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );

    // Daemon stopped: on_daemon_down = tempfail is a temporary failure, even for a good
    // network and a good password.
    daemon.stop();
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 NO [UNAVAILABLE]"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    let reply = dv.pop3_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("-ERR [SYS/TEMP]"),
        "{reply}{}",
        context(&daemon, &dv)
    );
}

fn shim_in_audit_mode_lets_the_listed_network_in_and_the_daemon_logs_the_would_be_block(
    release: Release,
) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).mode("audit").start();
    let dv = Dovecot::with_shim(
        release,
        &daemon,
        LuaPosition::First,
        "result_block = disabled\n",
    );

    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    let line = daemon
        .wait_for(Duration::from_secs(3), |l| {
            l.contains("mail-audit: ") && l.contains(&format!("ip={LISTED_IP},"))
        })
        .unwrap_or_default();
    assert!(
        line.contains("blocked=True, matched=ip_net, enforced=False"),
        "{line:?}{}",
        context(&daemon, &dv)
    );
}

fn shim_last_with_result_success_ok_after_a_continue_ok_passdb(release: Release) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet).start();
    let dv = Dovecot::with_shim(
        release,
        &daemon,
        LuaPosition::Last,
        "result_success = ok\nresult_block = disabled\nprocess_unknown = no\n",
    );

    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(reply, REFUSED, "{}", context(&daemon, &dv));
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        context(&daemon, &dv)
    );
    let reply = dv.pop3_login(Forge::Proxy(UNLISTED_IP), "bob", PASSWORD);
    assert!(reply.starts_with("+OK"), "{reply}{}", context(&daemon, &dv));
    // A wrong password is not vouched for.
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "alice", "wrong");
    assert_eq!(reply, REFUSED, "{}", context(&daemon, &dv));
    // A user no passdb knows is not even asked about (process_unknown = no).
    let reply = dv.imap_login(Forge::Proxy(UNLISTED_IP), "ghost", PASSWORD);
    assert_eq!(reply, REFUSED, "{}", context(&daemon, &dv));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !daemon.stderr().contains("user=<ghost>"),
        "the shim asked about an unknown user{}",
        context(&daemon, &dv)
    );
    assert!(
        daemon.stderr().contains("user=<bob>, service=pop3,"),
        "{}",
        context(&daemon, &dv)
    );
}

fn brute_force_through_the_shim_last_costs_no_lookup(release: Release) {
    let internet = FakeInternet::start();
    let mut daemon = listed(&internet).start();
    // The recommended setup: passwd-file (continue-ok), then the shim vouching for the login.
    let dv = Dovecot::with_shim(release, &daemon, LuaPosition::Last, "result_success = ok\n");
    guesses::guesses_cost_nothing(&internet, &daemon, &dv, UNLISTED_IP, "the shim (last)");
    guesses::the_right_password_is_decided(&internet, &daemon, &dv, UNLISTED_IP);
    daemon.stop();
    guesses::report_has_one_login_and_no_blocked_user(&daemon);
}

fn a_wrong_password_from_a_listed_network_is_never_a_blocked_user(release: Release) {
    let internet = FakeInternet::start();
    let mut daemon = listed(&internet).start();

    // The shim first asks before any passdb checked the password (verified=no).
    let dv = Dovecot::with_shim(release, &daemon, LuaPosition::First, "");
    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "bob", "wrong");
    assert_eq!(reply, REFUSED, "{}", context(&daemon, &dv));
    let audit = daemon.audit_line_for("bob", "imap", LISTED_IP);
    assert!(
        audit.ends_with("blocked=True, matched=ip_net, password_checked=False"),
        "{audit:?}{}",
        context(&daemon, &dv)
    );
    let metrics = daemon.metrics();
    let imap = "service=\"imap\"";
    assert_eq!(
        decisions(
            &metrics,
            &[imap, "verdict=\"unverified\"", "matched=\"ip_net\""]
        ),
        1,
        "{metrics}"
    );
    assert_eq!(decisions(&metrics, &["verdict=\"block\""]), 0, "{metrics}");
    drop(dv);

    daemon.stop();
    let out = daemon.report(&["--top", "0"]);
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let text = testkit::stdout(&out);
    assert!(text.contains("\nunverified 1: "), "{text}");
    assert!(text.contains("blocked 0 "), "{text}");
    assert!(text.contains("\nBLOCKED USERS\n(none)\n"), "{text}");
    let report = report_json(&daemon);
    assert_eq!(report["totals"]["unverified"], 1, "{report}");
    assert_eq!(report["totals"]["blocked"], 0, "{report}");
    assert!(blocked_users(&report).is_empty(), "{report}");

    // Last (recommended), a right password: asked once passwd-file checked it (verified=yes),
    // refused, and a blocked user.
    daemon.restart();
    let dv = Dovecot::with_shim(release, &daemon, LuaPosition::Last, "result_success = ok\n");
    let reply = dv.imap_login(Forge::Proxy(LISTED_IP), "alice", PASSWORD);
    assert_eq!(reply, REFUSED, "{}", context(&daemon, &dv));
    let audit = daemon.audit_line_for("alice", "imap", LISTED_IP);
    assert!(
        audit.ends_with("blocked=True, matched=ip_net") && !audit.contains("password_checked"),
        "{audit:?}{}",
        context(&daemon, &dv)
    );
    let metrics = daemon.metrics();
    assert_eq!(
        decisions(&metrics, &[imap, "verdict=\"block\"", "matched=\"ip_net\""]),
        1,
        "{metrics}"
    );
    assert_eq!(
        decisions(&metrics, &["verdict=\"unverified\""]),
        0,
        "{metrics}"
    );
    drop(dv);

    daemon.stop();
    let out = daemon.report(&["--top", "0"]);
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let text = testkit::stdout(&out);
    assert!(text.contains("\nunverified 1: "), "{text}");
    let report = report_json(&daemon);
    assert_eq!(report["totals"]["unverified"], 1, "{report}");
    assert_eq!(report["totals"]["blocked"], 1, "{report}");
    assert_eq!(blocked_users(&report), ["alice"], "{report}\n{text}");
    assert_eq!(report["blocked_users"][0]["blocked"], 1, "{report}");
}

fn disabled_pop3_is_refused_through_the_shim_last_and_every_line_names_its_service(
    release: Release,
) {
    let internet = FakeInternet::start();
    let daemon = listed(&internet)
        .extra("disabled_services = [\"pop3\"]")
        .start();
    let dv = Dovecot::with_shim(release, &daemon, LuaPosition::Last, "result_success = ok\n");

    let reply = dv.pop3_login(Forge::Proxy(UNLISTED_IP), "alice", PASSWORD);
    assert_eq!(
        reply,
        "-ERR [AUTH] Authentication failed.",
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
        "-ERR [AUTH] Authentication failed.",
        "{}",
        context(&daemon, &dv)
    );

    let pop3 = daemon.audit_line_for("bob", "pop3", UNLISTED_IP);
    assert!(
        pop3.contains("blocked=True, matched=service") && !pop3.contains("password_checked"),
        "{pop3:?}{}",
        context(&daemon, &dv)
    );
    let lines = daemon.audit_lines();
    let services = testkit::daemon::audit_services(&lines);
    assert_eq!(services, ["pop3", "imap", "pop3"], "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "mail-audit: user=<alice>, service=pop3, ip={UNLISTED_IP},"
        )) && lines[0].contains("blocked=True, matched=service"),
        "{lines:#?}"
    );
    assert!(!lines[1].contains("blocked=True"), "{lines:#?}");
}

/// Runs the shim's `script_init()` outside Dovecot (lua5.4 with a stub `dovecot` table) on a
/// settings file; returns what it printed.
fn script_init_outside_dovecot(file_text: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dovecot-lua.conf");
    if let Some(text) = file_text {
        std::fs::write(&path, text).expect("write settings");
    }
    let check = testkit::repo().join("tests/e2e/lua/settings_check.lua");
    let out = std::process::Command::new("lua5.4")
        .arg(&check)
        .arg(testkit::dovecot::shim_path())
        .env("BADCLIENTS_LUA_CONFIG", &path)
        .output()
        .expect("run lua5.4 (apt-get install lua5.4 lua-socket; scripts/test.sh does this)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn shim_settings_file_takes_comments_quotes_and_the_older_tools_ini() {
    testkit::dovecot::require_lua(Release::Debian12);
    let out = script_init_outside_dovecot(Some(
        "[general]\n\
         ; the older tool's INI keeps working\n\
         daemon = http://127.0.0.1:8670/      # or unix:/run/badclients/http.sock\n\
         api_key = \"k#1 x\"  ; quoted\n\
         timeout = 2   # seconds\n\
         result_block = Expired\n\
         result_success = ok\n\
         process_unknown = true\n\
         on_daemon_down = tempfail\n\
         list_path = /etc/dovecot/lists\n\
         result_block = sometimes\n\
         not a setting\n",
    ));
    for expected in [
        "script_init=0",
        "daemon=http://127.0.0.1:8670\n",
        "api_key=k#1 x\n",
        "timeout=2\n",
        "result_block=expired\n",
        "result_success=ok\n",
        "process_unknown=true\n",
        "on_daemon_down=tempfail\n",
        "dovecot-lua.conf:10: unknown setting list_path",
        "dovecot-lua.conf:11: result_block must be disabled, expired or missmatch, got sometimes",
        "dovecot-lua.conf:12: not a `key = value` line",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    // The API key is never logged.
    assert!(
        !out.lines()
            .any(|l| l.starts_with("info") && l.contains("k#1")),
        "{out}"
    );
}

#[test]
fn shim_refuses_to_start_when_its_settings_file_is_missing() {
    testkit::dovecot::require_lua(Release::Debian12);
    let out = script_init_outside_dovecot(None);
    assert!(out.contains("script_init=-1"), "{out}");
    assert!(
        out.contains("error badclients.lua: cannot read BADCLIENTS_LUA_CONFIG"),
        "{out}"
    );
}

/// The settings file `badclients config import-ini` writes from the older tool's INI is one
/// the shim takes as it is: no warning, the values in effect.
#[test]
fn shim_takes_the_settings_file_that_import_ini_writes() {
    testkit::dovecot::require_lua(Release::Debian12);
    let dir = tempfile::tempdir().expect("tempdir");
    let ini = dir.path().join("bad_clients.conf.ext");
    std::fs::write(
        &ini,
        "[general]\nlist_path = /etc/dovecot/lists\nresult_success = unknown\n\
         result_block = Expired\nprocess_unknown = true\n",
    )
    .expect("write ini");
    let settings = dir.path().join("dovecot-lua.conf");
    let out = testkit::badclients(
        &[
            "config",
            "import-ini",
            ini.to_str().unwrap(),
            "--shim-settings",
            settings.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = std::fs::read_to_string(&settings).expect("read the shim settings");
    let out = script_init_outside_dovecot(Some(&text));
    for expected in [
        "script_init=0",
        "result_success=unknown\n",
        "result_block=expired\n",
        "process_unknown=true\n",
        "daemon=http://127.0.0.1:8670\n",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}\n{text}");
    }
    assert!(
        !out.lines().any(|l| l.starts_with("warning")),
        "{out}\n{text}"
    );
}

testkit::on_both_releases!(
    shim_blocks_listed_networks_with_user_disabled_and_allows_when_the_daemon_is_down,
    shim_over_a_unix_socket_with_result_block_expired_and_tempfail_when_the_daemon_is_down,
    shim_in_audit_mode_lets_the_listed_network_in_and_the_daemon_logs_the_would_be_block,
    shim_last_with_result_success_ok_after_a_continue_ok_passdb,
    brute_force_through_the_shim_last_costs_no_lookup,
    a_wrong_password_from_a_listed_network_is_never_a_blocked_user,
    disabled_pop3_is_refused_through_the_shim_last_and_every_line_names_its_service,
);
