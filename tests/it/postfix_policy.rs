//! The Postfix policy server over real sockets (TCP on 127.0.0.1, unix sockets in a
//! temporary directory): the request Postfix 3.7 sent in the reference capture, several
//! requests per connection, every kind of bad input, timeouts, limits and shutdown.

use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use badclients::postfix::{
    serve, BindError, ListenAddr, PolicyAction, PolicyHandler, PolicyLimits, PolicyListener,
    PolicyRequest,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const BLOCKED_IP: &str = "176.112.169.218";
const REJECT_TEXT: &str = "5.7.1 badclients: mail from your network is not accepted";
const REJECT_REPLY: &str =
    "action=REJECT 5.7.1 badclients: mail from your network is not accepted\n\n";
const DUNNO_REPLY: &str = "action=DUNNO\n\n";
/// How long any single wait in these tests may take before it counts as a failure.
const PATIENCE: Duration = Duration::from_secs(5);

/// The request Postfix 3.7 sent at RCPT after `XCLIENT ADDR=8.8.8.8` + `AUTH PLAIN`
/// (reference §6), byte for byte.
const CAPTURED: &str = "request=smtpd_access_policy
protocol_state=RCPT
protocol_name=ESMTP
client_address=8.8.8.8
client_name=unknown
client_port=50390
reverse_client_name=localhost
server_address=127.0.0.1
server_port=2525
helo_name=client.e2e.test
sender=sender@e2e.test
recipient=someone@example.org
recipient_count=0
queue_id=
instance=7899.6b095cd5.57fb9.0
size=0
etrn_domain=
stress=
sasl_method=PLAIN
sasl_username=alice
sasl_sender=
ccert_subject=
ccert_issuer=
ccert_fingerprint=
ccert_pubkey_fingerprint=
encryption_protocol=
encryption_cipher=
encryption_keysize=0
policy_context=

";

/// The captured request with another client address and SASL user name.
fn captured_with(ip: &str, user: &str) -> String {
    CAPTURED
        .replace("client_address=8.8.8.8", &format!("client_address={ip}"))
        .replace("sasl_username=alice", &format!("sasl_username={user}"))
}

/// Rejects [`BLOCKED_IP`] when the session authenticated, DUNNO otherwise. The user
/// names `slow`, `hang` and `panic` make it sleep 300 ms, sleep for a minute, or panic.
#[derive(Default)]
struct FakeHandler {
    seen: Mutex<Vec<PolicyRequest>>,
}

impl FakeHandler {
    fn seen(&self) -> Vec<PolicyRequest> {
        self.seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }
}

impl PolicyHandler for FakeHandler {
    async fn check(&self, request: PolicyRequest) -> PolicyAction {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(request.clone());
        }
        match request.sasl_username.as_deref() {
            Some("slow") => tokio::time::sleep(Duration::from_millis(300)).await,
            Some("hang") => tokio::time::sleep(Duration::from_secs(60)).await,
            Some("panic") => panic!("the handler fell over"),
            _ => {}
        }
        let blocked = request.client_address == Some(BLOCKED_IP.parse().unwrap());
        if blocked && request.sasl_username.is_some() {
            PolicyAction::Reject(REJECT_TEXT.into())
        } else {
            PolicyAction::Dunno
        }
    }
}

/// A running server and the means to stop it.
struct Server {
    addr: ListenAddr,
    handler: Arc<FakeHandler>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(addr: &ListenAddr, mode: Option<u32>, limits: PolicyLimits) -> Server {
        let listener = PolicyListener::bind(addr, mode).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler = Arc::new(FakeHandler::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, Arc::clone(&handler), limits, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            handler,
            stop: Some(stop),
            task,
        }
    }

    async fn tcp(limits: PolicyLimits) -> Server {
        Server::start(&"127.0.0.1:0".parse().unwrap(), None, limits).await
    }

    fn tcp_addr(&self) -> SocketAddr {
        self.addr.tcp_addr().unwrap()
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.tcp_addr()).await.unwrap()
    }

    /// Resolves the shutdown future and waits for `serve` to return; how long it took.
    async fn shutdown(mut self) -> Duration {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("serve did not return after shutdown")
            .unwrap();
        started.elapsed()
    }
}

