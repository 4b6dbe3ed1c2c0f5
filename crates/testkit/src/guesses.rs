//! Password guessing against a gated Dovecot: the brute-force checks the policy-server and
//! shim tests share — a thousand wrong passwords from one address cost the daemon nothing, and
//! the right password from that address is then looked up and decided.

use std::time::{Duration, Instant};

use crate::daemon::{decisions, Daemon, FakeInternet};
use crate::dovecot::{Dovecot, PASSWORD};
use crate::mail_clients::Forge;

/// How many password guesses a brute-force test makes.
pub const GUESSES: usize = 1000;

/// Dovecot's reply to a failed IMAP login.
pub const REFUSED: &str = "a1 NO [AUTHENTICATIONFAILED] Authentication failed.";

/// The last lines of the daemon's and Dovecot's logs (after a thousand logins, all of them
/// would drown the failure).
pub fn tail_context(daemon: &Daemon, dv: &Dovecot) -> String {
    format!(
        "\n--- daemon stderr (tail) ---\n{}\n--- dovecot log (tail) ---\n{}",
        crate::tail(&daemon.stderr(), 40),
        crate::tail(&dv.log(), 40)
    )
}

/// [`GUESSES`] wrong-password IMAP logins from `ip` (known users with a wrong password and
/// unknown users): every one is refused with Dovecot's plain failure, and none reaches the
/// daemon — no lookup, no audit line, no decision counted. `via` names the gate in the
/// printed timing.
pub fn guesses_cost_nothing(
    internet: &FakeInternet,
    daemon: &Daemon,
    dv: &Dovecot,
    ip: &str,
    via: &str,
) {
    let t0 = Instant::now();
    let replies = dv.imap_password_guesses(ip, GUESSES);
    eprintln!(
        "{}: {GUESSES} wrong-password IMAP logins through {via} took {:?}",
        dv.release().name(),
        t0.elapsed()
    );
    let odd: Vec<&(String, String)> = replies.iter().filter(|(_, r)| r != REFUSED).collect();
    assert!(
        odd.is_empty(),
        "{} of {GUESSES} guesses were not refused with Dovecot's plain failure, e.g. {:?}{}",
        odd.len(),
        &odd[..odd.len().min(5)],
        tail_context(daemon, dv)
    );
    // Anything in flight would have arrived by now.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        internet.origin_queries(ip),
        0,
        "password guesses were looked up{}",
        tail_context(daemon, dv)
    );
    let audit = daemon.lines_containing("mail-audit: user=<");
    let audit: Vec<&String> = audit
        .iter()
        .filter(|l| l.contains(&format!(", ip={ip},")))
        .collect();
    assert!(
        audit.is_empty(),
        "{} audit lines for guesses, e.g. {:?}",
        audit.len(),
        audit.first()
    );
    let metrics = daemon.metrics();
    assert_eq!(decisions(&metrics, &[]), 0, "{metrics}");
}

/// The right password from `ip` (an unlisted Google address of the fake internet) gets in,
/// and only now is the address looked up and one allowed login decided: so the checks of
/// [`guesses_cost_nothing`] could fail.
pub fn the_right_password_is_decided(
    internet: &FakeInternet,
    daemon: &Daemon,
    dv: &Dovecot,
    ip: &str,
) {
    let reply = dv.imap_login(Forge::Proxy(ip), "alice", PASSWORD);
    assert!(
        reply.starts_with("a1 OK"),
        "{reply}{}",
        tail_context(daemon, dv)
    );
    assert!(
        internet.origin_queries(ip) >= 1,
        "the right password was not looked up{}",
        tail_context(daemon, dv)
    );
    let line = daemon
        .wait_for(Duration::from_secs(5), |l| {
            l.contains(&format!("mail-audit: user=<alice>, service=imap, ip={ip},"))
        })
        .unwrap_or_default();
    assert!(
        line.contains("asn=AS15169") && !line.contains("blocked=True"),
        "{line:?}{}",
        tail_context(daemon, dv)
    );
    let metrics = daemon.metrics();
    assert_eq!(decisions(&metrics, &[]), 1, "{metrics}");
    assert_eq!(
        decisions(&metrics, &["service=\"imap\"", "verdict=\"allow\""]),
        1,
        "{metrics}"
    );
}

/// `badclients report --json --top 0` on the stopped daemon's history.
pub fn report_json(daemon: &Daemon) -> serde_json::Value {
    let out = daemon.report(&["--json", "--top", "0"]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    serde_json::from_str(&crate::stdout(&out))
        .unwrap_or_else(|e| panic!("report --json: {e}: {}", crate::stdout(&out)))
}

/// The users under BLOCKED USERS in a `report --json`.
pub fn blocked_users(report: &serde_json::Value) -> Vec<String> {
    report["blocked_users"]
        .as_array()
        .unwrap_or_else(|| panic!("no blocked_users: {report}"))
        .iter()
        .map(|u| u["user"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// After the guesses and the one right login: the stopped daemon's history has that one
/// allowed login, nothing blocked or unverified, and no blocked user.
pub fn report_has_one_login_and_no_blocked_user(daemon: &Daemon) {
    let report = report_json(daemon);
    let totals = &report["totals"];
    assert_eq!(totals["logins"], 1, "{report}");
    assert_eq!(totals["allowed"], 1, "{report}");
    assert_eq!(totals["blocked"], 0, "{report}");
    assert_eq!(totals["unverified"], 0, "{report}");
    assert!(blocked_users(&report).is_empty(), "{report}");
}
