//! The daemon on a machine that lacks things: no CA certificates, no network, no list
//! directory, an unreachable Redis. It starts, says what is degraded (a warning each, and
//! `/healthz`), and decides with what it has; only a configuration it cannot parse or a
//! port it cannot bind stops it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use testkit::daemon::{free_port, free_ports, parse_http, terminate, HttpAnswer};

/// A daemon started from `toml` with `env`, its stderr lines arriving on a channel.
struct Bare {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Bare {
    fn start(toml: &str, env: &[(&str, &str)]) -> Bare {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("badclients.toml");
        std::fs::write(&config, toml).expect("write config");
        let mut command = Command::new(env!("CARGO_BIN_EXE_badclients"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn badclients serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Bare {
            child,
            lines,
            seen: Vec::new(),
            _dir: dir,
        }
    }

    /// Waits (up to 30 s) for a stderr line containing `needle`; `None` if the daemon
    /// exited or never said it.
    fn wait_for(&mut self, needle: &str) -> Option<String> {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return Some(l.clone());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    fn log(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(5));
    }
}

fn get(port: u16, target: &str) -> HttpAnswer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).ok();
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_http(&out)
}

#[test]
fn without_ca_roots_network_lists_or_redis_it_starts_says_so_and_decides() {
    let [port, dead_dns, dead_redis] = free_ports::<3>();
    let dead_rdap = free_port();
    let toml = format!(
        r#"list_path = "/nonexistent/badclients-lists"
disabled_services = ["pop3"]
[http]
listen = "127.0.0.1:{port}"
[lookup]
deadline_ms = 1500
dns_servers = ["127.0.0.1:{dead_dns}"]
[rdap.base_urls]
arin = "https://127.0.0.1:{dead_rdap}/"
ripencc = "https://127.0.0.1:{dead_rdap}/"
apnic = "https://127.0.0.1:{dead_rdap}/"
lacnic = "https://127.0.0.1:{dead_rdap}/"
afrinic = "https://127.0.0.1:{dead_rdap}/"
[cache]
memory_only = true
redis_url = "redis://127.0.0.1:{dead_redis}/"
[history]
enabled = false
"#
    );
    // No CA certificates: rustls reads the system's roots from these when they are set.
    let mut d = Bare::start(
        &toml,
        &[
            ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
            ("SSL_CERT_DIR", "/nonexistent/certs"),
        ],
    );
    let ready = d.wait_for("badclients: ready");
    assert!(ready.is_some(), "the daemon did not start:\n{}", d.log());
    for warning in [
        "no CA certificates",
        "the list directory",
        "Redis at redis://127.0.0.1:",
    ] {
        assert!(
            d.wait_for(warning).is_some(),
            "no warning about {warning:?}:\n{}",
            d.log()
        );
    }

    let health = get(port, "/healthz");
    assert_eq!(health.status, 503, "{health:?}");
    assert!(health.body.contains("no CA certificates"), "{health:?}");
    assert!(health.body.contains("list directory"), "{health:?}");
    assert!(health.body.contains("shared cache (Redis)"), "{health:?}");

    // It decides with what it has: no list matches (there are none), the lookups that
    // cannot run are lookup errors, and disabled_services still refuses POP3.
    let imap = get(port, "/v1/check?user=alice&service=imap&ip=176.112.169.218");
    assert_eq!(imap.status, 200, "{imap:?}\n{}", d.log());
    assert!(imap.body.contains("verdict=allow"), "{imap:?}");
    let line = d
        .wait_for("mail-audit: user=<alice>, service=imap, ip=176.112.169.218")
        .unwrap_or_default();
    assert!(line.contains("lookup_error="), "{line}\n{}", d.log());
    let pop3 = get(port, "/v1/check?user=bob&service=pop3&ip=176.112.169.218");
    assert_eq!(pop3.status, 200, "{pop3:?}");
    assert!(
        pop3.body.contains("verdict=block") && pop3.body.contains("matched=service"),
        "{pop3:?}"
    );
    d.wait_for("mail-audit: user=<bob>, service=pop3")
        .expect("the POP3 audit line");

    // In the foreground every line carries its RFC 3339 time, so `report` reads the log
    // with its times.
    let log = d.log();
    for line in log.lines() {
        assert!(testkit::daemon::is_stamped(line), "no time: {line:?}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = testkit::badclients_stdin(&["report", "--json", "-"], dir.path(), log.as_bytes());
    assert!(out.status.success(), "{}", testkit::stderr(&out));
    let report: serde_json::Value =
        serde_json::from_str(&testkit::stdout(&out)).expect("report --json");
    let totals = &report["totals"];
    assert_eq!(totals["logins"], 2, "{report}");
    assert_eq!(totals["blocked"], 1, "{report}");
    let first = totals["first_us"].as_u64().unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_micros() as u64;
    assert!(
        first > 0 && now.saturating_sub(first) < 600_000_000,
        "the report's times are not the log's: {report}"
    );
}

#[test]
fn a_configuration_it_cannot_parse_or_a_port_it_cannot_bind_stops_it() {
    let mut bad = Bare::start("list_path = [unclosed\n", &[]);
    let status = bad.child.wait().expect("wait");
    assert!(!status.success(), "{status}");
    assert!(bad.log().contains("badclients.toml"), "{}", bad.log());

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let toml = format!(
        "list_path = \"/nonexistent/lists\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
         [cache]\nmemory_only = true\n[history]\nenabled = false\n"
    );
    let mut busy = Bare::start(&toml, &[]);
    let status = busy.child.wait().expect("wait");
    assert!(!status.success(), "{status}");
    assert!(busy.log().contains(&port.to_string()), "{}", busy.log());
}
