//! The badclients daemon as a process (`badclients serve --config …`) against the fake
//! internet ([`FakeInternet`], in `internet.rs`; re-exported here with the HTTP helpers of
//! `http.rs`, as the tests import them from here).
//!
//! [`DaemonConfig`] writes a configuration
//! and a list directory into a temporary directory and [`DaemonConfig::start`] runs the binary,
//! waits for its `badclients: ready …` line and keeps every stderr line for assertions.
//! Dropping a [`Daemon`] sends SIGTERM (SIGKILL after 5 s).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::http::exchange;
pub use crate::http::{parse_http, policy_login, HttpAnswer};
pub use crate::internet::FakeInternet;
use crate::release::{InstanceDir, Release};

/// The API key every test daemon requires.
pub const API_KEY: &str = "test-api-key";
/// What a refused client is told.
pub const BLOCK_MESSAGE: &str = "badclients: login from your network is not allowed";
/// The listed network (VK / mail.ru, AS47764).
pub const LISTED_NET: &str = "176.112.168.0/21";
/// The contract's VK address, inside [`LISTED_NET`]; the fakes know its facts.
pub const LISTED_IP: &str = "176.112.169.218";
/// The contract's Google address, on no list; the fakes know its facts.
pub const UNLISTED_IP: &str = "209.85.218.15";
/// The second Google address.
pub const UNLISTED_IP2: &str = "209.85.218.53";

/// How long the daemon may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A free TCP port on 127.0.0.1 (the listener is closed again; the port stays free in practice).
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct free TCP ports on 127.0.0.1.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    let mut ports = [0u16; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr().expect("local_addr").port();
    }
    ports
}

/// Fails the test when not running as root (Dovecot and Postfix test instances need it).
pub fn require_root(what: &str) {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert_eq!(
        uid, "0",
        "{what} needs root: the throwaway Dovecot/Postfix instances run as root \
         (run the tests as root, e.g. in the CI container)"
    );
}

/// Where the daemon's HTTP server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpListen {
    Tcp(u16),
    Unix(PathBuf),
}

/// A daemon configuration, written to a temporary directory by [`DaemonConfig::start`].
pub struct DaemonConfig {
    dir: tempfile::TempDir,
    mode: String,
    service_modes: Vec<(String, String)>,
    api_key: Option<String>,
    http: HttpListen,
    postfix_port: Option<u16>,
    extra: String,
    http_extra: String,
    lookup: String,
    sections: String,
    history: String,
    nofile: Option<u64>,
    umask: Option<u32>,
    /// The address a TCP listener binds (clients still connect to 127.0.0.1).
    http_bind: &'static str,
    /// The directory of a unix socket kept outside `dir` (see [`DaemonConfig::http_unix_in`]).
    socket_dir: Option<InstanceDir>,
}

impl DaemonConfig {
    /// Enforce mode, the API key [`API_KEY`], HTTP on a free loopback port, the Postfix
    /// service off, empty lists, lookups against `internet`.
    pub fn new(internet: &FakeInternet) -> DaemonConfig {
        let dir = tempfile::Builder::new()
            .prefix("bcd")
            .tempdir_in("/tmp")
            .expect("temporary directory for the daemon");
        std::fs::create_dir_all(dir.path().join("lists")).expect("mkdir lists");
        // Dovecot's auth-worker (root) and the shim reach the unix socket inside.
        set_mode(dir.path(), 0o755);
        DaemonConfig {
            dir,
            mode: "enforce".into(),
            service_modes: Vec::new(),
            api_key: Some(API_KEY.into()),
            http: HttpListen::Tcp(free_port()),
            postfix_port: None,
            extra: String::new(),
            http_extra: String::new(),
            lookup: String::new(),
            sections: internet.config_sections(),
            history: String::new(),
            nofile: None,
            umask: None,
            http_bind: "127.0.0.1",
            socket_dir: None,
        }
    }

    /// HTTP on every address (`0.0.0.0`), for a test that reaches the daemon from a network
    /// namespace of its own.
    pub fn http_on_all_addresses(mut self) -> Self {
        self.http_bind = "0.0.0.0";
        self
    }