fn quick_idle() -> PolicyLimits {
    PolicyLimits {
        idle_timeout: Duration::from_millis(400),
        ..PolicyLimits::default()
    }
}

/// Reads one reply: bytes up to and including the empty line.
async fn read_reply<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    tokio::time::timeout(PATIENCE, read_until_blank(stream))
        .await
        .expect("no reply in time")
}

async fn read_until_blank<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\n\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert!(n > 0, "closed before a full reply: {reply:?}");
        reply.push(byte[0]);
    }
    String::from_utf8(reply).unwrap()
}

/// Sends `request` and returns the reply.
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    read_reply(stream).await
}

/// Asserts the server closes the connection (EOF or reset) within `within`, without
/// sending anything.
async fn assert_closed_within<S: AsyncRead + Unpin>(stream: &mut S, within: Duration) {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(within, stream.read(&mut buf))
        .await
        .expect("connection still open");
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("unexpected bytes before close: {:?}", &buf[..n]),
    }
}

/// A fresh connection still gets the right answers (both verdicts).
async fn assert_serves_good_requests(server: &Server) {
    let mut stream = server.connect().await;
    assert_eq!(
        ask(&mut stream, captured_with(BLOCKED_IP, "alice").as_bytes()).await,
        REJECT_REPLY
    );
    assert_eq!(ask(&mut stream, CAPTURED.as_bytes()).await, DUNNO_REPLY);
}

#[tokio::test]
async fn the_captured_postfix_request_over_tcp() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let mut stream = server.connect().await;
    assert_eq!(ask(&mut stream, CAPTURED.as_bytes()).await, DUNNO_REPLY);

    let seen = server.handler.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.client_address, Some("8.8.8.8".parse().unwrap()));
    assert_eq!(request.sasl_username.as_deref(), Some("alice"));
    assert_eq!(request.protocol_state.as_deref(), Some("RCPT"));
    assert_eq!(request.instance.as_deref(), Some("7899.6b095cd5.57fb9.0"));
    assert_eq!(request.sasl_method(), Some("PLAIN"));
    assert_eq!(request.client_name(), Some("unknown"));
    assert_eq!(request.reverse_client_name(), Some("localhost"));
    assert_eq!(request.helo_name(), Some("client.e2e.test"));
    assert_eq!(request.sender(), Some("sender@e2e.test"));
    assert_eq!(request.recipient(), Some("someone@example.org"));
    assert_eq!(request.sasl_sender(), None);
    assert_eq!(
        request.attributes.len(),
        CAPTURED.trim_end().lines().count()
    );
    assert_eq!(
        request.attributes.get("policy_context").map(String::as_str),
        Some("")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn several_requests_on_one_connection() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let mut stream = server.connect().await;
    let requests = [
        (captured_with(BLOCKED_IP, "alice"), REJECT_REPLY),
        (captured_with(BLOCKED_IP, ""), DUNNO_REPLY),
        (CAPTURED.to_owned(), DUNNO_REPLY),
        (captured_with(BLOCKED_IP, "bob"), REJECT_REPLY),
    ];
    for (request, expected) in &requests {
        assert_eq!(ask(&mut stream, request.as_bytes()).await, *expected);
    }
    assert_eq!(server.handler.seen().len(), requests.len());
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_in_one_write_are_answered_in_order() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let mut stream = server.connect().await;
    let both = format!("{}{}", captured_with(BLOCKED_IP, "alice"), CAPTURED);
    stream.write_all(both.as_bytes()).await.unwrap();
    assert_eq!(read_reply(&mut stream).await, REJECT_REPLY);
    assert_eq!(read_reply(&mut stream).await, DUNNO_REPLY);
    server.shutdown().await;
}

