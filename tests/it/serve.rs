//! The daemon's HTTP and Postfix endpoints against bad input, keep-alive, report calls,
//! metrics and a graceful stop — each followed by a good request that must still work.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use testkit::daemon::{
    parse_http, Daemon, DaemonConfig, FakeInternet, HttpAnswer, API_KEY, LISTED_IP, LISTED_NET,
    UNLISTED_IP,
};

fn daemon(internet: &FakeInternet, http: &str) -> Daemon {
    DaemonConfig::new(internet)
        .http(http)
        .postfix()
        .list("ip_net.deny.lst", &format!("{LISTED_NET}\n"))
        .start()
}

/// Sends raw bytes on a fresh connection and reads the answer (or nothing).
fn raw(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn post(port: u16, body: &str, content_type: &str, key: Option<&str>) -> HttpAnswer {
    let mut req = format!(
        "POST /?command=allow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(k) = key {
        req.push_str(&format!("X-API-Key:  {k}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    parse_http(&raw(port, req.as_bytes()))
}

fn policy_body(ip: &str) -> String {
    format!(
        r#"{{"device_id":"","local":"127.0.0.1","login":"alice","lport":"10143","mech":"PLAIN","protocol":"imap","pwhash":"0cd2","real_remote":"127.0.0.1","remote":"{ip}","rport":"40001","secured":"","session_id":"s1","user":"alice","tls":false}}"#
    )
}

fn assert_still_serving(d: &Daemon) {
    let a = post(
        d.http_port(),
        &policy_body(LISTED_IP),
        "application/json",
        Some(API_KEY),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("\"status\":-1"), "{a:?}");
}

#[test]
fn bad_http_requests_get_a_clear_4xx_and_the_daemon_serves_on() {
    let internet = FakeInternet::start();
    let d = daemon(&internet, "header_timeout_ms = 500");
    let port = d.http_port();
    let cases: Vec<(&str, HttpAnswer, u16, &str)> = vec![
        ("malformed JSON", post(port, "{\"remote\":", "application/json", Some(API_KEY)), 400, "not a policy request"),
        ("wrong content type", post(port, &policy_body(LISTED_IP), "text/plain", Some(API_KEY)), 415, "application/json"),
        ("missing remote", post(port, r#"{"login":"a","protocol":"imap"}"#, "application/json", Some(API_KEY)), 400, "remote"),
        ("remote not an IP", post(port, r#"{"remote":"evil<>","protocol":"imap"}"#, "application/json", Some(API_KEY)), 400, "remote"),
        ("wrong API key", post(port, &policy_body(LISTED_IP), "application/json", Some("nope")), 401, "API key"),
        ("no API key", post(port, &policy_body(LISTED_IP), "application/json", None), 401, "API key"),
        ("1 MiB body", post(port, &"x".repeat(1 << 20), "application/json", Some(API_KEY)), 413, ""),
        ("unknown command", parse_http(&raw(port, b"POST /?command=drop HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-Key: test-api-key\r\nContent-Length: 2\r\n\r\n{}")), 400, ""),
        ("unknown path", d.get("/nope", Some(API_KEY)), 404, "no such endpoint"),
    ];
    for (name, answer, status, needle) in cases {
        assert_eq!(answer.status, status, "{name}: {answer:?}");
        assert!(answer.body.contains(needle), "{name}: {answer:?}");
        assert_still_serving(&d);
    }
    // Garbage instead of HTTP: an error answer or a closed connection, never a crash.
    let _ = raw(port, b"\x00\x01\x02 GARBAGE\r\n\r\n");
    assert_still_serving(&d);
    // A client that connects and sends nothing is dropped after the header timeout.
    let started = Instant::now();
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let _ = idle.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_still_serving(&d);
}

#[test]
fn keep_alive_serves_several_dovecot_requests_on_one_connection() {
    let internet = FakeInternet::start();
    let d = daemon(&internet, "");
    let mut s = TcpStream::connect(("127.0.0.1", d.http_port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    for (ip, refused) in [(LISTED_IP, true), (UNLISTED_IP, false), (LISTED_IP, true)] {
        let body = policy_body(ip);
        let req = format!(
            "POST /?command=allow HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive\r\nContent-Type: application/json\r\nX-API-Key:  {API_KEY}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let answer = parse_http(&buf[..n]);
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.body.contains("\"status\":-1"),
            refused,
            "{ip}: {answer:?}"
        );
    }
}

#[test]
fn report_calls_are_audited_without_a_lookup() {
    let internet = FakeInternet::start();
    let d = daemon(&internet, "");
    let body = r#"{"remote":"139.162.133.252","protocol":"pop3","login":"bob","user":"bob","success":false,"policy_reject":false,"tls":false}"#;
    let req = format!(
        "POST /?command=report HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = parse_http(&raw(d.http_port(), req.as_bytes()));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "{\"status\":0}");
    let line = d
        .wait_for(Duration::from_secs(3), |l| {
            l.starts_with("mail-audit-report:")
        })
        .expect("a report line");
    assert_eq!(
        line,
        "mail-audit-report: user=<bob>, service=pop3, ip=139.162.133.252, result=failure"
    );
    assert_eq!(
        internet.origin_queries("139.162.133.252"),
        0,
        "a report must not look up"
    );
}

/// Dovecot 2.4's report, with its default `auth_policy_request_attributes` (no `user`,
/// `fail_type` present): the fail type is the report's result.
#[test]
fn a_dovecot_24_report_names_why_the_login_failed() {
    let internet = FakeInternet::start();
    let d = daemon(&internet, "");
    let cases = [
        (
            r#""success":false,"policy_reject":false,"fail_type":"credentials""#,
            "credentials",
        ),
        (
            r#""success":false,"policy_reject":false,"fail_type":"account""#,
            "account",
        ),
        (
            r#""success":false,"policy_reject":false,"fail_type":"expired""#,
            "expired",
        ),
        (
            r#""success":false,"policy_reject":false,"fail_type":"disabled""#,
            "disabled",
        ),
        (
            r#""success":false,"policy_reject":false,"fail_type":"internal""#,
            "internal",
        ),
        (
            r#""success":false,"policy_reject":true,"fail_type":"policy""#,
            "policy_reject",
        ),
        (
            r#""success":true,"policy_reject":false,"fail_type":"""#,
            "success",
        ),
        (
            r#""success":false,"policy_reject":false,"fail_type":"new-kind""#,
            "failure",
        ),
    ];
    for (i, (tail, result)) in cases.iter().enumerate() {
        let user = format!("carol{i}");
        let body = format!(
            r#"{{"login":"{user}","pwhash":"0cd2","remote":"139.162.133.252","device_id":"","protocol":"imap","session_id":"s{i}",{tail},"tls":false}}"#
        );
        let req = format!(
            "POST /?command=report HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let answer = parse_http(&raw(d.http_port(), req.as_bytes()));
        assert_eq!(answer.status, 200, "{body}: {answer:?}");
        let want = format!(
            "mail-audit-report: user=<{user}>, service=imap, ip=139.162.133.252, result={result}"
        );
        let line = d.wait_for(Duration::from_secs(3), |l| l == want);
        assert!(line.is_some(), "no {want:?} in\n{}", d.stderr());
    }
    assert_eq!(internet.origin_queries("139.162.133.252"), 0);
}

#[test]
fn metrics_count_decisions_without_users_or_addresses() {
    let internet = FakeInternet::start();
    let d = daemon(&internet, "");
    assert_still_serving(&d);
    let m = d.get("/metrics", Some(API_KEY));
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .unwrap_or("")
        .starts_with("application/openmetrics-text"));
    assert!(
        m.body.contains(r#"badclients_decisions_total{service="imap",verdict="block",matched="ip_net",enforced="true"} 1"#),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains(r#"badclients_list_entries{list="ip_net.deny.lst"} 1"#),
        "{}",
        m.body
    );
    assert!(!m.body.contains(LISTED_IP) && !m.body.contains("alice"));
    assert_eq!(d.get("/metrics", None).status, 401);
    assert_eq!(d.get("/healthz", None).status, 200);
}

#[test]
fn garbage_on_the_postfix_socket_does_not_stop_the_service() {
    let internet = FakeInternet::start();
    let d = daemon(&internet, "");
    let addr = d.postfix_addr();
    let ask = |ip: &str, user: &str| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        write!(
            s,
            "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address={ip}\nsasl_username={user}\n\n"
        )
        .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert!(ask(LISTED_IP, "alice").starts_with("action=REJECT "));
    let mut g = TcpStream::connect(addr).unwrap();
    g.write_all(b"\x00\xff garbage without equals\n\n").unwrap();
    g.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = [0u8; 512];
    let n = g.read(&mut buf).unwrap_or(0);
    assert_eq!(&buf[..n], b"action=DUNNO\n\n");
    assert!(ask(LISTED_IP, "alice").starts_with("action=REJECT "));
    assert_eq!(
        ask(LISTED_IP, ""),
        "action=DUNNO\n\n",
        "sessions without AUTH pass"
    );
    assert_eq!(ask(UNLISTED_IP, "alice"), "action=DUNNO\n\n");
}

#[test]
fn sigterm_answers_the_request_in_flight() {
    let internet = FakeInternet::start();
    // A slow upstream keeps the request in flight while the daemon is told to stop.
    internet.world.dns.set_fault(
        "15.218.85.209.origin.asn.cymru.com.",
        testworld::Fault::Delay(Duration::from_millis(700)),
    );
    let mut d = daemon(&internet, "");
    let port = d.http_port();
    let pending = std::thread::spawn(move || {
        post(
            port,
            &policy_body(UNLISTED_IP),
            "application/json",
            Some(API_KEY),
        )
    });
    std::thread::sleep(Duration::from_millis(200));
    let status = d.stop();
    let answer = pending.join().unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, "{\"status\":0}");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[test]
fn a_reload_names_the_settings_that_wait_for_a_restart() {
    let internet = FakeInternet::start();
    let d = daemon(&internet, "");
    let port = d.http_port();
    let config = std::fs::read_to_string(d.config_path()).unwrap();
    let moved = config.replace(
        &format!("127.0.0.1:{port}"),
        &format!("127.0.0.1:{}", testkit::daemon::free_port()),
    );
    assert_ne!(moved, config, "the listen address is in the configuration");
    // A live setting changes too, and applies at once.
    let moved = moved.replace(testkit::daemon::BLOCK_MESSAGE, "go away");
    std::fs::write(d.config_path(), moved).unwrap();
    d.sighup();
    let line = d
        .wait_for(Duration::from_secs(20), |l| l.contains("restart needed"))
        .unwrap_or_else(|| panic!("no restart-needed line:\n{}", d.stderr()));
    assert!(line.contains("[http] listen"), "{line}");
    assert!(
        !line.contains("[cache]") && !line.contains("[lookup]"),
        "{line}"
    );
    // The daemon keeps serving where it listens, with the new message.
    let a = post(
        port,
        &policy_body(LISTED_IP),
        "application/json",
        Some(API_KEY),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("go away"), "{a:?}");
}

/// A block by `cloud.deny.lst` is counted as `matched="cloud"` (before: `other`, as were
/// `geo_cc`, `dnsbl` and the maxmind lists).
#[test]
fn a_cloud_block_is_counted_under_its_own_label() {
    let internet = FakeInternet::start();
    let ranges = tempfile::tempdir().expect("tempdir");
    let feed = std::fs::read(testkit::fixture("cloud/aws-ip-ranges.json")).expect("aws fixture");
    badclients::cloud::store::FeedStore::new(ranges.path())
        .update(badclients::cloud::Provider::Aws, &feed, "tests/fixtures")
        .expect("store the aws feed");
    let d = DaemonConfig::new(&internet)
        .extra(&format!("[cloud]\ndir = \"{}\"", ranges.path().display()))
        .list("cloud.deny.lst", "aws:EC2:.*\n")
        .start();
    // 15.181.232.10 is in an EC2 us-east-1 prefix of the feed (tests/it/ranges.rs).
    let answer = d.policy_allow("carol", "15.181.232.10", Duration::from_secs(30));
    assert!(answer.body.contains("\"status\":-1"), "{answer:?}");
    let m = d.get("/metrics", Some(API_KEY));
    assert!(
        m.body.contains(
            r#"badclients_decisions_total{service="imap",verdict="block",matched="cloud",enforced="true"} 1"#
        ),
        "{}",
        m.body
    );
}

/// `badclients check` on the daemon's configuration in audit mode prints the daemon's audit
/// line for the same login (`enforced=False`) and exits 4, "would block, not enforced"
/// (before: `blocked=True` without `enforced=False`, exit 1); for an address the daemon
/// does not log, it says so.
#[test]
fn check_in_audit_mode_tells_what_the_daemon_does() {
    let internet = FakeInternet::start();
    let d = DaemonConfig::new(&internet)
        .mode("audit")
        .extra("ignore_networks = [\"192.0.2.0/24\"]")
        .list("ip_net.deny.lst", &format!("{LISTED_NET}\n"))
        .start();
    let answer = d.policy_allow("alice", LISTED_IP, Duration::from_secs(30));
    assert_eq!(
        answer.body, "{\"status\":0}",
        "audit mode lets it in: {answer:?}"
    );
    let daemon_line = d
        .wait_for(Duration::from_secs(20), |l| {
            l.contains("mail-audit: user=<alice>")
        })
        .expect("the daemon's audit line");
    let daemon_line = &daemon_line[daemon_line.find("mail-audit: ").unwrap_or(0)..];
    assert!(daemon_line.contains("enforced=False"), "{daemon_line}");

    let config = d.config_path().to_str().expect("utf-8 path").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = testkit::badclients(
        &[
            "check",
            LISTED_IP,
            "--user",
            "alice",
            "--service",
            "imap",
            "--config",
            &config,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(testkit::stdout(&out).trim_end(), daemon_line.trim_end());

    let out = testkit::badclients(
        &[
            "check",
            "192.0.2.5",
            "--user",
            "bob",
            "--service",
            "imap",
            "--config",
            &config,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        testkit::stderr(&out).contains("the daemon would not log this login"),
        "{out:?}"
    );
}
