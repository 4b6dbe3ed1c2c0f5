//! The command line beside the running daemon (issue 11, item 6): `lookup`, `check`
//! (without `--facts`), `cache stats` and `cache purge --ip` on the daemon's own
//! configuration, while the daemon holds the cache file — through its HTTP API. And the
//! cache's sizes in `/metrics`.

use std::time::{Duration, Instant};

use testkit::daemon::{DaemonConfig, FakeInternet, API_KEY};
use testkit::{badclients, stderr, stdout};

const VK: &str = "176.112.169.218";
const GOOGLE: &str = "209.85.218.15";

/// Runs the binary on the daemon's configuration.
fn cli(daemon: &testkit::daemon::Daemon, args: &[&str]) -> std::process::Output {
    let config = daemon
        .config_path()
        .to_str()
        .expect("UTF-8 path")
        .to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--config", &config]);
    badclients(&all, daemon.dir())
}

/// Polls `probe` until it is true, for at most a generous minute.
fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !probe() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn lookup_check_cache_stats_and_purge_work_while_the_daemon_runs() {
    let internet = FakeInternet::start();
    let daemon = DaemonConfig::new(&internet)
        .cache("path = \"cache.redb\"\nmax_entries = 1000")
        .list("asn.deny.lst", "AS47764\n")
        .start();

    // Before: `cannot open cache store …: Database already open. Cannot acquire lock.`, exit 2.
    let out = cli(&daemon, &["lookup", VK, GOOGLE]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("176.112.169.218: host=rimap26.i.mail.ru, asn=AS47764"),
        "{text}"
    );
    assert!(text.contains("rdap: upstream"), "{text}");
    assert_eq!(text.lines().count(), 4, "two lines per address: {text}");
    // The daemon's cache answers the second time.
    let out = cli(&daemon, &["lookup", VK]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("origin: cache"), "{}", stdout(&out));
    let out = cli(&daemon, &["lookup", VK, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(json[0]["facts"]["net_name"], "VK-FRONT", "{json}");
    assert_eq!(json[0]["sources"][0]["source"], "ptr", "{json}");

    // `check` decides with the daemon's facts, exactly as with the same facts given by hand.
    let facts = daemon.dir().join("facts.json");
    std::fs::write(&facts, json[0]["facts"].to_string()).expect("write facts");
    let by_hand = cli(
        &daemon,
        &[
            "check",
            VK,
            "-u",
            "craig",
            "-s",
            "imap",
            "--facts",
            facts.to_str().unwrap(),
        ],
    );
    let out = cli(&daemon, &["check", VK, "-u", "craig", "-s", "imap"]);
    assert_eq!(out.status.code(), Some(1), "blocked: {}", stderr(&out));
    assert_eq!(stdout(&out), stdout(&by_hand));
    assert!(stdout(&out).contains("blocked=True"), "{}", stdout(&out));
    let out = cli(&daemon, &["check", GOOGLE, "-u", "craig", "-s", "imap"]);
    assert_eq!(out.status.code(), Some(0), "allowed: {}", stderr(&out));

    // `cache stats`: the file (once the daemon's writer has stored the entries) and memory.
    let mut stats = String::new();
    eventually("the daemon to store both origins", || {
        let out = cli(&daemon, &["cache", "stats"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stats = stdout(&out);
        stats.contains("\norigin   2 entries")
    });
    assert!(stats.starts_with("cache file: "), "{stats}");
    assert!(stats.contains("cache.redb\nsize: "), "{stats}");
    assert!(stats.contains("\nptr      2 entries"), "{stats}");
    assert!(
        stats.contains("in the daemon's memory:\n  origin   2 entries"),
        "{stats}"
    );
    assert!(stats.contains("\nlimit: 1000 entries per table"), "{stats}");

    // `cache purge --ip`: the file and the daemon's memory; the address is asked again.
    let out = cli(&daemon, &["cache", "purge", "--ip", VK]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // origin, rdap and ptr of that address.
    assert!(
        text.starts_with("removed 3 entries from the cache file\n"),
        "{text}"
    );
    assert!(
        text.contains("removed 3 entries from the daemon's memory"),
        "{text}"
    );
    let out = cli(&daemon, &["cache", "stats"]);
    assert!(
        stdout(&out).contains("\norigin   1 entries"),
        "{}",
        stdout(&out)
    );
    let out = cli(&daemon, &["lookup", VK, GOOGLE]);
    let text = stdout(&out);
    let mut lines = text.lines().skip(1);
    assert!(
        lines.next().is_some_and(|l| l.contains("origin: upstream")),
        "the purged address is asked again: {text}"
    );
    assert!(
        lines.nth(1).is_some_and(|l| l.contains("origin: cache")),
        "the other one still comes from the cache: {text}"
    );
}

#[test]
fn the_cache_endpoints_need_the_api_key() {
    let internet = FakeInternet::start();
    let daemon = DaemonConfig::new(&internet).start();
    for target in ["/v1/cache/stats", "/v1/lookup?ip=176.112.169.218"] {
        assert_eq!(daemon.get(target, None).status, 401, "{target}");
        assert_eq!(daemon.get(target, Some("wrong")).status, 401, "{target}");
        assert_eq!(daemon.get(target, Some(API_KEY)).status, 200, "{target}");
    }
    let answer = daemon.get("/v1/lookup?ip=not-an-ip", Some(API_KEY));
    assert_eq!(answer.status, 400);
}

#[test]
fn metrics_show_the_cache_sizes() {
    let internet = FakeInternet::start();
    let daemon = DaemonConfig::new(&internet)
        .cache("path = \"cache.redb\"\nmax_entries = 1000\nprune_interval_secs = 1")
        .start();
    let answer = daemon.get("/v1/lookup?ip=176.112.169.218", Some(API_KEY));
    assert_eq!(answer.status, 200);
    let mut body = String::new();
    eventually("the sizes in /metrics", || {
        body = daemon.get("/metrics", Some(API_KEY)).body;
        body.contains("badclients_cache_entries{tier=\"memory\",table=\"origin\"} 1")
            && body.contains("badclients_cache_entries{tier=\"store\",table=\"origin\"} 1")
    });
    assert!(body.contains("badclients_cache_max_entries 1000"), "{body}");
    let file = body
        .lines()
        .find_map(|l| l.strip_prefix("badclients_cache_file_bytes "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(file.is_some_and(|b| b > 0), "{body}");
}
