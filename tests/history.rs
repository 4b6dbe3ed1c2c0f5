//! The decision history end to end: the daemon records every decision it answers (also
//! across `kill -9`), and `badclients report` / `suggest` read it — directly, or through
//! the daemon while it holds the file.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badclients::history::store::HistoryStore;
use badclients::history::{Filter, Outcome};
use common::daemon::{parse_http, DaemonConfig, FakeInternet, API_KEY, LISTED_IP, UNLISTED_IP};

fn login(port: u16, user: &str, ip: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let body = format!(
        r#"{{"login":"{user}","user":"{user}","protocol":"imap","remote":"{ip}","local":"127.0.0.1","pwhash":"0cd2"}}"#
    );
    let req = format!(
        "POST /?command=allow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    if raw.is_empty() {
        return None;
    }
    let answer = parse_http(&raw);
    Some(answer.status)
}

/// Users → records in the history file (the daemon must not be running).
fn stored_users(path: &std::path::Path) -> HashMap<String, Vec<Outcome>> {
    let (store, _) = HistoryStore::open(path).expect("open the history");
    let mut users: HashMap<String, Vec<Outcome>> = HashMap::new();
    store
        .scan(
            &Filter::default(),
            &mut |row: &badclients::history::codec::Row,
                  s: &badclients::history::codec::Strings| {
                users
                    .entry(s.get(row.user).to_string())
                    .or_default()
                    .push(row.outcome());
            },
        )
        .expect("scan the history");
    users
}

#[test]
fn every_answered_decision_survives_kill_9() {
    let internet = FakeInternet::start();
    // Nothing is committed in batches during the test: whatever is in the history after the
    // crash came through the journal.
    let mut daemon = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .history("flush_ms = 600000\nbatch_max = 1000000")
        .start();
    let port = daemon.http_port();
    assert_eq!(login(port, "warmup", UNLISTED_IP), Some(200));

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let acked = Arc::clone(&acked);
            let running = Arc::clone(&running);
            std::thread::spawn(move || {
                let mut i = 0;
                while running.load(Ordering::Relaxed) {
                    let user = format!("burst-{t}-{i}");
                    let ip = if i % 5 == 0 { LISTED_IP } else { UNLISTED_IP };
                    // Only an answered login counts as acknowledged.
                    if login(port, &user, ip) == Some(200) {
                        acked.lock().unwrap().push(user);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    daemon.kill_hard();
    running.store(false, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "only {} logins answered before the kill",
        acked.len()
    );

    daemon.restart();
    let replayed = daemon
        .wait_for(Duration::from_secs(5), |l| l.contains("replayed"))
        .unwrap_or_default();
    assert!(
        replayed.contains("history: replayed"),
        "{}",
        daemon.stderr()
    );
    daemon.stop();

    let stored = stored_users(&daemon.dir().join("history.redb"));
    let missing: Vec<&String> = acked.iter().filter(|u| !stored.contains_key(*u)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered decisions are not in the history: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    for user in &acked {
        assert_eq!(
            stored[user].len(),
            1,
            "{user} recorded {} times",
            stored[user].len()
        );
    }
    // Blocked logins are recorded as such.
    assert_eq!(stored["burst-0-0"], [Outcome::Blocked]);
    assert_eq!(stored["burst-0-1"], [Outcome::Allowed]);
}

#[test]
fn report_and_suggest_ask_the_daemon_that_holds_the_history() {
    let internet = FakeInternet::start();
    let daemon = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .start();
    let port = daemon.http_port();
    for user in ["ann", "ben", "cat"] {
        assert_eq!(login(port, user, LISTED_IP), Some(200));
        assert_eq!(login(port, user, UNLISTED_IP), Some(200));
    }
    let config = daemon.config_path().to_str().unwrap().to_string();
    let mut text = String::new();
    for _ in 0..100 {
        let out = common::badclients(&["report", "--config", &config, "--top", "0"], daemon.dir());
        assert!(out.status.success(), "{}", common::stderr(&out));
        text = common::stdout(&out);
        if text.contains("logins 6 ") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        text.contains("logins 6  users 3  allowed 3  blocked 3"),
        "{text}"
    );
    assert!(text.contains("ann   "), "{text}");
    assert!(text.contains("AS47764"), "{text}");

    let out = common::badclients(
        &["report", "--config", &config, "--user", "BEN", "--json"],
        daemon.dir(),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(json["totals"]["logins"], 2, "{json}");
    assert_eq!(json["blocked_users"][0]["user"], "ben", "{json}");
    assert_eq!(
        json["blocked_users"][0]["matched"][0][0], "ip_net",
        "{json}"
    );

    // Without the API key the daemon refuses.
    let answer = daemon.get("/v1/history/report", None);
    assert_eq!(answer.status, 401);

    let out = common::badclients(
        &["suggest", "--config", &config, "--min-users", "3"],
        daemon.dir(),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    assert!(text.starts_with("# badclients suggest"), "{text}");
    // AS47764 is caught by ip_net already; Google's AS15169 has 3 users and "GOOGLE" in its
    // description, and mail-…google.com hosts.
    assert!(!text.contains("\nAS47764\n"), "{text}");
    assert!(text.contains("\nAS15169\n"), "{text}");
}
