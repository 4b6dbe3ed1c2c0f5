//! TLS for the tests' servers (Redis, PostgreSQL): a CA made for one test and a server
//! certificate for `127.0.0.1` and `localhost` signed by it, with the `openssl` command (a
//! missing `openssl` fails the test with an install hint).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and a server certificate for 127.0.0.1 signed by it (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Makes the CA and the server certificate in `dir` with `openssl`; the key is mode 0600.
    pub fn generate(dir: &Path) -> TlsFiles {
        let ca_key = dir.join("ca.key");
        let ca = dir.join("ca.pem");
        let key = dir.join("server.key");
        let csr = dir.join("server.csr");
        let cert = dir.join("server.pem");
        let ext = dir.join("san.ext");
        std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("write san.ext");
        let p = |p: &PathBuf| p.to_str().expect("utf-8 path").to_string();
        openssl(&["genrsa", "-out", &p(&ca_key), "2048"]);
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            &p(&ca_key),
            "-sha256",
            "-days",
            "2",
            "-subj",
            "/CN=badclients test CA",
            "-out",
            &p(&ca),
        ]);
        openssl(&["genrsa", "-out", &p(&key), "2048"]);
        openssl(&[
            "req",
            "-new",
            "-key",
            &p(&key),
            "-subj",
            "/CN=127.0.0.1",
            "-out",
            &p(&csr),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p(&csr),
            "-CA",
            &p(&ca),
            "-CAkey",
            &p(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            &p(&ext),
            "-out",
            &p(&cert),
        ]);
        // PostgreSQL refuses a key others can read.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .expect("chmod the key");
        TlsFiles { ca, cert, key }
    }
}

fn openssl(args: &[&str]) {
    let out = match Command::new("openssl").args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "openssl is not installed: install Debian's openssl package (scripts/test.sh does)"
        ),
        Err(e) => panic!("cannot run openssl: {e}"),
    };
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
