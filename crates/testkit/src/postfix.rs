//! A throwaway Postfix instance per test, from the templates in `tests/e2e/conf/postfix/`:
//! Postfix 3.7 (Debian 12, the host's package) or Postfix 3.10 (Debian 13, in the trixie root
//! with `chroot ROOT …`; see [`Release`]).
//!
//! `postfix -c DIR/etc check && postfix -c DIR/etc start` as root; the queue, data directory and
//! log are inside a temporary directory under /tmp (`ROOT/tmp` for Debian 13), smtpd listens on a
//! free 127.0.0.1 port, SMTP AUTH goes to a Dovecot auth-client TCP listener, and every transport
//! is `discard`. Start Dovecot first and drop Postfix first (it keeps its SASL connection open).
//! Dropping a [`Postfix`] runs `postfix stop`, waits for the master to be gone (SIGKILL after
//! 5 s) and removes the directory.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::daemon::{free_port, require_root, send_signal};
use crate::mail_clients::{Smtp, SmtpReply};
use crate::release::{InstanceDir, Release};

const POSTFIX: &str = "/usr/sbin/postfix";
const INSTALL_HINT: &str =
    "install the Debian package: apt-get install -y --no-install-recommends postfix \
     (scripts/test.sh does this)";

/// Fails (never skips) when the release's Postfix is missing or of the wrong version, or the
/// tests do not run as root.
pub fn require_postfix(release: Release) {
    release.require_postfix(INSTALL_HINT);
    require_root("the Postfix end-to-end test");
}

fn template(name: &str) -> String {
    let path = crate::repo().join("tests/e2e/conf/postfix").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A running Postfix.
pub struct Postfix {
    release: Release,
    pub smtp_port: u16,
    /// The configuration directory as Postfix sees it.
    etc: PathBuf,
    // Last: removed after the instance is stopped.
    dir: InstanceDir,
}

impl Postfix {
    /// Starts the release's Postfix with SMTP AUTH through Dovecot's auth-client listener on
    /// `sasl_port`, and, when `policy` is given, `check_policy_service inet:ADDR` at RCPT.
    pub fn start(release: Release, sasl_port: u16, policy: Option<SocketAddr>) -> Postfix {
        require_postfix(release);
        let dir = release.instance_dir("bcpf");
        let d = dir.host();
        for sub in ["etc", "spool", "data", "log"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let inside = dir.inside().to_path_buf();
        // The release's postfix user (its uid may differ from the host's).
        let chown = release
            .command("/bin/chown")
            .arg("postfix")
            .arg(inside.join("data"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            chown,
            "chown postfix {} ({})",
            inside.join("data").display(),
            release.name()
        );
        let smtp_port = free_port();
        let restrictions = match policy {
            Some(addr) => {
                format!("check_policy_service {{ inet:{addr}, timeout=10s, default_action=DUNNO }}")
            }
            None => "permit".to_string(),
        };
        let fill = |text: String| {
            text.replace("@DIR@", &inside.display().to_string())
                .replace("@SASL_PORT@", &sasl_port.to_string())
                .replace("@SMTP_PORT@", &smtp_port.to_string())
                .replace("@RECIPIENT_RESTRICTIONS@", &restrictions)
        };
        let etc = d.join("etc");
        std::fs::write(etc.join("main.cf"), fill(template("main.cf.in"))).expect("main.cf");
        std::fs::write(etc.join("master.cf"), fill(template("master.cf.in"))).expect("master.cf");
        // Postfix waits (in 300 ms steps) until a configuration file is older than the current
        // second, in case someone is still writing it: backdate them.
        for file in ["main.cf", "master.cf"] {
            backdate(&etc.join(file));
        }
        let pf = Postfix {
            release,
            smtp_port,
            etc: inside.join("etc"),
            dir,
        };
        let check = pf.postfix(&["check"]);
        assert!(
            check.status.success(),
            "postfix check failed ({}): {}{}\nlog:\n{}",
            release.name(),
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr),
            pf.log()
        );
        // `postfix check` just checked (and created) everything: skip the second, slow round of
        // checks `postfix start` would run (~2.5 s on a fresh queue directory).
        std::fs::write(pf.dir.host().join("spool/quick-start"), "").expect("spool/quick-start");
        let start = pf.postfix(&["start"]);
        assert!(
            start.status.success(),
            "postfix start failed ({}): {}{}\nlog:\n{}",
            release.name(),
            String::from_utf8_lossy(&start.stdout),
            String::from_utf8_lossy(&start.stderr),
            pf.log()
        );
        pf.wait_banner();
        pf
    }

    fn postfix(&self, args: &[&str]) -> Output {
        self.release
            .command(POSTFIX)
            .arg("-c")
            .arg(&self.etc)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "run {POSTFIX} ({}): {e}; {INSTALL_HINT}",
                    self.release.name()
                )
            })
    }

    fn wait_banner(&self) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", self.smtp_port)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("220") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "postfix ({}) does not greet on {} after 15 s; log:\n{}",
            self.release.name(),
            self.smtp_port,
            self.log()
        );
    }

    /// A new SMTP session.
    pub fn connect(&self) -> Smtp {
        Smtp::connect(self.smtp_port)
    }

    /// A session from `ip` (EHLO, then XCLIENT ADDR=`ip`) that has sent AUTH PLAIN as
    /// `user`; the session and the reply to AUTH.
    pub fn auth_from(&self, ip: &str, user: &str, pass: &str) -> (Smtp, SmtpReply) {
        let mut s = self.connect();
        s.ehlo();
        s.xclient_addr(ip);
        let reply = s.auth_plain(user, pass);
        (s, reply)
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.host().join("log/postfix.log")).unwrap_or_default()
    }

    fn master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.host().join("spool/pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

fn backdate(path: &Path) {
    let past = std::time::SystemTime::now() - Duration::from_secs(10);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(past))
        .unwrap_or_else(|e| panic!("set the mtime of {}: {e}", path.display()));
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        let _ = self.postfix(&["stop"]);
        if let Some(pid) = pid {
            let t0 = Instant::now();
            while alive(pid) && t0.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if alive(pid) {
                send_signal(pid, "KILL");
            }
        }
    }
}