    /// Runs the daemon with `RLIMIT_NOFILE` set to `limit` (soft and hard), through
    /// prlimit(1).
    pub fn nofile(mut self, limit: u64) -> Self {
        self.nofile = Some(limit);
        self
    }

    /// Starts the daemon with this umask (set in the child only: the tests' process and its
    /// other children keep theirs).
    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = Some(mask);
        self
    }

    /// `mode = "enforce"` or `"audit"`.
    pub fn mode(mut self, mode: &str) -> Self {
        self.mode = mode.into();
        self
    }

    /// A `[service_modes]` entry.
    pub fn service_mode(mut self, service: &str, mode: &str) -> Self {
        self.service_modes.push((service.into(), mode.into()));
        self
    }

    /// No API key.
    pub fn without_api_key(mut self) -> Self {
        self.api_key = None;
        self
    }

    /// HTTP on a unix socket inside the daemon's directory.
    pub fn http_unix(mut self) -> Self {
        self.http = HttpListen::Unix(self.dir.path().join("http.sock"));
        self
    }

    /// HTTP on a unix socket that programs in `release` reach: the daemon's directory on
    /// Debian 12, a temporary directory under the root's /tmp on Debian 13 (see
    /// [`Daemon::http_url_in`]).
    pub fn http_unix_in(mut self, release: Release) -> Self {
        if release.root().is_none() {
            return self.http_unix();
        }
        let dir = release.instance_dir("bcd");
        self.http = HttpListen::Unix(dir.host().join("http.sock"));
        self.socket_dir = Some(dir);
        self
    }

    /// The Postfix policy service on a free loopback port.
    pub fn postfix(mut self) -> Self {
        self.postfix_port = Some(free_port());
        self
    }

    /// More top-level TOML lines.
    /// More keys of the `[http]` section.
    pub fn http(mut self, toml: &str) -> Self {
        self.http_extra.push_str(toml);
        self.http_extra.push('\n');
        self
    }

    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    /// More `[lookup]` lines, e.g. `on_error = "tempfail"`.
    pub fn lookup(mut self, toml: &str) -> Self {
        self.lookup.push_str(toml);
        self.lookup.push('\n');
        self
    }

    /// More `[history]` lines (the history file is `history.redb` in the daemon's directory
    /// unless they give a `path`).
    pub fn history(mut self, toml: &str) -> Self {
        self.history.push_str(toml);
        self.history.push('\n');
        self
    }

    /// The `[cache]` section's keys instead of `memory_only = true` (a relative `path` is
    /// taken relative to the configuration, in the daemon's directory).
    pub fn cache(mut self, toml: &str) -> Self {
        self.sections = self.sections.replace(
            "[cache]\nmemory_only = true\n",
            &format!("[cache]\n{toml}\n"),
        );
        self
    }

    /// A list file (relative to the list directory).
    pub fn list(self, file: &str, content: &str) -> Self {
        write_list(&self.dir.path().join("lists"), file, content);
        self
    }

    /// The configuration text.
    pub fn toml(&self) -> String {
        let mut t = format!(
            "list_path = \"lists\"\nmode = \"{}\"\n{}\n",
            self.mode, self.extra
        );
        if !self.service_modes.is_empty() {
            t.push_str("[service_modes]\n");
            for (service, mode) in &self.service_modes {
                t.push_str(&format!("{service} = \"{mode}\"\n"));
            }
            t.push('\n');
        }
        t.push_str("[http]\n");
        match &self.http {
            HttpListen::Tcp(port) => {
                t.push_str(&format!("listen = \"{}:{port}\"\n", self.http_bind))
            }
            HttpListen::Unix(path) => {
                t.push_str(&format!("listen = \"unix:{}\"\n", path.display()));
                t.push_str("socket_mode = \"0666\"\n");
            }
        }
        if let Some(key) = &self.api_key {
            t.push_str(&format!("api_key = \"{key}\"\n"));
        }
        t.push_str("api_header = \"X-API-Key\"\n");
        t.push_str(&format!("block_message = \"{BLOCK_MESSAGE}\"\n"));
        t.push_str(&self.http_extra);
        t.push('\n');
        if let Some(port) = self.postfix_port {
            t.push_str(&format!("[postfix]\nlisten = \"127.0.0.1:{port}\"\n\n"));
        }
        let flush = if self.history.contains("flush_ms") {
            ""
        } else {
            "flush_ms = 50\n"
        };
        let path = if self.history.contains("path =") {
            String::new()
        } else {
            format!(
                "path = \"{}\"\n",
                self.dir.path().join("history.redb").display()
            )
        };
        t.push_str(&format!("[history]\n{path}{flush}{}\n", self.history));
        t.push_str(&self.sections.replace("@LOOKUP@", &self.lookup));
        t
    }

    /// Writes the configuration and starts the daemon; returns once it is ready.
    pub fn start(self) -> Daemon {
        let config = self.dir.path().join("badclients.toml");
        std::fs::write(&config, self.toml()).expect("write badclients.toml");
        let mut daemon = Daemon {
            child: None,
            lines: Arc::new((Mutex::new(Vec::new()), Condvar::new())),
            config,
            http: self.http.clone(),
            postfix_port: self.postfix_port,
            api_key: self.api_key.clone(),
            nofile: self.nofile,
            umask: self.umask,
            http_bind: self.http_bind,
            _socket_dir: self.socket_dir,
            dir: self.dir,
        };
        daemon.spawn();
        daemon
    }
}

