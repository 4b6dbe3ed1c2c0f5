//! The decision history end to end: the daemon records every decision it answers (also
//! across `kill -9`), and `badclients report` / `suggest` read it — directly, or through
//! the daemon while it holds the file.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badclients::history::store::HistoryStore;
use badclients::history::{Filter, Outcome};
use testkit::daemon::{
    parse_http, policy_login, DaemonConfig, FakeInternet, API_KEY, LISTED_IP, UNLISTED_IP,
};

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

/// Unmounts a file system the test mounted, lazily, when dropped (also when the test fails).
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
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
    assert_eq!(policy_login(port, "warmup", UNLISTED_IP), Some(200));

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
                    if policy_login(port, &user, ip) == Some(200) {
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
        assert_eq!(policy_login(port, user, LISTED_IP), Some(200));
        assert_eq!(policy_login(port, user, UNLISTED_IP), Some(200));
    }
    let config = daemon.config_path().to_str().unwrap().to_string();
    let mut text = String::new();
    for _ in 0..100 {
        let out = testkit::badclients(&["report", "--config", &config, "--top", "0"], daemon.dir());
        assert!(out.status.success(), "{}", testkit::stderr(&out));
        text = testkit::stdout(&out);
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

    let out = testkit::badclients(
        &["report", "--config", &config, "--user", "BEN", "--json"],
        daemon.dir(),
    );
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&testkit::stdout(&out)).unwrap();
    assert_eq!(json["totals"]["logins"], 2, "{json}");
    assert_eq!(json["blocked_users"][0]["user"], "ben", "{json}");
    assert_eq!(
        json["blocked_users"][0]["matched"][0][0], "ip_net",
        "{json}"
    );

    // The daemon's statuses use suggest's hosting evidence and say why.
    let out = testkit::badclients(
        &["report", "--config", &config, "--top", "0", "--json"],
        daemon.dir(),
    );
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&testkit::stdout(&out)).unwrap();
    let google = json["asns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["asn"] == 15169)
        .unwrap_or_else(|| panic!("no AS15169: {json}"));
    assert_eq!(google["status"], "candidate", "{json}");
    assert!(
        google["why"]
            .as_str()
            .unwrap()
            .contains("hosting AS name (GOOGLE)"),
        "{json}"
    );

    // Without the API key the daemon refuses.
    let answer = daemon.get("/v1/history/report", None);
    assert_eq!(answer.status, 401);

    let out = testkit::badclients(
        &["suggest", "--config", &config, "--min-users", "3"],
        daemon.dir(),
    );
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let text = testkit::stdout(&out);
    assert!(text.starts_with("# badclients suggest"), "{text}");
    // AS47764 is caught by ip_net already; Google's AS15169 has 3 users and "GOOGLE" in its
    // description, and mail-…google.com hosts.
    assert!(!text.contains("\nAS47764\n"), "{text}");
    assert!(text.contains("\nAS15169\n"), "{text}");
}

/// A Dovecot policy request; the answer's body.
fn login_answer(port: u16, user: &str, ip: &str) -> String {
    use std::io::{Read, Write};
    let body = format!(
        r#"{{"login":"{user}","user":"{user}","protocol":"imap","remote":"{ip}","local":"127.0.0.1","pwhash":"0cd2"}}"#
    );
    let req = format!(
        "POST /?command=allow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    parse_http(&raw).body
}

fn zero_256(path: &std::path::Path, offset: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[0u8; 256]).unwrap();
}

fn moved_aside(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("history.redb.corrupt-")
        })
        .count()
}

