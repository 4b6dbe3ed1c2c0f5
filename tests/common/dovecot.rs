//! A throwaway Dovecot 2.3 instance per test, from the templates in `tests/e2e/dovecot/`.
//!
//! Runs `dovecot -F -c DIR/dovecot.conf` as root with every path inside a temporary directory
//! under /tmp (unix socket paths must stay short) and every listener on a free 127.0.0.1 port:
//! IMAP, IMAP with PROXY protocol, POP3, POP3 with PROXY protocol, and the auth-client service
//! for Postfix SASL. Dropping a [`Dovecot`] sends SIGTERM to the master (which stops every
//! child, ~1 s) and removes the directory.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::daemon::{free_ports, require_root, set_mode, terminate};
use super::mail_clients::{self, Forge};

const DOVECOT: &str = "/usr/sbin/dovecot";
const DOVEADM: &str = "/usr/bin/doveadm";
const LUA_MODULE: &str = "/usr/lib/dovecot/modules/auth/libauthdb_lua.so";
const INSTALL_HINT: &str =
    "install the Debian packages: apt-get install -y --no-install-recommends \
     dovecot-core dovecot-imapd dovecot-pop3d dovecot-auth-lua lua-socket \
     (scripts/test.sh does this)";

/// The users of the passwd-file passdb (both with password [`PASSWORD`]).
pub const USERS: [&str; 2] = ["alice", "bob"];
pub const PASSWORD: &str = "secret";

/// The template directory.
pub fn templates() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/dovecot")
}

/// The shipped Lua shim.
pub fn shim_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib/dovecot/badclients.lua")
}

fn template(name: &str) -> String {
    let path = templates().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Fails (never skips) when Dovecot is not installed or the tests do not run as root.
pub fn require_dovecot() {
    for path in [DOVECOT, DOVEADM] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: {INSTALL_HINT}"
        );
    }
    require_root("the Dovecot end-to-end test");
}

/// Also the Lua passdb module and luasocket (TCP and unix).
pub fn require_lua() {
    require_dovecot();
    assert!(
        Path::new(LUA_MODULE).exists(),
        "{LUA_MODULE} is missing: {INSTALL_HINT}"
    );
    assert!(
        Path::new("/usr/share/lua/5.4/socket/http.lua").exists(),
        "luasocket for Lua 5.4 (/usr/share/lua/5.4/socket/http.lua) is missing: {INSTALL_HINT}"
    );
    let unix_so = std::fs::read_dir("/usr/lib")
        .map(|dir| {
            dir.flatten()
                .any(|e| e.path().join("lua/5.4/socket/unix.so").exists())
        })
        .unwrap_or(false);
    assert!(
        unix_so,
        "luasocket's socket.unix for Lua 5.4 (/usr/lib/<arch>/lua/5.4/socket/unix.so) is missing: \
         {INSTALL_HINT}"
    );
}

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
}

/// A running Dovecot.
pub struct Dovecot {
    child: Child,
    conf: PathBuf,
    pub imap_port: u16,
    pub imap_proxy_port: u16,
    pub pop3_port: u16,
    pub pop3_proxy_port: u16,
    /// The auth-client TCP listener (Postfix `smtpd_sasl_path = inet:127.0.0.1:PORT`).
    pub auth_port: u16,
    // Last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl Dovecot {
    /// Writes the configuration and starts Dovecot; returns once IMAP, POP3 and auth answer.
    pub fn start(gate: Gate) -> Dovecot {
        match gate {
            Gate::Lua { .. } => require_lua(),
            _ => require_dovecot(),
        }
        let dir = tempfile::Builder::new()
            .prefix("bcdv")
            .tempdir_in("/tmp")
            .expect("temporary directory for Dovecot");
        let d = dir.path();
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        // The login processes and the mail processes (uid nobody) need to get in.
        set_mode(d, 0o755);
        set_mode(&d.join("mail"), 0o1777);
        std::fs::copy(templates().join("users"), d.join("users")).expect("copy users");
        set_mode(&d.join("users"), 0o644);

        let [imap, imap_proxy, pop3, pop3_proxy, auth] = free_ports::<5>();
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bcdv".into());
        let mut conf = template("dovecot.conf.in");
        match &gate {
            Gate::None => conf.push_str(&template("passdb-plain.conf.in")),
            Gate::Policy { url, api_key } => {
                conf.push_str(&template("passdb-plain.conf.in"));
                conf.push_str(
                    &template("policy.conf.in")
                        .replace("@POLICY_URL@", url)
                        .replace("@API_KEY@", api_key),
                );
            }
            Gate::Lua { settings, position } => {
                let file = match position {
                    LuaPosition::First => "passdb-lua-first.conf.in",
                    LuaPosition::Last => "passdb-lua-last.conf.in",
                };
                conf.push_str(
                    &template(file).replace("@LUA_FILE@", &shim_path().display().to_string()),
                );
                std::fs::write(d.join("badclients-lua.conf"), settings)
                    .expect("write the shim's settings");
            }
        }
        let conf = conf
            .replace("@DIR@", &d.display().to_string())
            .replace("@NAME@", &name)
            .replace("@IMAP_PORT@", &imap.to_string())
            .replace("@IMAP_PROXY_PORT@", &imap_proxy.to_string())
            .replace("@POP3_PORT@", &pop3.to_string())
            .replace("@POP3_PROXY_PORT@", &pop3_proxy.to_string())
            .replace("@AUTH_PORT@", &auth.to_string());
        let conf_path = d.join("dovecot.conf");
        std::fs::write(&conf_path, conf).expect("write dovecot.conf");

        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {DOVECOT}: {e}; {INSTALL_HINT}"));
        let mut dv = Dovecot {
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

    fn wait_port(&mut self, port: u16) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "dovecot exited ({status}) before listening on {port}; log:\n{}\nconfig check:\n{}",
                    self.log(),
                    self.doveconf_check()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "dovecot does not listen on {port} after 15 s; log:\n{}",
            self.log()
        );
    }

    fn doveconf_check(&self) -> String {
        Command::new("doveconf")
            .arg("-c")
            .arg(&self.conf)
            .arg("-n")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_default()
    }

    /// The configuration file (for `doveadm -c`).
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
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

    /// `doveadm -c CONF auth test -x rip=IP -x service=SERVICE user pass`.
    pub fn doveadm_auth_test(&self, rip: &str, service: &str, user: &str, pass: &str) -> Output {
        mail_clients::doveadm_auth_test(&self.conf, rip, service, user, pass)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(5));
    }
}