fn write_list(lists: &Path, file: &str, content: &str) {
    let path = lists.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir list subdirectory");
    }
    std::fs::write(&path, content).expect("write list file");
}

/// A daemon stderr line without its leading RFC 3339 time (`2026-12-03T08:40:12.123456Z `),
/// which [`is_stamped`] checks is there: the tests compare what follows it.
pub fn without_time(line: &str) -> &str {
    if is_stamped(line) {
        &line[TIME_LEN + 1..]
    } else {
        line
    }
}

/// The length of the time the daemon puts before each stderr line.
const TIME_LEN: usize = "2026-12-03T08:40:12.123456Z".len();

/// Whether `line` starts with the daemon's RFC 3339 time and a space.
pub fn is_stamped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > TIME_LEN
        && b[TIME_LEN] == b' '
        && b[TIME_LEN - 1] == b'Z'
        && b[10] == b'T'
        && b[..4].iter().all(u8::is_ascii_digit)
}

/// Sets the permission bits of `path`.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Sends `signal` (e.g. "TERM") to `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Waits for `child` to exit, SIGTERM first, SIGKILL after `grace`.
pub fn terminate(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    send_signal(child.id(), "TERM");
    let t0 = Instant::now();
    while t0.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

type Lines = Arc<(Mutex<Vec<String>>, Condvar)>;

/// A running `badclients serve`.
pub struct Daemon {
    child: Option<Child>,
    lines: Lines,
    config: PathBuf,
    http: HttpListen,
    postfix_port: Option<u16>,
    api_key: Option<String>,
    nofile: Option<u64>,
    umask: Option<u32>,
    http_bind: &'static str,
    // Last: removed after the process is gone. Only held (the unix socket's directory in a
    // release's root), never read.
    _socket_dir: Option<InstanceDir>,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn spawn(&mut self) {
        let start = self.lines().len();
        let mut command = match self.nofile {
            // prlimit sets the limit and execs the daemon (same pid).
            Some(limit) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={limit}:{limit}"))
                    .arg("--")
                    .arg(crate::exe());
                c
            }
            None => Command::new(crate::exe()),
        };
        if let Some(mask) = self.umask {
            // SAFETY: umask(2) is async-signal-safe and only changes the child's mask (which
            // prlimit, when it runs first, passes on through exec).
            unsafe {
                command.pre_exec(move || {
                    libc::umask(mask as libc::mode_t);
                    Ok(())
                });
            }
        }
        let mut child = command
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn badclients serve");
        let stderr = child.stderr.take().expect("daemon stderr");
        let lines = Arc::clone(&self.lines);
        std::thread::spawn(move || {
            let reader = BufReader::new(stderr);
            for line in reader.split(b'\n') {
                let Ok(line) = line else { break };
                let line = without_time(&String::from_utf8_lossy(&line)).to_owned();
                let (store, cv) = &*lines;
                store.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                cv.notify_all();
            }
        });
        self.child = Some(child);
        let ready = self.wait_for_from(start, READY_TIMEOUT, |l| l.contains("badclients: ready"));
        let Some(ready) = ready else {
            let status = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            panic!(
                "badclients serve did not print `badclients: ready` within {READY_TIMEOUT:?} \
                 (exit status {status:?}); config:\n{}\nstderr:\n{}",
                std::fs::read_to_string(&self.config).unwrap_or_default(),
                self.stderr()
            );
        };
        let expect_http = match &self.http {
            HttpListen::Tcp(port) => format!("http={}:{port}", self.http_bind),
            HttpListen::Unix(path) => format!("http=unix:{}", path.display()),
        };
        assert!(
            ready.contains(&expect_http),
            "ready line {ready:?} does not name {expect_http}"
        );
        if let Some(port) = self.postfix_port {
            let expect = format!("postfix=127.0.0.1:{port}");
            assert!(
                ready.contains(&expect),
                "ready line {ready:?} does not name {expect}"
            );
        }
    }

    /// Kills the process with SIGKILL (no cleanup at all) and waits for it.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the daemon again with the same configuration (after [`Daemon::kill_hard`]
    /// or [`Daemon::stop`]); returns once it is ready.
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none() || !self.is_running(),
            "the daemon is still running"
        );
        self.child = None;
        self.spawn();
    }

    /// The pid of the running process.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("daemon is running")
    }

    /// The daemon's directory (configuration, `lists/`, the unix socket).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The list directory.
    pub fn lists(&self) -> PathBuf {
        self.dir.path().join("lists")
    }

    /// Writes (replaces) a list file while the daemon runs.
    pub fn write_list(&self, file: &str, content: &str) {
        write_list(&self.lists(), file, content);
    }

    /// The configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The HTTP address: `http://127.0.0.1:PORT` or `unix:/path`.
    pub fn http_url(&self) -> String {
        match &self.http {
            HttpListen::Tcp(port) => format!("http://127.0.0.1:{port}"),
            HttpListen::Unix(path) => format!("unix:{}", path.display()),
        }
    }

    /// The HTTP address as a program in `release` reaches it: [`Daemon::http_url`], with a unix
    /// socket's path as seen inside the Debian 13 root (start the daemon with
    /// [`DaemonConfig::http_unix_in`]).
    pub fn http_url_in(&self, release: Release) -> String {
        match &self.http {
            HttpListen::Tcp(_) => self.http_url(),
            HttpListen::Unix(path) => format!("unix:{}", release.inside_path(path).display()),
        }
    }

    /// The HTTP port (TCP daemons only).
    pub fn http_port(&self) -> u16 {
        match &self.http {
            HttpListen::Tcp(port) => *port,
            HttpListen::Unix(path) => panic!("daemon listens on unix:{}", path.display()),
        }
    }

    /// The Postfix policy service's address.
    pub fn postfix_addr(&self) -> SocketAddr {
        let port = self
            .postfix_port
            .expect("daemon started without .postfix()");
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The configured API key.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// Every stderr line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// All of stderr so far, for failure messages.
    pub fn stderr(&self) -> String {
        self.lines().join("\n")
    }

    /// The `mail-audit:` lines so far (from `mail-audit:` on).
    pub fn audit_lines(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|l| l.find("mail-audit: ").map(|i| l[i..].to_string()))
            .collect()
    }

    /// The stderr lines so far that contain `needle`.
    pub fn lines_containing(&self, needle: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect()
    }

    /// `GET /metrics` with the API key; the exposition text (asserts 200).
    pub fn metrics(&self) -> String {
        let answer = self.get("/metrics", self.api_key.as_deref());
        assert_eq!(answer.status, 200, "GET /metrics: {answer:?}");
        answer.body
    }

    /// `badclients report --config CONFIG ARGS…` in the daemon's directory (stop the daemon
    /// first to read the history file as written, or it asks the running daemon).
    pub fn report(&self, args: &[&str]) -> std::process::Output {
        let config = self.config.to_str().expect("a UTF-8 config path");
        let mut all = vec!["report", "--config", config];
        all.extend_from_slice(args);
        crate::badclients(&all, self.dir.path())
    }

    /// Waits until a stderr line (any, also earlier ones) satisfies `pred`.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.wait_for_from(0, timeout, pred)
    }

    /// The `mail-audit:` line (from the marker on) of `user`'s `service` login from `ip`,
    /// waiting up to 5 s for it; empty when none came.
    pub fn audit_line_for(&self, user: &str, service: &str, ip: &str) -> String {
        let needle = format!("mail-audit: user=<{user}>, service={service}, ip={ip},");
        self.wait_for(Duration::from_secs(5), |l| l.contains(&needle))
            .and_then(|l| l.find("mail-audit: ").map(|i| l[i..].to_string()))
            .unwrap_or_default()
    }

    /// Waits until a stderr line from index `from` on satisfies `pred`.
    pub fn wait_for_from(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (store, cv) = &*self.lines;
        let mut lines = store.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(l) = lines.iter().skip(from).find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let step = (deadline - now).min(Duration::from_millis(100));
            lines = cv
                .wait_timeout(lines, step)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Sends SIGHUP (reload lists and configuration).
    pub fn sighup(&self) {
        assert!(send_signal(self.pid(), "HUP"), "kill -HUP daemon");
    }

    /// Stops the daemon (SIGTERM, SIGKILL after 5 s). Returns its exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        terminate(&mut child, Duration::from_secs(5));
        child.wait().ok()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// A plain HTTP/1.1 GET to the daemon (TCP or unix socket), sending `api_key` (if any) in
    /// the `X-API-Key` header.
    pub fn get(&self, target: &str, api_key: Option<&str>) -> HttpAnswer {
        let mut head = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if let Some(key) = api_key {
            head.push_str(&format!("X-API-Key: {key}\r\n"));
        }
        head.push_str("\r\n");
        self.send(&head, Duration::from_secs(10))
    }

    /// A Dovecot auth-policy request (`POST /?command=allow`, imap) for `user` from `ip`,
    /// with the API key; the answer is awaited for at most `timeout`.
    pub fn policy_allow(&self, user: &str, ip: &str, timeout: Duration) -> HttpAnswer {
        let body = serde_json::json!({
            "login": user, "user": user, "remote": ip, "protocol": "imap",
            "local": "127.0.0.1", "lport": "10143", "rport": "40001", "mech": "PLAIN",
            "session_id": "s1", "tls": false,
        })
        .to_string();
        let mut request = format!(
            "POST /?command=allow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(key) = &self.api_key {
            request.push_str(&format!("X-API-Key: {key}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        self.send(&request, timeout)
    }

    /// Sends `request` (a whole raw HTTP request) and returns the answer.
    pub fn send_raw(&self, request: &str) -> HttpAnswer {
        self.send(request, Duration::from_secs(30))
    }

    /// Sends one HTTP request (TCP or unix socket) and reads the answer until the daemon
    /// closes the connection, waiting at most `timeout` for each read.
    fn send(&self, request: &str, timeout: Duration) -> HttpAnswer {
        let raw = match &self.http {
            HttpListen::Tcp(port) => {
                let mut s = TcpStream::connect(("127.0.0.1", *port)).expect("connect daemon");
                s.set_read_timeout(Some(timeout)).ok();
                exchange(&mut s, request)
            }
            HttpListen::Unix(path) => {
                let mut s =
                    std::os::unix::net::UnixStream::connect(path).expect("connect daemon socket");
                s.set_read_timeout(Some(timeout)).ok();
                exchange(&mut s, request)
            }
        };
        parse_http(&raw)
    }
}

/// The `service=` of each audit line, in order (empty where a line has none).
pub fn audit_services(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| {
            l.split(", ")
                .find_map(|f| f.strip_prefix("service="))
                .unwrap_or_default()
        })
        .collect()
}

/// The sum of the `badclients_decisions_total` samples in the exposition `metrics` whose
/// labels include every `label="value"` of `labels` (all of them for `&[]`).
pub fn decisions(metrics: &str, labels: &[&str]) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("badclients_decisions_total{"))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .map(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("not a sample: {l:?}")) as u64
        })
        .sum()
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
