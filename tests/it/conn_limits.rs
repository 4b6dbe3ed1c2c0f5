//! Connection limits that protect the good clients, against the real daemon: hostile
//! clients holding idle Postfix connections or trickling HTTP bodies (with few file
//! descriptors) must not keep a real request from being answered; an unauthenticated
//! body is refused before it arrives; a body that does not arrive in time is cut off.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use testkit::daemon::{
    parse_http, Daemon, DaemonConfig, FakeInternet, HttpAnswer, API_KEY, LISTED_IP, LISTED_NET,
};

/// How long anything may take on a busy machine before the test calls it stuck.
const PATIENCE: Duration = Duration::from_secs(30);

fn daemon(config: DaemonConfig) -> Daemon {
    config
        .list("ip_net.deny.lst", &format!("{LISTED_NET}\n"))
        .start()
}

fn policy_body(ip: &str) -> String {
    format!(r#"{{"login":"alice","protocol":"imap","remote":"{ip}","user":"alice","tls":false}}"#)
}

/// The head of a Dovecot policy request announcing `length` body bytes.
fn policy_head(key: Option<&str>, length: usize) -> String {
    let mut head = format!(
        "POST /?command=allow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    );
    if let Some(key) = key {
        head.push_str(&format!("X-API-Key: {key}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Reads until the daemon closes the connection (or `PATIENCE` passes).
fn read_answer(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(PATIENCE)).ok();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// A good Dovecot request for the listed address on a fresh connection, and how long the
/// answer took.
fn good_request(port: u16) -> (HttpAnswer, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let body = policy_body(LISTED_IP);
    let request = format!(
        "{}{body}",
        policy_head(Some(API_KEY), body.len()).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")
    );
    s.write_all(request.as_bytes()).expect("send");
    let answer = parse_http(&read_answer(&mut s));
    (answer, started.elapsed())
}

/// The value of the metric line starting with `series` (name and labels).
fn metric(d: &Daemon, series: &str) -> Option<f64> {
    let m = d.get("/metrics", Some(API_KEY));
    m.body
        .lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
}

/// Waits until `series` reaches `at_least`.
fn wait_for_metric(d: &Daemon, series: &str, at_least: f64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = metric(d, series).unwrap_or(0.0);
        if value >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} stayed at {value}, expected {at_least}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ask_postfix(addr: SocketAddr, ip: &str, user: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect postfix");
    s.set_read_timeout(Some(PATIENCE)).ok();
    write!(
        s,
        "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address={ip}\nsasl_username={user}\n\n"
    )
    .expect("send");
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Raises this process's soft descriptor limit to its hard limit (the test holds over a
/// thousand sockets; many systems start at a soft limit of 1,024).
fn raise_own_descriptor_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )
    .expect("raise RLIMIT_NOFILE to the hard limit");
}

#[test]
fn idle_postfix_connections_at_the_cap_do_not_lock_postfix_out() {
    raise_own_descriptor_limit();
    let internet = FakeInternet::start();
    // Enough descriptors for both default caps (512 + 1,024), so the cap is 1,024.
    let d = daemon(DaemonConfig::new(&internet).postfix().nofile(4096));
    let addr = d.postfix_addr();
    // 1,024 clients connect and say nothing: every place is taken.
    let idle: Vec<TcpStream> = (0..1024)
        .map(|_| TcpStream::connect(addr).expect("connect an idle client"))
        .collect();
    wait_for_metric(
        &d,
        r#"badclients_connections_open{listener="postfix"}"#,
        1024.0,
    );

    let started = Instant::now();
    let reply = ask_postfix(addr, LISTED_IP, "alice");
    let took = started.elapsed();
    assert!(reply.starts_with("action=REJECT "), "{reply:?}");
    assert!(took < Duration::from_secs(20), "answered after {took:?}");
    let evicted = metric(
        &d,
        r#"badclients_connections_closed_total{listener="postfix",reason="evicted"}"#,
    );
    assert!(evicted.is_some_and(|n| n >= 1.0), "{evicted:?}");
    // Still serving, and still at most the cap.
    assert!(ask_postfix(addr, LISTED_IP, "alice").starts_with("action=REJECT "));
    let open = metric(&d, r#"badclients_connections_open{listener="postfix"}"#);
    assert!(open.is_some_and(|n| n <= 1024.0), "{open:?}");
    drop(idle);
}

#[test]
fn slow_bodies_with_few_descriptors_do_not_starve_good_requests() {
    let internet = FakeInternet::start();
    // The body deadline is far away: only the connection cap can help here.
    let d = daemon(
        DaemonConfig::new(&internet)
            .http("body_timeout_ms = 300000")
            .nofile(256),
    );
    let port = d.http_port();
    // 300 authenticated clients send a head and the first byte of a long body, then stall.
    let hostile: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect a slow client");
            let _ = s.write_all(format!("{}{{", policy_head(Some(API_KEY), 100_000)).as_bytes());
            s
        })
        .collect();
    // The cap was reached: slow clients were closed to make room.
    wait_for_metric(
        &d,
        r#"badclients_connections_closed_total{listener="http",reason="evicted"}"#,
        1.0,
    );
    for _ in 0..5 {
        let (answer, took) = good_request(port);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.body.contains("\"status\":-1"), "{answer:?}");
        assert!(took < Duration::from_secs(15), "answered after {took:?}");
    }
    drop(hostile);
}

#[test]
fn an_unauthenticated_slow_body_is_refused_before_it_is_read() {
    let internet = FakeInternet::start();
    let d = daemon(DaemonConfig::new(&internet).http("body_timeout_ms = 300000"));
    for key in [Some("wrong-key"), None] {
        let started = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", d.http_port())).expect("connect");
        // A head promising 100,000 bytes and only the first few of them.
        s.write_all(format!("{}{{\"remote\":", policy_head(key, 100_000)).as_bytes())
            .expect("send");
        let answer = parse_http(&read_answer(&mut s));
        let took = started.elapsed();
        assert_eq!(answer.status, 401, "{key:?}: {answer:?}");
        assert!(answer.body.contains("API key"), "{answer:?}");
        // Refused and closed long before the body (or its deadline) could arrive.
        assert!(took < Duration::from_secs(20), "{key:?}: took {took:?}");
    }
    let (answer, _) = good_request(d.http_port());
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn the_body_deadline_closes_a_trickling_connection() {
    let internet = FakeInternet::start();
    let d = daemon(DaemonConfig::new(&internet).http("body_timeout_ms = 1000"));
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", d.http_port())).expect("connect");
    s.write_all(format!("{}{{", policy_head(Some(API_KEY), 1000)).as_bytes())
        .expect("send the head");
    // One byte every 100 ms: the whole body would take 100 s.
    let mut trickle = s.try_clone().expect("clone the socket");
    let trickler = std::thread::spawn(move || {
        let mut sent = 1;
        while sent < 1000 && trickle.write_all(b" ").is_ok() {
            sent += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        sent
    });
    let answer = parse_http(&read_answer(&mut s));
    let took = started.elapsed();
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(took < Duration::from_secs(25), "closed after {took:?}");
    let sent = trickler.join().expect("trickler");
    assert!(sent < 1000, "the whole body was sent");
    wait_for_metric(
        &d,
        r#"badclients_connections_closed_total{listener="http",reason="body_timeout"}"#,
        1.0,
    );
    let (answer, _) = good_request(d.http_port());
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn running_out_of_descriptors_frees_one_for_the_next_client() {
    let internet = FakeInternet::start();
    let d = daemon(DaemonConfig::new(&internet).http("body_timeout_ms = 300000"));
    // The limit is lowered after the start, so the caps (fitted at the start) are too
    // high: accept fails with EMFILE and must free a descriptor instead of stalling.
    let lowered = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", d.pid()))
        .arg("--nofile=128:128")
        .status()
        .expect("run prlimit");
    assert!(lowered.success(), "prlimit failed: {lowered:?}");
    let port = d.http_port();
    let hostile: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect a slow client");
            let _ = s.write_all(format!("{}{{", policy_head(Some(API_KEY), 100_000)).as_bytes());
            s
        })
        .collect();
    wait_for_metric(
        &d,
        r#"badclients_connection_accept_errors_total{listener="http"}"#,
        1.0,
    );
    for _ in 0..3 {
        let (answer, took) = good_request(port);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.body.contains("\"status\":-1"), "{answer:?}");
        assert!(took < Duration::from_secs(15), "answered after {took:?}");
    }
    drop(hostile);
}