#[tokio::test]
async fn ipv6_loopback_and_ipv6_client_addresses() {
    let Ok(listener) = PolicyListener::bind(&"[::1]:0".parse().unwrap(), None).await else {
        eprintln!("no IPv6 loopback here, skipping");
        return;
    };
    let addr = listener.local_addr().unwrap().tcp_addr().unwrap();
    let handler = Arc::new(FakeHandler::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        listener,
        Arc::clone(&handler),
        PolicyLimits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let v6 = captured_with("2001:db8::25", "alice");
    assert_eq!(ask(&mut stream, v6.as_bytes()).await, DUNNO_REPLY);
    assert_eq!(
        handler.seen()[0].client_address,
        Some("2001:db8::25".parse().unwrap())
    );
    let _ = stop.send(());
    tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn the_captured_request_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.sock");
    let addr: ListenAddr = format!("unix:{}", path.display()).parse().unwrap();
    let server = Server::start(&addr, Some(0o660), PolicyLimits::default()).await;
    assert_eq!(server.addr, addr);

    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660);

    let mut stream = UnixStream::connect(&path).await.unwrap();
    assert_eq!(ask(&mut stream, CAPTURED.as_bytes()).await, DUNNO_REPLY);
    let blocked = captured_with(BLOCKED_IP, "alice");
    assert_eq!(ask(&mut stream, blocked.as_bytes()).await, REJECT_REPLY);
    assert_eq!(
        server.handler.seen()[0].sasl_username.as_deref(),
        Some("alice")
    );
    drop(stream);

    server.shutdown().await;
    assert!(!path.exists(), "the socket file is removed on shutdown");
}

#[tokio::test]
async fn a_unix_socket_gets_the_requested_mode() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o600, 0o666] {
        let path = dir.path().join(format!("m{mode:o}.sock"));
        let addr = ListenAddr::Unix(path.clone());
        let listener = PolicyListener::bind(&addr, Some(mode)).await.unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, mode);
        drop(listener);
        assert!(!path.exists(), "dropping the listener removes its socket");
    }
    let addr = ListenAddr::Unix(dir.path().join("bad.sock"));
    assert!(matches!(
        PolicyListener::bind(&addr, Some(0o1777)).await,
        Err(BindError::BadMode(0o1777))
    ));
}

#[tokio::test]
async fn a_stale_socket_is_replaced_but_a_live_one_or_a_file_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.sock");
    let addr = ListenAddr::Unix(path.clone());

    // A socket file nobody listens on (its listener is gone): replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = Server::start(&addr, Some(0o660), PolicyLimits::default()).await;
    let mut stream = UnixStream::connect(&path).await.unwrap();
    assert_eq!(ask(&mut stream, CAPTURED.as_bytes()).await, DUNNO_REPLY);

    // While it is served, a second bind must not steal it.
    assert!(matches!(
        PolicyListener::bind(&addr, None).await,
        Err(BindError::InUse(_))
    ));
    assert_eq!(ask(&mut stream, CAPTURED.as_bytes()).await, DUNNO_REPLY);
    drop(stream);
    server.shutdown().await;

    // A regular file is never removed.
    std::fs::write(&path, b"precious").unwrap();
    assert!(matches!(
        PolicyListener::bind(&addr, None).await,
        Err(BindError::NotASocket(_))
    ));
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[tokio::test]
async fn binding_a_busy_tcp_port_is_an_error() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let busy = ListenAddr::Tcp(server.tcp_addr());
    let err = PolicyListener::bind(&busy, None).await.unwrap_err();
    assert!(matches!(err, BindError::Listen { .. }), "{err}");
    assert!(err.to_string().contains(&server.tcp_addr().to_string()));
    server.shutdown().await;
}

/// Sends `bad`, expects `DUNNO`, then a good request on the same connection, then a
/// good request on a new connection.
async fn assert_dunno_and_recovers(server: &Server, bad: &[u8]) {
    let mut stream = server.connect().await;
    assert_eq!(ask(&mut stream, bad).await, DUNNO_REPLY);
    let good = captured_with(BLOCKED_IP, "alice");
    assert_eq!(ask(&mut stream, good.as_bytes()).await, REJECT_REPLY);
    assert_serves_good_requests(server).await;
}

