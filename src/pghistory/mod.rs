//! The shared decision history in PostgreSQL (`[history] backend = "postgres"`): one database
//! every node of a site ships its decisions to, so `report`, `suggest` and `/ui` see the whole
//! site.
//!
//! It owns the connection to the database ([`connect`], bounded in time, TLS as libpq's
//! `sslmode`/`sslrootcert` ask: [`tls`]), the schema and its migrations ([`schema`]),
//! shipping the writer's batches, pruning and forgetting ([`ship`]: [`PgShipper`]),
//! reading every node's decisions back for the views ([`read::PgReader`]), and the
//! redaction of a URL for logs ([`redacted`]).

use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, NoTls, Socket};

pub mod read;
pub mod schema;
pub mod ship;
pub mod tls;

pub use ship::PgShipper;
use tls::{PgTlsError, TlsRequest};

/// Why talking to the shared history failed.
#[derive(Debug, thiserror::Error)]
pub enum PgHistoryError {
    /// `[history] postgres_url` is not a PostgreSQL connection string.
    #[error("invalid [history] postgres_url {url}: {source}")]
    InvalidUrl {
        /// The URL, its password redacted.
        url: String,
        source: tokio_postgres::Error,
    },
    /// The database did not answer in time.
    #[error("PostgreSQL {op} timed out after {after:?}")]
    Timeout { op: &'static str, after: Duration },
    /// The database, or the connection to it, failed.
    #[error("PostgreSQL {op} failed: {source}")]
    Postgres {
        op: &'static str,
        source: tokio_postgres::Error,
    },
    /// TLS was asked for (`sslmode=require`/`verify-*`) but cannot be set up.
    #[error("TLS to PostgreSQL: {0}")]
    Tls(#[from] PgTlsError),
    /// The database holds a newer schema than this badclients knows.
    #[error(
        "the shared history's schema is version {found}, newer than this badclients knows \
         ({known}): upgrade badclients on this node"
    )]
    SchemaTooNew { found: i32, known: i32 },
    /// A row read back holds a value badclients does not write (a damaged or foreign row).
    #[error("the shared history holds an unreadable {0}")]
    Unreadable(&'static str),
    /// The last connection attempt failed; the next one waits for its back-off.
    #[error("PostgreSQL unreachable; next connection attempt in {wait:?}")]
    Backoff { wait: Duration },
    /// A batch number beyond PostgreSQL's bigint.
    #[error("batch number {0} out of range")]
    BatchNumber(u64),
}

impl PgHistoryError {
    /// A closure wrapping a driver error as the failure of `op`.
    pub fn of(op: &'static str) -> impl FnOnce(tokio_postgres::Error) -> PgHistoryError {
        move |source| PgHistoryError::Postgres { op, source }
    }
}

/// Connects to `url` within `timeout`, with TLS when its `sslmode` asks for it ([`tls`]);
/// the connection's task runs on the current tokio runtime until the returned client is
/// dropped.
pub async fn connect(url: &str, timeout: Duration) -> Result<Client, PgHistoryError> {
    let request = TlsRequest::of(url);
    let mut config = tokio_postgres::Config::from_str(&request.url).map_err(|source| {
        PgHistoryError::InvalidUrl {
            url: redacted(url),
            source,
        }
    })?;
    config.connect_timeout(timeout);
    if config.get_application_name().is_none() {
        config.application_name("badclients");
    }
    if request.tls {
        config.ssl_mode(SslMode::Require);
        let connector = tls::connector(request.root_cert.as_deref())?;
        connect_with(&config, connector, timeout).await
    } else {
        config.ssl_mode(SslMode::Disable);
        connect_with(&config, NoTls, timeout).await
    }
}

/// [`connect`] with the connector chosen.
async fn connect_with<T>(
    config: &tokio_postgres::Config,
    connector: T,
    timeout: Duration,
) -> Result<Client, PgHistoryError>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let connecting = async {
        config
            .connect(connector)
            .await
            .map_err(PgHistoryError::of("connect"))
    };
    let (client, connection) = bounded(timeout, "connect", connecting).await?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// `fut` within `timeout`, or [`PgHistoryError::Timeout`] naming `op`: every wait for the
/// database goes through this.
pub(crate) async fn bounded<T>(
    timeout: Duration,
    op: &'static str,
    fut: impl std::future::Future<Output = Result<T, PgHistoryError>>,
) -> Result<T, PgHistoryError> {
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or(Err(PgHistoryError::Timeout { op, after: timeout }))
}

/// `url` with its password replaced by `***`, for logs and errors: a URL's
/// `user:password@`, or a `password=` key of the key/value form.
pub fn redacted(url: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url) {
        if parsed.password().is_some() {
            let _ = parsed.set_password(Some("***"));
        }
        if parsed.query_pairs().any(|(k, _)| k == "password") {
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" {
                        "***".into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return parsed.to_string();
    }
    url.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.trim().eq_ignore_ascii_case("password") => {
                format!("{key}=***")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_hides_the_password_in_both_forms() {
        assert_eq!(
            redacted("postgresql://bc:s3cret@db.example:5432/badclients"),
            "postgresql://bc:***@db.example:5432/badclients"
        );
        assert_eq!(
            redacted("postgresql://bc@%2Frun%2Fpostgresql/badclients"),
            "postgresql://bc@%2Frun%2Fpostgresql/badclients"
        );
        assert_eq!(
            redacted("postgresql://db1/badclients?user=bc&password=s3cret"),
            "postgresql://db1/badclients?user=bc&password=***"
        );
        assert_eq!(
            redacted("host=/run/postgresql user=bc password=s3cret dbname=badclients"),
            "host=/run/postgresql user=bc password=*** dbname=badclients"
        );
    }
}