#[test]
fn a_damaged_history_is_moved_aside_and_the_daemon_serves_correct_verdicts() {
    let internet = FakeInternet::start();
    let mut daemon = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .start();
    let path = daemon.dir().join("history.redb");
    let config = daemon.config_path().to_str().unwrap().to_string();
    let mut damaged = 0;
    for (round, offset) in [8192u64, 65536, 4096, 16384].into_iter().enumerate() {
        let port = daemon.http_port();
        for i in 0..50 {
            assert_eq!(
                policy_login(port, &format!("r{round}-{i}"), UNLISTED_IP),
                Some(200)
            );
        }
        daemon.stop();
        zero_256(&path, offset);
        let before = moved_aside(daemon.dir());
        // `report` reads the file directly (the daemon is stopped): it must not panic.
        let out = testkit::badclients(&["report", "--config", &config], daemon.dir());
        assert_ne!(
            out.status.code(),
            Some(101),
            "offset {offset}: {}",
            testkit::stderr(&out)
        );
        assert!(
            out.status.success(),
            "offset {offset}: {}",
            testkit::stderr(&out)
        );
        // Report moved the damaged file aside (or found the damage harmless); either way
        // the daemon starts and answers.
        zero_256(&path, offset);
        let seen = daemon.lines().len();
        daemon.restart();
        let port = daemon.http_port();
        assert!(
            login_answer(port, "blocked-user", LISTED_IP).contains("-1"),
            "offset {offset}: a listed IP must be refused"
        );
        assert!(
            !login_answer(port, "allowed-user", UNLISTED_IP).contains("-1"),
            "offset {offset}"
        );
        // Zeros on live pages are damage, moved aside with a warning; on free space they
        // are harmless (which pages are live depends on the batches).
        let said = testkit::stderr(&out).contains("is damaged")
            || daemon.lines()[seen..]
                .iter()
                .any(|l| l.contains("is damaged"));
        assert_eq!(
            said,
            moved_aside(daemon.dir()) > before,
            "offset {offset}; {}",
            daemon.stderr()
        );
        damaged += usize::from(said);
        assert!(
            !daemon.stderr().contains("panicked at"),
            "{}",
            daemon.stderr()
        );
    }
    assert!(damaged > 0, "no offset hit a live page");
    daemon.stop();
}

#[test]
fn a_read_only_state_directory_degrades_the_history_but_logins_are_answered() {
    let internet = FakeInternet::start();
    let mut daemon = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .start();
    daemon.stop();
    // A read-only file system (root ignores permission bits).
    let ro = daemon.dir().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m,ro", "tmpfs"])
        .arg(&ro)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "mounting a read-only tmpfs needs root (CI runs as root)"
    );
    let _unmount = Unmount(ro.clone());
    let config = daemon.config_path().to_path_buf();
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        &daemon.dir().join("history.redb").display().to_string(),
        &ro.join("history.redb").display().to_string(),
    );
    std::fs::write(&config, text).unwrap();
    daemon.restart();
    let port = daemon.http_port();
    assert!(login_answer(port, "u1", LISTED_IP).contains("-1"));
    assert_eq!(policy_login(port, "u2", UNLISTED_IP), Some(200));
    let health = daemon.get("/healthz", None);
    assert_eq!(health.status, 503);
    assert!(health.body.contains("degraded"), "{:?}", health.body);
    let metrics = daemon.get("/metrics", Some(API_KEY));
    let metrics = metrics.body;
    assert!(
        metrics.contains("badclients_store_up{store=\"history\"} 0"),
        "{metrics}"
    );
    assert!(daemon.stderr().contains("decision history unavailable"));
    daemon.stop();
}

#[test]
fn a_second_serve_names_the_daemon_and_report_sees_the_journal() {
    let internet = FakeInternet::start();
    // Nothing is committed in batches: the decisions are in the journal only.
    let mut daemon = DaemonConfig::new(&internet)
        .history("flush_ms = 600000\nbatch_max = 1000000")
        .start();
    let config = daemon.config_path().to_str().unwrap().to_string();
    let out = testkit::badclients(&["serve", "--config", &config], daemon.dir());
    assert!(!out.status.success());
    let err = testkit::stderr(&out);
    assert!(err.contains(&format!("pid {}", daemon.pid())), "{err}");
    let port = daemon.http_port();
    for i in 0..40 {
        assert_eq!(policy_login(port, &format!("j{i}"), UNLISTED_IP), Some(200));
    }
    daemon.kill_hard();
    let out = testkit::badclients(
        &["report", "--config", &config, "--json", "--top", "0"],
        daemon.dir(),
    );
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&testkit::stdout(&out)).unwrap();
    assert_eq!(json["totals"]["logins"], 40, "{json}");
}

