//! A real PostgreSQL for the tests: a private cluster (Debian's `postgresql` package,
//! `initdb` + `pg_ctl`) in a temporary directory, listening on a free loopback port and a
//! unix socket in that directory, with a trusted superuser `bc` and a database `badclients`.
//! The tests fail with an install hint when PostgreSQL is missing. Run as root (as CI does),
//! the server runs as the `postgres` system user the package creates.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::daemon::free_port;
use crate::tls::TlsFiles;

/// The superuser and the database every test server has.
pub const USER: &str = "bc";
pub const DATABASE: &str = "badclients";

/// A PostgreSQL cluster on a free loopback port, stopped and removed when dropped.
pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    running: bool,
}

impl PgServer {
    /// Creates and starts a cluster, then the `badclients` database.
    pub fn start() -> PgServer {
        PgServer::start_with(None)
    }

    /// [`PgServer::start`] with TLS on: a certificate for `127.0.0.1` and `localhost`
    /// signed by a CA made for this server; the second value is the CA's certificate.
    pub fn start_with_tls() -> (PgServer, PathBuf) {
        let ca_dir = tempfile::tempdir().expect("tempdir for TLS files");
        let files = TlsFiles::generate(ca_dir.path());
        let server = PgServer::start_with(Some(&files));
        // The server reads its own copies; the CA stays with the test.
        let ca = server.dir.path().join("ca.pem");
        std::fs::copy(&files.ca, &ca).expect("copy the CA");
        (server, ca)
    }

    fn start_with(tls: Option<&TlsFiles>) -> PgServer {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("badclients-pg")
            .tempdir()
            .expect("tempdir for PostgreSQL");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the PostgreSQL directory");
        if is_root() {
            run_ok(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(dir.path()),
            );
        }
        let data = dir.path().join("data");
        let mut initdb = as_server_user(&bin.join("initdb"));
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                USER,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-D",
            ])
            .arg(&data);
        run_ok(&mut initdb);
        if let Some(tls) = tls {
            let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
            std::fs::copy(&tls.cert, &cert).expect("copy the certificate");
            std::fs::copy(&tls.key, &key).expect("copy the key");
            let conf = format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                cert.display(),
                key.display()
            );
            let conf_path = data.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf_path).expect("read postgresql.conf");
            text.push_str(&conf);
            std::fs::write(&conf_path, text).expect("write postgresql.conf");
            if is_root() {
                run_ok(
                    Command::new("chown")
                        .arg("postgres:postgres")
                        .arg(&cert)
                        .arg(&key),
                );
            }
        }
        let mut server = PgServer {
            bin,
            dir,
            port: 0,
            running: false,
        };
        for _ in 0..5 {
            server.port = free_port();
            if server.try_start() {
                server.psql_db("postgres", &format!("CREATE DATABASE {DATABASE}"));
                return server;
            }
        }
        panic!(
            "PostgreSQL did not start on a free loopback port after 5 tries; log:\n{}",
            server.log()
        );
    }

    /// `postgresql://bc@127.0.0.1:PORT/badclients`.
    pub fn url(&self) -> String {
        format!("postgresql://{USER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// The same database through the unix socket:
    /// `postgresql://bc@%2Ftmp%2F…:PORT/badclients`.
    pub fn socket_url(&self) -> String {
        let dir = self.dir.path().to_string_lossy().replace('/', "%2F");
        format!("postgresql://{USER}@{dir}:{}/{DATABASE}", self.port)
    }

    /// The directory holding the unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (`pg_ctl stop -m fast`: connections are cut, nothing is lost).
    pub fn stop(&mut self) {
        if self.running {
            self.pg_ctl(&["stop", "-m", "fast", "-w"]);
            self.running = false;
        }
    }

    /// Starts the stopped server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.try_start(),
            "PostgreSQL did not start again on port {}; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// Runs `sql` in the `badclients` database with `psql`; its unaligned, tuples-only
    /// output (`|` between columns), trimmed. Fails the test on an error.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_db(DATABASE, sql)
    }

    /// [`PgServer::psql`] for SQL that may fail: the error text from `psql` when it does.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        self.try_psql_db(DATABASE, sql)
    }

    fn psql_db(&self, db: &str, sql: &str) -> String {
        self.try_psql_db(db, sql)
            .unwrap_or_else(|err| panic!("psql -c {sql:?} failed: {err}"))
    }

    fn try_psql_db(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                db,
            ])
            .args(["-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql (install postgresql-client): {e}"));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn try_start(&mut self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let out = self.pg_ctl_output(&[
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            &log.to_string_lossy(),
            "-o",
            &options,
        ]);
        self.running = out.status.success();
        self.running
    }

    fn pg_ctl(&self, args: &[&str]) {
        let out = self.pg_ctl_output(args);
        assert!(
            out.status.success(),
            "pg_ctl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl_output(&self, args: &[&str]) -> Output {
        as_server_user(&self.bin.join("pg_ctl"))
            .args(args)
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .output()
            .expect("run pg_ctl")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl_output(&["stop", "-m", "immediate", "-w"]);
        }
    }
}

/// The newest `/usr/lib/postgresql/N/bin`; fails the test when PostgreSQL is not installed.
fn bin_dir() -> PathBuf {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .max();
    let bin = newest.map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")));
    match bin {
        Some(bin) if bin.join("initdb").is_file() => bin,
        _ => panic!(
            "PostgreSQL is not installed: install Debian's postgresql package \
             (scripts/test.sh does)"
        ),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `program` run as the `postgres` user when we are root (PostgreSQL refuses to run as
/// root), else as ourselves.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
