//! TLS to PostgreSQL as libpq asks for it: `sslmode` and `sslrootcert` in the URL.

use std::time::Duration;

use badclients::pghistory::{connect, PgHistoryError};
use testkit::postgres::PgServer;
use testkit::tls::TlsFiles;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the session of `client` is encrypted.
async fn encrypted(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

#[tokio::test]
async fn verify_full_with_the_servers_ca_is_encrypted_and_plain_is_not() {
    let (pg, ca) = PgServer::start_with_tls();
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        pg.url(),
        ca.display()
    );
    let client = connect(&url, TIMEOUT).await.expect("connect with TLS");
    assert!(encrypted(&client).await, "the session is encrypted");
    let plain = connect(&pg.url(), TIMEOUT)
        .await
        .expect("connect without TLS");
    assert!(!encrypted(&plain).await, "no sslmode: no TLS");
    let required = format!("{}?sslmode=require&sslrootcert={}", pg.url(), ca.display());
    let client = connect(&required, TIMEOUT)
        .await
        .expect("require verifies too");
    assert!(encrypted(&client).await);
}

#[tokio::test]
async fn a_server_signed_by_another_ca_is_refused() {
    let (pg, _ca) = PgServer::start_with_tls();
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = TlsFiles::generate(other_dir.path());
    let url = format!(
        "{}?sslmode=require&sslrootcert={}",
        pg.url(),
        other.ca.display()
    );
    match connect(&url, TIMEOUT).await {
        Err(PgHistoryError::Postgres { op, source }) => {
            assert_eq!(op, "connect");
            let text = format!("{source:?}");
            assert!(text.to_lowercase().contains("certificate"), "{text}");
        }
        Err(other) => panic!("a certificate error, not {other}"),
        Ok(_) => panic!("a server the CA did not sign must be refused"),
    }
}

#[tokio::test]
async fn tls_asked_of_a_server_without_it_fails_within_the_timeout() {
    let pg = PgServer::start();
    let url = format!("{}?sslmode=require", pg.url());
    let started = std::time::Instant::now();
    assert!(
        connect(&url, TIMEOUT).await.is_err(),
        "no TLS on the server"
    );
    assert!(started.elapsed() < TIMEOUT + Duration::from_secs(2));
}
