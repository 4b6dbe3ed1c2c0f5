//! Redis as sites run it, for the tests: a 3-primary Cluster ([`RedisCluster`]), a primary
//! with a replica watched by three sentinels ([`RedisSentinelSet`]), TLS with a CA made by
//! the test ([`TlsFiles`], with the `openssl` command) and an ACL user ([`Acl`]). Every
//! process is Debian's `redis-server` on free loopback ports, killed when dropped; a missing
//! `redis-server`, `redis-cli` or `openssl` fails the test with an install hint.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::{free_port, free_ports};
use crate::tls::TlsFiles;

/// The name the sentinels know the primary by.
pub const MASTER_NAME: &str = "mymaster";

/// An ACL user with every command on the `badclients:*` keys.
#[derive(Debug, Clone)]
pub struct Acl {
    pub user: String,
    pub password: String,
}

impl Acl {
    pub fn new(user: &str, password: &str) -> Acl {
        Acl {
            user: user.into(),
            password: password.into(),
        }
    }

    fn server_args(&self) -> Vec<String> {
        vec![
            "--user".into(),
            self.user.clone(),
            "on".into(),
            format!(">{}", self.password),
            "~badclients:*".into(),
            "+@all".into(),
        ]
    }
}

/// How `redis-cli` reaches the nodes (TLS, user).
#[derive(Debug, Clone, Default)]
struct Cli {
    tls: Option<TlsFiles>,
    acl: Option<Acl>,
}

impl Cli {
    fn command(&self, port: u16) -> Command {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
        if let Some(tls) = &self.tls {
            cmd.arg("--tls").arg("--cacert").arg(&tls.ca);
        }
        if let Some(acl) = &self.acl {
            cmd.args([
                "--user",
                &acl.user,
                "--pass",
                &acl.password,
                "--no-auth-warning",
            ]);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `redis-cli … args` on `port`; its stdout (empty when it failed).
    fn run(&self, port: u16, args: &[&str]) -> String {
        match self.command(port).args(args).output() {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-cli is not installed: install Debian's redis-tools package \
                 (scripts/test.sh does)"
            ),
            Err(e) => panic!("cannot run redis-cli: {e}"),
        }
    }

    fn answers(&self, port: u16) -> bool {
        self.run(port, &["ping"]).trim() == "PONG"
    }
}

/// Starts `redis-server` with `args` and waits until `port` answers `PING`.
fn spawn(args: &[String], port: u16, cli: &Cli) -> Child {
    let mut child = match Command::new("redis-server")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "redis-server is not installed: install Debian's redis-server package \
             (scripts/test.sh does)"
        ),
        Err(e) => panic!("cannot run redis-server: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cli.answers(port) {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("redis-server {args:?} exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("redis-server {args:?} did not answer on port {port}");
}

fn base_args(port: u16, dir: &Path, tls: Option<&TlsFiles>, acl: Option<&Acl>) -> Vec<String> {
    let mut args: Vec<String> = match tls {
        Some(tls) => tls_server_args(tls, port),
        None => vec!["--port".into(), port.to_string()],
    };
    args.extend(
        [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ]
        .map(String::from),
    );
    args.push(dir.display().to_string());
    if let Some(acl) = acl {
        args.extend(acl.server_args());
    }
    args
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// A single `redis-server` with TLS only and an ACL user.
pub struct RedisTlsServer {
    child: Option<Child>,
    port: u16,
    pub tls: TlsFiles,
    pub acl: Acl,
    _dir: tempfile::TempDir,
}

impl RedisTlsServer {
    pub fn start(acl: Acl) -> RedisTlsServer {
        let dir = tempfile::tempdir().expect("tempdir for redis-server");
        let tls = TlsFiles::generate(dir.path());
        let port = free_port();
        let cli = Cli {
            tls: Some(tls.clone()),
            acl: Some(acl.clone()),
        };
        let args = base_args(port, dir.path(), Some(&tls), Some(&acl));
        let child = spawn(&args, port, &cli);
        RedisTlsServer {
            child: Some(child),
            port,
            tls,
            acl,
            _dir: dir,
        }
    }

    /// `rediss://user:password@127.0.0.1:port/0`.
    pub fn url_with(&self, password: &str) -> String {
        format!(
            "rediss://{}:{password}@127.0.0.1:{}/0",
            self.acl.user, self.port
        )
    }

    /// `redis-cli` (as the ACL user, over TLS) with `args`; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let cli = Cli {
            tls: Some(self.tls.clone()),
            acl: Some(self.acl.clone()),
        };
        cli.run(self.port, args)
    }
}