#[test]
fn a_full_disk_then_grown_loses_no_answered_decision_and_does_not_flood_the_log() {
    let internet = FakeInternet::start();
    let mut daemon = DaemonConfig::new(&internet).start();
    daemon.stop();
    let fs = daemon.dir().join("fs");
    std::fs::create_dir(&fs).unwrap();
    let mount = |opts: &str| {
        let mut cmd = std::process::Command::new("mount");
        if opts.starts_with("remount") {
            cmd.args(["-o", opts]);
        } else {
            cmd.args(["-t", "tmpfs", "-o", opts, "tmpfs"]);
        }
        let ok = cmd.arg(&fs).status().is_ok_and(|s| s.success());
        assert!(ok, "mount {opts} needs root (CI runs as root)");
    };
    mount("size=1m");
    let _unmount = Unmount(fs.clone());
    let config = daemon.config_path().to_path_buf();
    let path = fs.join("history.redb");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &daemon.dir().join("history.redb").display().to_string(),
        &path.display().to_string(),
    );
    std::fs::write(&config, text).unwrap();
    daemon.restart();
    let port = daemon.http_port();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let acked = Arc::clone(&acked);
            let running = Arc::clone(&running);
            std::thread::spawn(move || {
                let mut i = 0;
                while running.load(Ordering::Relaxed) {
                    let user = format!("full-{t}-{i}");
                    if policy_login(port, &user, UNLISTED_IP) == Some(200) {
                        acked.lock().unwrap().push(user);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    mount("remount,size=64m");
    std::thread::sleep(Duration::from_secs(1));
    running.store(false, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    // Commits resume once the back-off is over.
    let mut up = false;
    for _ in 0..300 {
        let m = daemon.get("/metrics", Some(API_KEY)).body;
        if m.contains("badclients_store_up{store=\"history\"} 1")
            && daemon.get("/healthz", None).status == 200
        {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "{}", daemon.stderr());
    let metrics = daemon.get("/metrics", Some(API_KEY)).body;
    assert!(
        metrics.contains("badclients_history_lost_total 0"),
        "{metrics}"
    );
    let stderr = daemon.stderr();
    let failures = stderr.matches("history batch not committed").count();
    assert!(failures <= 5, "{failures} commit failures logged: a flood");
    // The journal's segments could not be reserved (and, under a heavier load, redb's
    // commits fail and the store is reopened: the writer test covers that exactly).
    assert!(
        stderr.contains("No space left on device"),
        "the disk never filled: {stderr}"
    );
    daemon.stop();
    let stored = stored_users(&path);
    let missing: Vec<&String> = acked.iter().filter(|u| !stored.contains_key(*u)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered decisions are not in the history",
        missing.len(),
        acked.len()
    );
    // Only zeroed spare segments remain of the journal, or none after a clean stop.
    let segments = std::fs::read_dir(&fs)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".journal."))
        .count();
    assert_eq!(segments, 0);
}

/// `report --json --top 0` (through the daemon while it runs): the users with login
/// sources and the logins.
fn report_users(config: &str, dir: &std::path::Path) -> (Vec<String>, u64) {
    let out = testkit::badclients(&["report", "--config", config, "--json", "--top", "0"], dir);
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&testkit::stdout(&out)).unwrap();
    let mut users: Vec<String> = json["sources"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["user"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    users.sort();
    users.dedup();
    (users, json["totals"]["logins"].as_u64().unwrap_or(0))
}

/// A POST to the daemon with `api_key` (if any); the answer.
fn post(
    daemon: &testkit::daemon::Daemon,
    target: &str,
    api_key: Option<&str>,
) -> testkit::daemon::HttpAnswer {
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    if let Some(key) = api_key {
        head.push_str(&format!("X-API-Key: {key}\r\n"));
    }
    head.push_str("\r\n");
    daemon.send_raw(&head)
}

#[test]
fn history_forget_through_the_daemon_removes_one_user_for_good() {
    let internet = FakeInternet::start();
    // Nothing is committed in batches: the records wait in the journal until the forget
    // commits them (and deletes the user's).
    let mut daemon = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .history("flush_ms = 600000\nbatch_max = 1000000")
        .start();
    let port = daemon.http_port();
    for (user, ip) in [
        ("ann", LISTED_IP),
        ("Ann", UNLISTED_IP),
        ("ANN", UNLISTED_IP),
        ("ben", LISTED_IP),
        ("ben", UNLISTED_IP),
    ] {
        assert_eq!(policy_login(port, user, ip), Some(200));
    }
    let config = daemon.config_path().to_str().unwrap().to_string();

    // The forget endpoint follows the history API's access rule.
    assert_eq!(
        post(&daemon, "/v1/history/forget?user=ann", None).status,
        401
    );
    assert_eq!(
        post(&daemon, "/v1/history/forget?user=ann", Some("wrong")).status,
        401
    );
    assert_eq!(
        post(&daemon, "/v1/history/forget", Some(API_KEY)).status,
        400
    );
    // Not from a web page, even with the key (a browser sends a POST to loopback freely).
    let answer = daemon.send_raw(&format!(
        "POST /v1/history/forget?user=ann HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Origin: http://attacker.example\r\nContent-Length: 0\r\nX-API-Key: {API_KEY}\r\n\r\n"
    ));
    assert_eq!(answer.status, 403, "{}", answer.body);

    let out = testkit::badclients(
        &["history", "forget", "--user", "aNN", "--config", &config],
        daemon.dir(),
    );
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let text = testkit::stdout(&out);
    assert!(text.contains("removed 3 record(s) of user aNN"), "{text}");
    assert!(text.contains("by the daemon"), "{text}");
    assert!(
        daemon
            .wait_for(Duration::from_secs(10), |l| l
                .contains("a user's records forgotten on request")
                && l.contains("aNN"))
            .is_some(),
        "{}",
        daemon.stderr()
    );
    assert_eq!(
        report_users(&config, daemon.dir()),
        (vec!["ben".to_string()], 2)
    );
    // Again: nothing left.
    let out = testkit::badclients(
        &["history", "forget", "--user", "ann", "--config", &config],
        daemon.dir(),
    );
    assert!(
        testkit::stdout(&out).contains("removed 0 record(s)"),
        "{}",
        testkit::stdout(&out)
    );

    // A crash and a start (which replays the journal) do not bring them back.
    daemon.kill_hard();
    let stored = stored_users(&daemon.dir().join("history.redb"));
    assert_eq!(stored.keys().collect::<Vec<_>>(), vec!["ben"], "{stored:?}");
    daemon.restart();
    assert_eq!(
        report_users(&config, daemon.dir()),
        (vec!["ben".to_string()], 2)
    );
    daemon.stop();
    let (store, _) = HistoryStore::open(&daemon.dir().join("history.redb")).unwrap();
    assert_eq!(store.stats().unwrap().records, 2);
    assert!(store.strings().unwrap().ids_ignoring_case("ann").is_empty());
}

#[test]
fn history_forget_on_the_file_with_the_daemon_stopped() {
    let internet = FakeInternet::start();
    let mut daemon = DaemonConfig::new(&internet)
        .history("flush_ms = 600000\nbatch_max = 1000000")
        .start();
    let port = daemon.http_port();
    for user in ["ann", "ann", "ben"] {
        assert_eq!(policy_login(port, user, UNLISTED_IP), Some(200));
    }
    // The records are in the journal only.
    daemon.kill_hard();
    let config = daemon.config_path().to_str().unwrap().to_string();
    let out = testkit::badclients(
        &["history", "forget", "--user", "ANN", "--config", &config],
        daemon.dir(),
    );
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let text = testkit::stdout(&out);
    assert!(text.contains("removed 2 record(s) of user ANN"), "{text}");
    assert!(!text.contains("daemon"), "{text}");
    let stored = stored_users(&daemon.dir().join("history.redb"));
    assert_eq!(stored.keys().collect::<Vec<_>>(), vec!["ben"], "{stored:?}");
    // The journal was committed and removed: a start brings nothing back.
    daemon.restart();
    assert_eq!(
        report_users(&config, daemon.dir()),
        (vec!["ben".to_string()], 1)
    );
}
