//! A throwaway Dovecot instance per test, from the templates in `tests/e2e/conf/dovecot/`
//! (Dovecot 2.3, Debian 12, the host's packages) or `tests/e2e/conf/dovecot-2.4/` (Dovecot 2.4,
//! Debian 13, in the trixie root with `chroot ROOT …`; see [`Release`]).
//!
//! Runs `dovecot -F -c DIR/dovecot.conf` as root with every path inside a temporary directory
//! under /tmp (`ROOT/tmp` for Debian 13; unix socket paths must stay short) and every listener on
//! a free 127.0.0.1 port: IMAP, IMAP with PROXY protocol, POP3, POP3 with PROXY protocol, and the
//! auth-client service for Postfix SASL. Everything Dovecot reads (the users file, the Lua shim,
//! its settings file) is copied into that directory. Dropping a [`Dovecot`] sends SIGTERM to the
//! master (which stops every child, ~1 s) and removes the directory.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::{free_ports, require_root, set_mode, terminate};
use crate::mail_clients::{self, Forge};
use crate::release::{InstanceDir, Release};

const DOVECOT: &str = "/usr/sbin/dovecot";
const LUA_MODULE: &str = "/usr/lib/dovecot/modules/auth/libauthdb_lua.so";
const LUASOCKET_HTTP: &str = "/usr/share/lua/5.4/socket/http.lua";
const INSTALL_HINT: &str =
    "install the Debian packages: apt-get install -y --no-install-recommends \
     dovecot-core dovecot-imapd dovecot-pop3d dovecot-auth-lua lua-socket \
     (scripts/test.sh does this)";

/// The users of the passwd-file passdb (both with password [`PASSWORD`]).
pub const USERS: [&str; 2] = ["alice", "bob"];
pub const PASSWORD: &str = "secret";

/// The passwd-file of both releases (`tests/e2e/conf/dovecot/users`).
pub fn users_file() -> PathBuf {
    crate::repo().join("tests/e2e/conf/dovecot/users")
}

/// The shipped Lua shim.
pub fn shim_path() -> PathBuf {
    crate::repo().join("contrib/dovecot/badclients.lua")
}

fn template(release: Release, name: &str) -> String {
    let path = release.dovecot_templates().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Fails (never skips) when the release's Dovecot is missing or of the wrong version, or the
/// tests do not run as root.
pub fn require_dovecot(release: Release) {
    release.require_dovecot(&[], INSTALL_HINT);
    require_root("the Dovecot end-to-end test");
}

/// Also the Lua passdb module and luasocket (TCP and unix).
pub fn require_lua(release: Release) {
    release.require_dovecot(&[LUA_MODULE, LUASOCKET_HTTP], INSTALL_HINT);
    require_root("the Dovecot end-to-end test");
    let lib = release.host_path("/usr/lib");
    let unix_so = std::fs::read_dir(&lib)
        .map(|dir| {
            dir.flatten()
                .any(|e| e.path().join("lua/5.4/socket/unix.so").exists())
        })
        .unwrap_or(false);
    assert!(
        unix_so,
        "luasocket's socket.unix for Lua 5.4 (/usr/lib/<arch>/lua/5.4/socket/unix.so) is missing \
         ({}): {INSTALL_HINT}",
        release.name()
    );
}

/// How many clients [`Dovecot::imap_password_guesses`] runs at the same time (below the
/// login services' default process limit of 100).
pub const GUESS_CLIENTS: usize = 32;

/// Where the badclients Lua passdb sits in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LuaPosition {
    /// First, then passwd-file (the recommended order).
    First,
    /// passwd-file first with `result_success = continue-ok`, then the shim.
    Last,
}

/// What the instance asks badclients.
#[derive(Clone, Debug)]
pub enum Gate {
    /// Nothing: a plain passwd-file passdb.
    None,
    /// The auth policy server at `url` (e.g. `http://127.0.0.1:PORT/`) with this API key.
    Policy { url: String, api_key: String },
    /// The Lua shim with these settings (the text of its configuration file).
    Lua {
        settings: String,
        position: LuaPosition,
    },
    /// A configuration block given whole, e.g. as the documentation gives it (the daemon's
    /// URL and key already filled in), with the documentation's example paths — `/etc/dovecot/users`,
    /// `/etc/dovecot/badclients.lua`, `/etc/badclients/dovecot-lua.conf` — turned into the
    /// instance's copies, the shim's settings file holding `settings`. A block without a
    /// passdb gets the plain passwd-file one.
    Documented { config: String, settings: String },
}