impl Drop for RedisTlsServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// A Redis Cluster of three primaries (no replicas), made with `redis-cli --cluster create`.
pub struct RedisCluster {
    nodes: Vec<(u16, Option<Child>)>,
    cli: Cli,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// A plain cluster.
    pub fn start() -> RedisCluster {
        RedisCluster::start_with(false, None)
    }

    /// A cluster with TLS only (`tls`, a CA made here) and/or an ACL user.
    pub fn start_with(tls: bool, acl: Option<Acl>) -> RedisCluster {
        let dir = tempfile::tempdir().expect("tempdir for the cluster");
        let tls = tls.then(|| TlsFiles::generate(dir.path()));
        let cli = Cli {
            tls: tls.clone(),
            acl: acl.clone(),
        };
        // The cluster bus gets its own free port (the default, port + 10000, may be taken or
        // past 65535).
        let [p1, p2, p3, b1, b2, b3]: [u16; 6] = free_ports();
        let ports = [p1, p2, p3];
        let mut nodes = Vec::new();
        for (port, bus) in [(p1, b1), (p2, b2), (p3, b3)] {
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("mkdir node dir");
            let mut args = base_args(port, &node_dir, tls.as_ref(), acl.as_ref());
            args.extend(
                ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"].map(String::from),
            );
            args.extend(["--cluster-port".to_string(), bus.to_string()]);
            if tls.is_some() {
                args.extend(["--tls-cluster", "yes"].map(String::from));
            }
            nodes.push((port, Some(spawn(&args, port, &cli))));
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut create: Vec<&str> = vec!["--cluster", "create"];
        create.extend(addrs.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = cli
            .command(ports[0])
            .args(&create)
            .output()
            .expect("redis-cli");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster {
            nodes,
            cli,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ports.iter().all(|&p| {
            cluster
                .cli
                .run(p, &["cluster", "info"])
                .contains("cluster_state:ok")
        }) {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    /// The seed nodes as `host:port`.
    pub fn seeds(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect()
    }

    /// The CA of a TLS cluster.
    pub fn ca(&self) -> Option<&Path> {
        self.cli.tls.as_ref().map(|t| t.ca.as_path())
    }

    /// The keys each primary holds (`KEYS *` on each node).
    pub fn keys_per_node(&self) -> Vec<Vec<String>> {
        self.nodes
            .iter()
            .map(|(p, _)| {
                self.cli
                    .run(*p, &["keys", "*"])
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            kill(child);
        }
    }
}

/// A primary, its replica and three sentinels watching it as [`MASTER_NAME`] (quorum 2,
/// `down-after-milliseconds` 1000, `failover-timeout` 3000).
pub struct RedisSentinelSet {
    /// The data nodes: (port, process).
    nodes: Vec<(u16, Option<Child>)>,
    sentinels: Vec<(u16, Option<Child>)>,
    cli: Cli,
    /// `redis-cli` for the sentinels (with their password, when they ask for one).
    sentinel_cli: Cli,
    _dir: tempfile::TempDir,
}

impl RedisSentinelSet {
    /// Starts the set and waits until the sentinels know each other and the replica.
    pub fn start() -> RedisSentinelSet {
        RedisSentinelSet::start_with_sentinel_password(None)
    }

    /// [`RedisSentinelSet::start`] with sentinels that ask clients (and each other) for
    /// `password`; the data nodes ask for none.
    pub fn start_with_sentinel_password(password: Option<&str>) -> RedisSentinelSet {
        let dir = tempfile::tempdir().expect("tempdir for the sentinel set");
        let cli = Cli::default();
        let sentinel_cli = Cli {
            tls: None,
            acl: password.map(|p| Acl::new("default", p)),
        };
        let auth = password
            .map(|p| format!("requirepass {p}\nsentinel sentinel-pass {p}\n"))
            .unwrap_or_default();
        let [primary, replica, s1, s2, s3]: [u16; 5] = free_ports();
        let mut nodes = Vec::new();
        for port in [primary, replica] {
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("mkdir node dir");
            let mut args = base_args(port, &node_dir, None, None);
            if port == replica {
                args.extend(["--replicaof", "127.0.0.1", &primary.to_string()].map(String::from));
            }
            nodes.push((port, Some(spawn(&args, port, &cli))));
        }
        let mut sentinels = Vec::new();
        for port in [s1, s2, s3] {
            let conf = dir.path().join(format!("sentinel-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor {MASTER_NAME} 127.0.0.1 {primary} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 3000\n\
                     sentinel parallel-syncs {MASTER_NAME} 1\n{auth}",
                    dir = dir.path().display()
                ),
            )
            .expect("write sentinel.conf");
            let args = vec![conf.display().to_string(), "--sentinel".to_string()];
            sentinels.push((port, Some(spawn(&args, port, &sentinel_cli))));
        }
        let set = RedisSentinelSet {
            nodes,
            sentinels,
            cli,
            sentinel_cli,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = set.sentinels.iter().all(|(p, _)| {
                let info = set
                    .sentinel_cli
                    .run(*p, &["sentinel", "master", MASTER_NAME]);
                field(&info, "num-other-sentinels") == Some("2")
                    && field(&info, "num-slaves") == Some("1")
            }) && set
                .cli
                .run(replica, &["info", "replication"])
                .contains("master_link_status:up");
            if ready {
                return set;
            }
            assert!(
                Instant::now() < deadline,
                "the sentinels did not find each other and the replica"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The sentinels as `host:port`.
    pub fn sentinels(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect()
    }

    /// The port of the primary the sentinels name now.
    pub fn primary_port(&self) -> Option<u16> {
        let (port, _) = self.sentinels.iter().find(|(_, c)| c.is_some())?;
        let out = self
            .sentinel_cli
            .run(*port, &["sentinel", "get-master-addr-by-name", MASTER_NAME]);
        out.lines().nth(1)?.trim().parse().ok()
    }

    /// Kills the current primary at once (SIGKILL); returns its port.
    pub fn kill_primary(&mut self) -> u16 {
        let port = self.primary_port().expect("the sentinels name a primary");
        for (p, child) in &mut self.nodes {
            if *p == port {
                kill(child);
            }
        }
        port
    }

    /// Waits until the sentinels name another primary than `old` and it says it is one.
    pub fn wait_for_promotion(&self, old: u16, timeout: Duration) -> u16 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(port) = self.primary_port().filter(|&p| p != old) {
                if self.cli.run(port, &["role"]).starts_with("master") {
                    return port;
                }
            }
            assert!(Instant::now() < deadline, "no replica was promoted");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis-cli` on the data node at `port`; its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        self.cli.run(port, args)
    }
}

impl Drop for RedisSentinelSet {
    fn drop(&mut self) {
        for (_, child) in self.sentinels.iter_mut().chain(self.nodes.iter_mut()) {
            kill(child);
        }
    }
}

/// The value after `name` in a `redis-cli` flat list answer (one item per line).
fn field<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let mut lines = answer.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name {
            return lines.next().map(str::trim);
        }
    }
    None
}

/// redis-server's arguments for TLS with `files` on `port` only (no plain port).
fn tls_server_args(files: &TlsFiles, port: u16) -> Vec<String> {
    vec![
        "--port".into(),
        "0".into(),
        "--tls-port".into(),
        port.to_string(),
        "--tls-cert-file".into(),
        files.cert.display().to_string(),
        "--tls-key-file".into(),
        files.key.display().to_string(),
        "--tls-ca-cert-file".into(),
        files.ca.display().to_string(),
        "--tls-auth-clients".into(),
        "no".into(),
    ]
}