#[tokio::test]
async fn a_line_without_equals_is_answered_dunno() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let bad =
        captured_with(BLOCKED_IP, "alice").replace("client_name=unknown", "client_name unknown");
    assert_dunno_and_recovers(&server, bad.as_bytes()).await;
    // The malformed request never reached the handler.
    assert!(server
        .handler
        .seen()
        .iter()
        .all(|r| r.client_name() == Some("unknown")));
    server.shutdown().await;
}

#[tokio::test]
async fn an_over_long_line_is_answered_dunno() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let long = format!("helo_name={}\n", "h".repeat(10_000));
    let bad = captured_with(BLOCKED_IP, "alice").replacen("helo_name=client.e2e.test\n", &long, 1);
    assert_dunno_and_recovers(&server, bad.as_bytes()).await;
    // Only the three good requests reached the handler.
    assert_eq!(server.handler.seen().len(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_attributes_are_answered_dunno() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let extra: String = (0..200).map(|i| format!("x{i}=y\n")).collect();
    let bad = format!("{}{}", extra, captured_with(BLOCKED_IP, "alice"));
    assert_dunno_and_recovers(&server, bad.as_bytes()).await;
    // Only the three good requests reached the handler.
    assert_eq!(server.handler.seen().len(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn another_request_type_is_answered_dunno() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let bad = captured_with(BLOCKED_IP, "alice").replace("smtpd_access_policy", "junk_policy");
    assert_dunno_and_recovers(&server, bad.as_bytes()).await;
    let no_request =
        captured_with(BLOCKED_IP, "alice").replace("request=smtpd_access_policy\n", "");
    assert_dunno_and_recovers(&server, no_request.as_bytes()).await;
    assert_eq!(server.handler.seen().len(), 6);
    server.shutdown().await;
}

#[tokio::test]
async fn binary_lines_are_answered_dunno() {
    let server = Server::tcp(PolicyLimits::default()).await;
    assert_dunno_and_recovers(&server, b"\x00\xff\xfe\x01\x02\r\n\x7f\x80=\n\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn non_utf8_values_are_converted_lossily() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let mut request = captured_with(BLOCKED_IP, "alice").into_bytes();
    let at = request.len() - 1;
    request.splice(at..at, b"x_binary=a\xffb\x00c\n".iter().copied());
    let mut stream = server.connect().await;
    assert_eq!(ask(&mut stream, &request).await, REJECT_REPLY);
    assert_eq!(
        server.handler.seen()[0].get("x_binary"),
        Some("a\u{fffd}b\0c")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn endless_garbage_closes_that_connection_only() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let mut other = server.connect().await;
    let mut stream = server.connect().await;
    // 70 KiB of pseudo-random bytes without a single empty line.
    let mut state = 0x2545_f491_u32;
    let garbage: Vec<u8> = (0..70 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            match state as u8 {
                b'\n' => b'n',
                b => b,
            }
        })
        .collect();
    // The server may close while we are still writing; that is the point.
    let _ = stream.write_all(&garbage).await;
    assert_closed_within(&mut stream, PATIENCE).await;
    // The connection opened before is unaffected, and so are new ones.
    assert_eq!(ask(&mut other, CAPTURED.as_bytes()).await, DUNNO_REPLY);
    assert_serves_good_requests(&server).await;
    assert_eq!(server.handler.seen().len(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn many_newline_separated_lines_past_the_request_cap_close_the_connection() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let mut stream = server.connect().await;
    let lines = "a=b\n".repeat(20_000);
    let _ = stream.write_all(lines.as_bytes()).await;
    assert_closed_within(&mut stream, PATIENCE).await;
    assert_serves_good_requests(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_idle_timeout() {
    let server = Server::tcp(quick_idle()).await;
    let started = Instant::now();
    let mut silent = server.connect().await;
    // Meanwhile others are served at once.
    assert_serves_good_requests(&server).await;
    assert_closed_within(&mut silent, PATIENCE).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350),
        "closed too early: {waited:?}"
    );
    assert_serves_good_requests(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_incomplete_request_is_closed_after_the_idle_timeout() {
    let server = Server::tcp(quick_idle()).await;
    let stream = server.connect().await;
    let (mut read_half, mut write_half) = stream.into_split();
    let started = Instant::now();
    // A line every 100 ms for 3 s, never the empty line: trickling must not extend the
    // 400 ms the whole request may take.
    let trickle = tokio::spawn(async move {
        let _ = write_half
            .write_all(b"request=smtpd_access_policy\nclient_address=1.2.3.4\n")
            .await;
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write_half.write_all(b"x=y\n").await.is_err() {
                break;
            }
        }
    });
    assert_closed_within(&mut read_half, PATIENCE).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350),
        "closed too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(2500),
        "trickling kept it open: {waited:?}"
    );
    trickle.abort();
    assert!(server.handler.seen().is_empty());
    assert_serves_good_requests(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_idle_timeout_restarts_after_each_reply() {
    let server = Server::tcp(quick_idle()).await;
    let mut stream = server.connect().await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(ask(&mut stream, CAPTURED.as_bytes()).await, DUNNO_REPLY);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_disconnects_mid_request() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let half = &CAPTURED.as_bytes()[..CAPTURED.len() / 2];
    let mut stream = server.connect().await;
    stream.write_all(half).await.unwrap();
    drop(stream);
    // Also a half-close: the write side ends, the read side stays open.
    let mut stream = server.connect().await;
    stream.write_all(half).await.unwrap();
    stream.shutdown().await.unwrap();
    assert_closed_within(&mut stream, PATIENCE).await;
    assert!(server.handler.seen().is_empty());
    assert_serves_good_requests(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_connects_and_leaves_at_once() {
    let server = Server::tcp(PolicyLimits::default()).await;
    for _ in 0..20 {
        drop(server.connect().await);
    }
    assert_serves_good_requests(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_only_loses_its_connection() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let mut stream = server.connect().await;
    stream
        .write_all(captured_with(BLOCKED_IP, "panic").as_bytes())
        .await
        .unwrap();
    assert_closed_within(&mut stream, PATIENCE).await;
    assert_serves_good_requests(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_handler_gets_the_timeout_action() {
    let limits = PolicyLimits {
        request_timeout: Duration::from_millis(100),
        timeout_action: PolicyAction::Defer("4.7.1 try again later".into()),
        ..PolicyLimits::default()
    };
    let server = Server::tcp(limits).await;
    let mut stream = server.connect().await;
    let started = Instant::now();
    assert_eq!(
        ask(&mut stream, captured_with(BLOCKED_IP, "hang").as_bytes()).await,
        "action=DEFER_IF_PERMIT 4.7.1 try again later\n\n"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // The connection goes on.
    assert_eq!(
        ask(&mut stream, captured_with(BLOCKED_IP, "alice").as_bytes()).await,
        REJECT_REPLY
    );
    server.shutdown().await;
}

#[tokio::test]
async fn at_the_cap_the_longest_idle_connection_makes_room() {
    let limits = PolicyLimits {
        max_connections: 2,
        ..PolicyLimits::default()
    };
    let server = Server::tcp(limits).await;
    let mut oldest = server.connect().await;
    assert_eq!(ask(&mut oldest, CAPTURED.as_bytes()).await, DUNNO_REPLY);
    let mut younger = server.connect().await;
    assert_eq!(ask(&mut younger, CAPTURED.as_bytes()).await, DUNNO_REPLY);

    // A third client is answered at once; the connection idle longest was closed for it.
    let mut third = server.connect().await;
    assert_eq!(
        ask(&mut third, captured_with(BLOCKED_IP, "alice").as_bytes()).await,
        REJECT_REPLY
    );
    assert_closed_within(&mut oldest, PATIENCE).await;
    assert_eq!(ask(&mut younger, CAPTURED.as_bytes()).await, DUNNO_REPLY);
    server.shutdown().await;
}

#[tokio::test]
async fn at_the_cap_a_connection_answering_a_request_is_not_closed() {
    let limits = PolicyLimits {
        max_connections: 1,
        request_timeout: Duration::from_secs(2),
        ..PolicyLimits::default()
    };
    let server = Server::tcp(limits).await;
    let mut busy = server.connect().await;
    busy.write_all(captured_with(BLOCKED_IP, "hang").as_bytes())
        .await
        .unwrap();
    // Wait until the slow request is being answered.
    let deadline = Instant::now() + PATIENCE;
    while server.handler.seen().is_empty() {
        assert!(Instant::now() < deadline, "the slow request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut second = server.connect().await;
    second.write_all(CAPTURED.as_bytes()).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "served while the only place was answering a request"
    );
    // The request in flight is answered (the timeout action); then its connection makes
    // room for the second.
    assert_eq!(read_reply(&mut busy).await, DUNNO_REPLY);
    assert_eq!(read_reply(&mut second).await, DUNNO_REPLY);
    assert_closed_within(&mut busy, PATIENCE).await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let addr = server.tcp_addr();
    let mut busy = server.connect().await;
    let mut idle = server.connect().await;
    assert_eq!(ask(&mut idle, CAPTURED.as_bytes()).await, DUNNO_REPLY);

    busy.write_all(captured_with(BLOCKED_IP, "slow").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reply = tokio::spawn(async move {
        let reply = read_reply(&mut busy).await;
        (reply, busy)
    });
    let took = server.shutdown().await;

    // The slow request (300 ms) was answered and then the connection closed.
    let (reply, mut busy) = reply.await.unwrap();
    assert_eq!(reply, REJECT_REPLY);
    assert!(took >= Duration::from_millis(150), "did not wait: {took:?}");
    assert_closed_within(&mut busy, PATIENCE).await;
    // The idle connection was closed without waiting for its idle timeout.
    assert_closed_within(&mut idle, PATIENCE).await;
    // Nothing accepts any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_is_quick_with_only_idle_connections() {
    let server = Server::tcp(PolicyLimits::default()).await;
    let mut idle = server.connect().await;
    let mut half = server.connect().await;
    half.write_all(b"request=smtpd_access_policy\n")
        .await
        .unwrap();
    assert_serves_good_requests(&server).await;
    let took = server.shutdown().await;
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert_closed_within(&mut idle, PATIENCE).await;
    assert_closed_within(&mut half, PATIENCE).await;
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_for_a_hung_handler() {
    let limits = PolicyLimits {
        request_timeout: Duration::from_secs(120),
        shutdown_grace: Duration::from_millis(200),
        ..PolicyLimits::default()
    };
    let server = Server::tcp(limits).await;
    let mut stream = server.connect().await;
    stream
        .write_all(captured_with(BLOCKED_IP, "hang").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let took = server.shutdown().await;
    assert!(
        took >= Duration::from_millis(200),
        "did not wait the grace: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "waited too long: {took:?}");
    assert_closed_within(&mut stream, PATIENCE).await;
}

#[tokio::test]
async fn unix_socket_bad_input_and_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.sock");
    let server = Server::start(&ListenAddr::Unix(path.clone()), None, quick_idle()).await;
    let connect = |p: &Path| UnixStream::connect(p.to_owned());

    let mut stream = connect(&path).await.unwrap();
    assert_eq!(ask(&mut stream, b"no equals here\n\n").await, DUNNO_REPLY);
    drop(stream);

    let mut silent = connect(&path).await.unwrap();
    assert_closed_within(&mut silent, PATIENCE).await;

    let mut stream = connect(&path).await.unwrap();
    stream.write_all(b"request=smtpd_acc").await.unwrap();
    drop(stream);

    let mut stream = connect(&path).await.unwrap();
    let blocked = captured_with(BLOCKED_IP, "alice");
    assert_eq!(ask(&mut stream, blocked.as_bytes()).await, REJECT_REPLY);
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn dropping_the_listener_leaves_a_replaced_socket_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.sock");
    let listener = PolicyListener::bind(&ListenAddr::Unix(path.clone()), None)
        .await
        .unwrap();
    // Someone else took the path over (e.g. a second instance after a manual rm).
    std::fs::remove_file(&path).unwrap();
    let other = std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(listener);
    assert!(path.exists(), "the other socket was removed");
    drop(other);
}
