//! A real `redis-server` on a free loopback port for the tests (Debian's package; the
//! tests fail when it is missing).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::free_port;

/// A `redis-server` on a free loopback port, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server; fails the test when `redis-server` is not installed.
    pub fn start() -> RedisServer {
        let dir = tempfile::tempdir().expect("tempdir for redis-server");
        for _ in 0..5 {
            let port = free_port();
            match spawn_redis(port, dir.path()) {
                Spawned::Missing => panic!(
                    "redis-server is not installed: install Debian's redis-server package \
                     (scripts/test.sh does)"
                ),
                Spawned::Failed => continue,
                Spawned::Ready(child) => {
                    return RedisServer {
                        child: Some(child),
                        port,
                        dir,
                    }
                }
            }
        }
        panic!("redis-server did not start on a free loopback port after 5 tries");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: it keeps nothing on disk).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Spawned::Ready(child) = spawn_redis(self.port, self.dir.path()) {
                self.child = Some(child);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

enum Spawned {
    Ready(Child),
    Failed,
    Missing,
}

fn spawn_redis(port: u16, dir: &std::path::Path) -> Spawned {
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Spawned::Missing,
        Err(err) => panic!("cannot run redis-server: {err}"),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if answers_ping(port) {
            return Spawned::Ready(child);
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return Spawned::Failed;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Spawned::Failed
}

fn answers_ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
