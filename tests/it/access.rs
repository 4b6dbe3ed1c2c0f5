//! Who may see personal data (issue 12, items 1–3): every route × the key sent (none,
//! wrong, empty, right) × the peer (loopback, loopback through a proxy, another address in
//! a network namespace this test makes, the unix socket), with and without `api_key`.
//!
//! Before, `/ui` let every loopback peer in even with a key set (a proxy on the same host
//! connects from loopback), answered a foreign `Host`, and without a key the history API
//! answered the network.

use std::process::Command;
use std::time::{Duration, Instant};

use testkit::daemon::{Daemon, DaemonConfig, FakeInternet, API_KEY};

/// The user whose logins are the personal data here.
const USER: &str = "alice.personal";

/// The routes, how they are asked, and whether they show personal data.
const ROUTES: [(&str, &str, Kind); 12] = [
    ("GET", "/ui", Kind::Personal),
    ("GET", "/ui/user?q=alice.personal", Kind::Personal),
    ("GET", "/v1/history/report", Kind::Personal),
    ("GET", "/v1/history/suggest", Kind::Personal),
    // A user with no records: alice's stay for the other routes.
    (
        "POST",
        "/v1/history/forget?user=nobody.here",
        Kind::Personal,
    ),
    ("GET", "/v1/lookup?ip=192.0.2.1", Kind::Personal),
    ("GET", "/v1/cache/stats", Kind::Personal),
    ("POST", "/v1/cache/purge?ip=192.0.2.1", Kind::Personal),
    ("POST", "/?command=allow", Kind::Policy),
    (
        "GET",
        "/v1/check?user=bob&service=imap&ip=10.0.0.1",
        Kind::Policy,
    ),
    ("GET", "/metrics", Kind::Policy),
    ("GET", "/healthz", Kind::Open),
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// User names, addresses, login times: the key when set, else local unproxied peers.
    Personal,
    /// Dovecot's and the shim's endpoints and `/metrics`: the key when set, else anyone.
    Policy,
    /// `/healthz`.
    Open,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum KeySent {
    None,
    Wrong,
    Empty,
    Right,
}

const KEYS: [KeySent; 4] = [
    KeySent::None,
    KeySent::Wrong,
    KeySent::Empty,
    KeySent::Right,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum From {
    Loopback,
    LoopbackForwardedFor,
    LoopbackForwarded,
    Namespace,
    Socket,
}

impl KeySent {
    fn header(self) -> Option<String> {
        match self {
            KeySent::None => None,
            KeySent::Wrong => Some("X-API-Key: not-the-key".into()),
            KeySent::Empty => Some("X-API-Key:".into()),
            KeySent::Right => Some(format!("X-API-Key: {API_KEY}")),
        }
    }
}

/// What a request should get: allowed (any status but 401/403) or refused with a status.
fn expected(kind: Kind, keyed: bool, key: KeySent, from: From) -> Option<u16> {
    let local = matches!(from, From::Loopback | From::Socket);
    match (kind, keyed) {
        (Kind::Open, _) => None,
        (_, true) if key == KeySent::Right => None,
        (_, true) => Some(401),
        (Kind::Policy, false) => None,
        (Kind::Personal, false) if local => None,
        (Kind::Personal, false) => Some(403),
    }
}

fn body_of(method: &str, target: &str) -> String {
    if method == "POST" && target.starts_with("/?command=allow") {
        serde_json::json!({"login": "carol", "user": "carol", "remote": "10.0.0.2",
            "protocol": "imap", "session_id": "s"})
        .to_string()
    } else {
        String::new()
    }
}

/// A raw request from this process (loopback or the socket).
fn raw(method: &str, target: &str, host: &str, headers: &[String]) -> String {
    let body = body_of(method, target);
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    if !body.is_empty() {
        r.push_str("Content-Type: application/json\r\n");
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r
}

/// A network namespace joined to this one by a veth pair: the daemon is reached from
/// inside it at `HOST_ADDR`, from the address `PEER_ADDR` (neither loopback).
struct Namespace {
    name: String,
    veth: String,
}

const HOST_ADDR: &str = "10.231.77.1";
const PEER_ADDR: &str = "10.231.77.2";

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip(8) (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Namespace {
    fn create() -> Namespace {
        let id = std::process::id();
        let name = format!("bcacc{id}");
        let veth = format!("bca{}", id % 100_000);
        let peer = format!("{veth}p");
        // A pair left by a killed run would hold the addresses.
        let _ = Command::new("ip").args(["link", "del", &veth]).output();
        ip(&["netns", "add", &name]);
        let ns = Namespace { name, veth };
        ip(&[
            "link", "add", &ns.veth, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &ns.name]);
        ip(&["addr", "add", &format!("{HOST_ADDR}/30"), "dev", &ns.veth]);
        ip(&["link", "set", &ns.veth, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &ns.name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{PEER_ADDR}/30"), "dev", &peer]);
        inside(&["link", "set", &peer, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }

    /// The status of a request made with curl from inside the namespace.
    fn status(&self, method: &str, target: &str, port: u16, key: KeySent) -> u16 {
        let url = format!("http://{HOST_ADDR}:{port}{target}");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, "curl", "-s", "-o", "/dev/null"])
            .args(["-w", "%{http_code}", "--max-time", "30", "-X", method]);
        match key {
            KeySent::None => {}
            // curl sends an empty header for `Name;`.
            KeySent::Empty => {
                cmd.args(["-H", "X-API-Key;"]);
            }
            _ => {
                cmd.args(["-H", &key.header().unwrap_or_default()]);
            }
        }
        let body = body_of(method, target);
        if !body.is_empty() {
            cmd.args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &body,
            ]);
        }
        let out = cmd.arg(&url).output().expect("run curl in the namespace");
        let code = String::from_utf8_lossy(&out.stdout);
        code.trim()
            .parse()
            .unwrap_or_else(|_| panic!("curl {method} {url}: {code:?} {out:?}"))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Starts a daemon (keyed or not, on TCP at every address or on the socket) whose history
/// holds a login of [`USER`].
fn daemon(internet: &FakeInternet, keyed: bool, socket: bool) -> Daemon {
    let mut config = DaemonConfig::new(internet);
    if !keyed {
        config = config.without_api_key();
    }
    config = if socket {
        config.http_unix()
    } else {
        config.http_on_all_addresses()
    };
    let d = config.start();
    let key = if keyed {
        vec![format!("X-API-Key: {API_KEY}")]
    } else {
        vec![]
    };
    let login = serde_json::json!({"login": USER, "user": USER, "remote": "10.0.0.9",
        "protocol": "imap", "session_id": "s"})
    .to_string();
    let mut r = format!(
        "POST /?command=allow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        login.len()
    );
    for h in &key {
        r.push_str(&format!("{h}\r\n"));
    }
    r.push_str(&format!("\r\n{login}"));
    assert_eq!(d.send_raw(&r).status, 200);
    // Reserved addresses are logged only with log_local; the history gets the user by the
    // report endpoint either way once committed: wait until the user page shows them.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let a = d.send_raw(&raw("GET", "/v1/history/report", "localhost", &key));
        assert_eq!(a.status, 200, "{a:?}");
        if a.body.contains("\"logins\"") || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    d
}

fn check(
    d: &Daemon,
    keyed: bool,
    froms: &[From],
    ns: Option<&Namespace>,
    port: Option<u16>,
    failures: &mut Vec<String>,
) {
    for (method, target, kind) in ROUTES {
        for key in KEYS {
            for &from in froms {
                let status = match from {
                    From::Namespace => {
                        ns.expect("namespace")
                            .status(method, target, port.expect("port"), key)
                    }
                    _ => {
                        let mut headers: Vec<String> = key.header().into_iter().collect();
                        match from {
                            From::LoopbackForwardedFor => {
                                headers.push("X-Forwarded-For: 203.0.113.9".into())
                            }
                            From::LoopbackForwarded => {
                                headers.push("Forwarded: for=203.0.113.9;proto=https".into())
                            }
                            _ => {}
                        }
                        let host =
                            port.map_or("localhost".to_string(), |p| format!("127.0.0.1:{p}"));
                        let a = d.send_raw(&raw(method, target, &host, &headers));
                        if a.status == 401 || a.status == 403 {
                            // A refusal names no user.
                            assert!(!a.body.contains(USER), "{method} {target}: {a:?}");
                        }
                        a.status
                    }
                };
                let want = expected(kind, keyed, key, from);
                let ok = match want {
                    Some(code) => status == code,
                    None => status != 401 && status != 403 && status < 500,
                };
                if !ok {
                    failures.push(format!(
                        "keyed={keyed} {method} {target} key={key:?} from={from:?}: got {status}, \
                         want {}",
                        want.map_or("allowed".to_string(), |c| c.to_string())
                    ));
                }
            }
        }
    }
}

#[test]
fn personal_data_needs_the_key_or_a_local_unproxied_peer_on_every_route() {
    let internet = FakeInternet::start();
    let ns = Namespace::create();
    let mut failures = Vec::new();
    let tcp_froms = [
        From::Loopback,
        From::LoopbackForwardedFor,
        From::LoopbackForwarded,
        From::Namespace,
    ];
    for keyed in [true, false] {
        let d = daemon(&internet, keyed, false);
        let port = d.http_port();
        check(&d, keyed, &tcp_froms, Some(&ns), Some(port), &mut failures);
        // What a refused request would have shown: the user is there for the right one.
        let key: Vec<String> = if keyed {
            vec![format!("X-API-Key: {API_KEY}")]
        } else {
            vec![]
        };
        let page = d.send_raw(&raw("GET", "/ui/user?q=alice.personal", "127.0.0.1", &key));
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.body.contains(USER), "{page:?}");

        let s = daemon(&internet, keyed, true);
        check(&s, keyed, &[From::Socket], None, None, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_foreign_host_is_refused_on_the_dashboard_and_the_history() {
    let internet = FakeInternet::start();
    for keyed in [true, false] {
        let d = daemon(&internet, keyed, false);
        let key: Vec<String> = if keyed {
            vec![format!("X-API-Key: {API_KEY}")]
        } else {
            vec![]
        };
        for target in ["/ui", "/ui/user?q=alice.personal", "/v1/history/report"] {
            for host in [
                "attacker.example",
                "attacker.example:8670",
                "localhost.attacker.example",
            ] {
                let a = d.send_raw(&raw("GET", target, host, &key));
                assert_eq!(a.status, 403, "keyed={keyed} {target} Host: {host}: {a:?}");
                assert!(a.body.contains("allowed_hosts"), "{a:?}");
            }
            for host in ["localhost", "127.0.0.1", "[::1]:1"] {
                let a = d.send_raw(&raw("GET", target, host, &key));
                assert_eq!(a.status, 200, "keyed={keyed} {target} Host: {host}: {a:?}");
            }
        }
    }
    // A name in allowed_hosts (a proxy's) is let in.
    let d = DaemonConfig::new(&internet)
        .http("allowed_hosts = [\"mail.example.org\"]\n")
        .start();
    let key = [format!("X-API-Key: {API_KEY}")];
    assert_eq!(
        d.send_raw(&raw("GET", "/ui", "mail.example.org", &key))
            .status,
        200
    );
    assert_eq!(
        d.send_raw(&raw("GET", "/ui", "other.example.org", &key))
            .status,
        403
    );
}

#[test]
fn an_empty_api_key_is_refused_at_load_and_a_network_listener_without_one_is_warned_about() {
    let internet = FakeInternet::start();
    let out = Command::new(env!("CARGO_BIN_EXE_badclients"))
        .args(["serve", "--config"])
        .arg({
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("empty-key.toml");
            std::fs::write(&path, "[http]\napi_key = \"\"\n").expect("write config");
            std::mem::forget(dir);
            path
        })
        .output()
        .expect("run badclients serve");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("api_key is empty"), "{stderr}");

    let d = DaemonConfig::new(&internet)
        .without_api_key()
        .http_on_all_addresses()
        .start();
    let log = d.stderr();
    assert!(
        log.contains("[http] listens beyond loopback without api_key"),
        "{log}"
    );
}

/// Everything the daemon creates holding personal data is closed to other users, even when
/// it is started with umask 022 (before: history, journal and cache 0644, directories 0755);
/// a history file left world-readable is pointed out at start.
#[test]
fn state_files_are_private_under_umask_022() {
    use std::os::unix::fs::PermissionsExt;
    let internet = FakeInternet::start();
    // Only the daemon's umask: the other tests share this process.
    let d = DaemonConfig::new(&internet)
        .umask(0o022)
        .history("path = \"state/history/history.redb\"\nflush_ms = 50")
        .cache("path = \"state/cache/cache.redb\"")
        .start();
    for i in 0..20 {
        let a = d.policy_allow(&format!("{USER}{i}"), "8.8.8.8", Duration::from_secs(30));
        assert_eq!(a.status, 200, "{a:?}");
    }
    let state = d.dir().join("state");
    // The journal segment and both files exist once a batch is committed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let listing = || -> Vec<(std::path::PathBuf, u32)> {
        let mut out = Vec::new();
        let mut dirs = vec![state.clone()];
        while let Some(dir) = dirs.pop() {
            let meta = std::fs::metadata(&dir).expect("state directory");
            out.push((dir.clone(), meta.permissions().mode() & 0o7777));
            for entry in std::fs::read_dir(&dir).expect("read state directory") {
                let path = entry.expect("entry").path();
                let meta = std::fs::symlink_metadata(&path).expect("metadata");
                if meta.is_dir() {
                    dirs.push(path);
                } else {
                    out.push((path, meta.permissions().mode() & 0o7777));
                }
            }
        }
        out
    };
    let names = |l: &[(std::path::PathBuf, u32)]| -> Vec<String> {
        l.iter()
            .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect()
    };
    loop {
        let l = names(&listing());
        let journal = l.iter().any(|n| n.contains(".journal"));
        if (l.contains(&"history.redb".to_string())
            && l.contains(&"cache.redb".to_string())
            && journal)
            || Instant::now() > deadline
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let all = listing();
    let found = names(&all);
    for wanted in ["history.redb", "cache.redb", "history", "cache", "state"] {
        assert!(
            found.contains(&wanted.to_string()),
            "{wanted} missing: {all:?}"
        );
    }
    assert!(
        found.iter().any(|n| n.contains(".journal")),
        "no journal: {all:?}"
    );
    for (path, mode) in &all {
        assert_eq!(mode & 0o007, 0, "{} is mode {mode:04o}", path.display());
    }
    drop(d);

    // A history file made world-readable by hand is pointed out at the next start.
    let internet = FakeInternet::start();
    let config = DaemonConfig::new(&internet).history("path = \"state/history.redb\"");
    let mut d = config.start();
    let history = d.dir().join("state/history.redb");
    std::fs::set_permissions(&history, std::fs::Permissions::from_mode(0o644))
        .expect("chmod the history");
    d.stop();
    d.restart();
    let log = d.stderr();
    assert!(
        log.contains(&format!(
            "{} is open to every user of this machine (mode 0644)",
            history.display()
        )),
        "{log}"
    );
}
