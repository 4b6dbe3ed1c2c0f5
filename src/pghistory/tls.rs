//! TLS to PostgreSQL, asked for the way libpq is: `sslmode` and `sslrootcert` in the
//! connection string (`postgresql://…/badclients?sslmode=verify-full&sslrootcert=/etc/…`).
//!
//! [`TlsRequest::of`] takes those two keys out of the string (the driver knows no
//! `sslrootcert` and no `verify-*` modes) and [`connector`] builds the rustls connector.
//! Stricter than libpq on purpose: `require`, `verify-ca` and `verify-full` all verify the
//! server's certificate and name, against `sslrootcert` or the system's CA certificates;
//! `disable`, `allow`, `prefer` and no `sslmode` connect without TLS (use a unix socket or a
//! private network then).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why a TLS connector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PgTlsError {
    /// `sslrootcert` is not a readable PEM file with at least one certificate.
    #[error("sslrootcert {path}: {reason}")]
    RootCert { path: PathBuf, reason: String },
    /// The system's verifier could not be set up.
    #[error("cannot verify PostgreSQL's certificate: {0}")]
    Verifier(#[source] rustls::Error),
}

/// A connection string with its TLS wishes taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsRequest {
    /// The string for the driver, without `sslrootcert` and with `sslmode` only when it is
    /// `disable`, `prefer` or `require`.
    pub(crate) url: String,
    /// `sslmode` is `require`, `verify-ca` or `verify-full`.
    pub(crate) tls: bool,
    /// `sslrootcert`: the CA certificates to verify the server with.
    pub(crate) root_cert: Option<PathBuf>,
}

impl TlsRequest {
    /// Splits `url` (a `postgresql://` URL or the `key=value` form).
    pub(crate) fn of(url: &str) -> TlsRequest {
        let mut tls = false;
        let mut root_cert = None;
        let mut keep = |key: &str, value: &str| -> bool {
            match key {
                "sslrootcert" => {
                    root_cert = Some(PathBuf::from(value));
                    false
                }
                "sslmode" => {
                    tls = matches!(value, "require" | "verify-ca" | "verify-full");
                    false
                }
                _ => true,
            }
        };
        let url = match url::Url::parse(url) {
            Ok(mut parsed) if parsed.scheme().starts_with("postgres") => {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .filter(|(k, v)| keep(k, v))
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                if pairs.is_empty() {
                    parsed.set_query(None);
                } else {
                    parsed.query_pairs_mut().clear().extend_pairs(pairs);
                }
                parsed.to_string()
            }
            _ => url
                .split_whitespace()
                .filter(|pair| match pair.split_once('=') {
                    Some((k, v)) => keep(k.trim(), v.trim().trim_matches('\'')),
                    None => true,
                })
                .collect::<Vec<_>>()
                .join(" "),
        };
        TlsRequest {
            url,
            tls,
            root_cert,
        }
    }
}

/// A rustls connector verifying the server against `root_cert` (PEM), else the system's
/// CA certificates.
pub(crate) fn connector(root_cert: Option<&Path>) -> Result<MakeRustlsConnect, PgTlsError> {
    crate::tls::install_crypto_provider();
    let config = match root_cert {
        Some(path) => {
            let root_err = |reason: String| PgTlsError::RootCert {
                path: path.to_path_buf(),
                reason,
            };
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| root_err(e.to_string()))?;
            for cert in certs {
                let cert = cert.map_err(|e| root_err(e.to_string()))?;
                roots.add(cert).map_err(|e| root_err(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(root_err("no certificate in the file".into()));
            }
            ClientConfig::builder()
                .with_root_certificates(Arc::new(roots))
                .with_no_client_auth()
        }
        None => {
            use rustls_platform_verifier::ConfigVerifierExt;
            ClientConfig::with_platform_verifier().map_err(PgTlsError::Verifier)?
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_keys_are_taken_out_of_a_url() {
        let r = TlsRequest::of(
            "postgresql://bc:pw@db1:5432/badclients?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=3",
        );
        assert!(r.tls);
        assert_eq!(r.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(
            r.url,
            "postgresql://bc:pw@db1:5432/badclients?connect_timeout=3"
        );
        let plain = TlsRequest::of("postgresql://bc@%2Frun%2Fpostgresql/badclients?sslmode=prefer");
        assert!(!plain.tls);
        assert_eq!(plain.url, "postgresql://bc@%2Frun%2Fpostgresql/badclients");
    }

    #[test]
    fn tls_keys_are_taken_out_of_the_key_value_form() {
        let r =
            TlsRequest::of("host=db1 sslmode=require sslrootcert='/etc/ca.pem' dbname=badclients");
        assert!(r.tls);
        assert_eq!(r.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(r.url, "host=db1 dbname=badclients");
        assert!(!TlsRequest::of("host=/run/postgresql dbname=badclients").tls);
    }

    #[test]
    fn a_root_cert_file_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        match connector(Some(&empty)) {
            Err(err) => assert!(err.to_string().contains("ca.pem"), "{err}"),
            Ok(_) => panic!("a file without certificates must be refused"),
        }
        assert!(connector(Some(&dir.path().join("missing.pem"))).is_err());
    }
}