/// The example paths of the documentation and the instance files they become.
const DOCUMENTED_PATHS: [(&str, &str); 3] = [
    ("/etc/dovecot/users", "users"),
    ("/etc/dovecot/badclients.lua", "badclients.lua"),
    ("/etc/badclients/dovecot-lua.conf", "badclients-lua.conf"),
];

/// A running Dovecot.
pub struct Dovecot {
    release: Release,
    child: Child,
    /// The configuration file as Dovecot sees it (inside the release's root).
    conf: PathBuf,
    pub imap_port: u16,
    pub imap_proxy_port: u16,
    pub pop3_port: u16,
    pub pop3_proxy_port: u16,
    /// The auth-client TCP listener (Postfix `smtpd_sasl_path = inet:127.0.0.1:PORT`).
    pub auth_port: u16,
    // Last: removed after the process is gone.
    dir: InstanceDir,
}

impl Dovecot {
    /// Writes the configuration and starts the release's Dovecot; returns once IMAP, POP3 and
    /// auth answer.
    pub fn start(release: Release, gate: Gate) -> Dovecot {
        match &gate {
            Gate::Lua { .. } => require_lua(release),
            Gate::Documented { config, .. } if config.contains("driver = lua") => {
                require_lua(release)
            }
            _ => require_dovecot(release),
        }
        let dir = release.instance_dir("bcdv");
        let d = dir.host();
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        // The login processes and the mail processes (uid nobody) need to get in.
        set_mode(&d.join("mail"), 0o1777);
        copy_in(&users_file(), &d.join("users"));

        let [imap, imap_proxy, pop3, pop3_proxy, auth] = free_ports::<5>();
        let mut conf = template(release, "dovecot.conf.in");
        match &gate {
            Gate::None => conf.push_str(&template(release, "passdb-plain.conf.in")),
            Gate::Policy { url, api_key } => {
                conf.push_str(&template(release, "passdb-plain.conf.in"));
                conf.push_str(
                    &template(release, "policy.conf.in")
                        .replace("@POLICY_URL@", url)
                        .replace("@API_KEY@", api_key),
                );
            }
            Gate::Lua { settings, position } => {
                let file = match position {
                    LuaPosition::First => "passdb-lua-first.conf.in",
                    LuaPosition::Last => "passdb-lua-last.conf.in",
                };
                copy_in(&shim_path(), &d.join("badclients.lua"));
                conf.push_str(&template(release, file).replace(
                    "@LUA_FILE@",
                    &dir.inside().join("badclients.lua").display().to_string(),
                ));
                std::fs::write(d.join("badclients-lua.conf"), settings)
                    .expect("write the shim's settings");
            }
            Gate::Documented { config, settings } => {
                if !config.contains("passdb") {
                    conf.push_str(&template(release, "passdb-plain.conf.in"));
                }
                let mut config = config.clone();
                for (documented, local) in DOCUMENTED_PATHS {
                    config =
                        config.replace(documented, &dir.inside().join(local).display().to_string());
                }
                copy_in(&shim_path(), &d.join("badclients.lua"));
                std::fs::write(d.join("badclients-lua.conf"), settings)
                    .expect("write the shim's settings");
                conf.push_str("\n# --- the documented block ---\n");
                conf.push_str(&config);
                conf.push('\n');
            }
        }
        let conf = conf
            .replace("@DIR@", &dir.inside().display().to_string())
            .replace("@NAME@", &dir.name())
            .replace("@IMAP_PORT@", &imap.to_string())
            .replace("@IMAP_PROXY_PORT@", &imap_proxy.to_string())
            .replace("@POP3_PORT@", &pop3.to_string())
            .replace("@POP3_PROXY_PORT@", &pop3_proxy.to_string())
            .replace("@AUTH_PORT@", &auth.to_string());
        std::fs::write(d.join("dovecot.conf"), conf).expect("write dovecot.conf");
        let conf_path = dir.inside().join("dovecot.conf");

        // `chroot ROOT dovecot` execs Dovecot: the child is its master process.
        let child = release
            .command(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("spawn {DOVECOT} ({}): {e}; {INSTALL_HINT}", release.name())
            });
        let mut dv = Dovecot {
            release,
            child,
            conf: conf_path,
            imap_port: imap,
            imap_proxy_port: imap_proxy,
            pop3_port: pop3,
            pop3_proxy_port: pop3_proxy,
            auth_port: auth,
            dir,
        };
        for port in [imap, pop3, auth] {
            dv.wait_port(port);
        }
        dv
    }

    /// The Lua shim at `position`, its settings pointing at `daemon` (as reached from
    /// `release`) with its API key, plus the `extra` settings lines.
    pub fn with_shim(
        release: Release,
        daemon: &crate::daemon::Daemon,
        position: LuaPosition,
        extra: &str,
    ) -> Dovecot {
        let settings = format!(
            "# badclients Lua passdb settings (test)\ndaemon = {}\napi_key = {}\n{extra}",
            daemon.http_url_in(release),
            crate::daemon::API_KEY
        );
        Dovecot::start(release, Gate::Lua { settings, position })
    }

    fn wait_port(&mut self, port: u16) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "dovecot ({}) exited ({status}) before listening on {port}; log:\n{}\n\
                     config check:\n{}",
                    self.release.name(),
                    self.log(),
                    self.doveconf_check()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "dovecot ({}) does not listen on {port} after 15 s; log:\n{}",
            self.release.name(),
            self.log()
        );
    }

    /// What `doveconf -c CONF -n` (in the release) says about the configuration on stderr,
    /// without the chroot's `setmntent(/etc/mtab)` noise.
    fn doveconf_check(&self) -> String {
        self.release
            .command("/usr/bin/doveconf")
            .arg("-c")
            .arg(&self.conf)
            .arg("-n")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .filter(|l| !l.contains("setmntent("))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// The release this instance runs on.
    pub fn release(&self) -> Release {
        self.release
    }

    /// The configuration file as Dovecot sees it (for `doveadm -c` in the release).
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The instance's directory on the host.
    pub fn dir(&self) -> &Path {
        self.dir.host()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.host().join("dovecot.log")).unwrap_or_default()
    }

    /// IMAP LOGIN with the client address forged as `forge` says; the tagged reply.
    pub fn imap_login(&self, forge: Forge<'_>, user: &str, pass: &str) -> String {
        let port = match forge {
            Forge::Proxy(_) => self.imap_proxy_port,
            _ => self.imap_port,
        };
        mail_clients::imap_login(port, forge, user, pass)
    }

    /// POP3 USER/PASS with the client address forged; the reply to PASS.
    pub fn pop3_login(&self, forge: Forge<'_>, user: &str, pass: &str) -> String {
        let port = match forge {
            Forge::Proxy(_) => self.pop3_proxy_port,
            _ => self.pop3_port,
        };
        mail_clients::pop3_login(port, forge, user, pass)
    }

    /// `n` IMAP logins from `ip` (PROXY header), one connection each, none with a right
    /// password: in turn alice and bob with a wrong password, an unknown user with
    /// [`PASSWORD`] and an unknown user with a wrong one. Returns every (user, tagged reply),
    /// in that order.
    ///
    /// [`GUESS_CLIENTS`] clients log in at the same time: Dovecot 2.3 answers a failed login
    /// only at its next 500 ms failure tick (even with `auth_failure_delay = 0`), so one client
    /// after the other would take 0.5 s per guess.
    pub fn imap_password_guesses(&self, ip: &str, n: usize) -> Vec<(String, String)> {
        let guess = |i: usize| {
            let (user, pass) = match i % 4 {
                0 => ("alice".to_string(), format!("wrong-{i}")),
                1 => ("bob".to_string(), format!("guess{i}")),
                2 => (format!("ghost{i}"), PASSWORD.to_string()),
                _ => (format!("nobody{i}"), format!("wrong-{i}")),
            };
            let reply = self.imap_login(Forge::Proxy(ip), &user, &pass);
            (i, user, reply)
        };
        let mut all: Vec<(usize, String, String)> = std::thread::scope(|scope| {
            let clients: Vec<_> = (0..GUESS_CLIENTS)
                .map(|c| {
                    scope
                        .spawn(move || (c..n).step_by(GUESS_CLIENTS).map(guess).collect::<Vec<_>>())
                })
                .collect();
            clients
                .into_iter()
                .flat_map(|c| c.join().expect("a guessing client panicked"))
                .collect()
        });
        all.sort_by_key(|(i, _, _)| *i);
        all.into_iter()
            .map(|(_, user, reply)| (user, reply))
            .collect()
    }

    /// `doveadm -c CONF auth test -x rip=IP -x service=SERVICE user pass` in the release.
    pub fn doveadm_auth_test(&self, rip: &str, service: &str, user: &str, pass: &str) -> Output {
        mail_clients::doveadm_auth_test(self.release, &self.conf, rip, service, user, pass)
    }
}

/// Copies `from` to `to`, readable by everyone (Dovecot's auth processes drop privileges).
fn copy_in(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    set_mode(to, 0o644);
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(5));
    }
}
