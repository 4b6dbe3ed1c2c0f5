//! The shared decision history in PostgreSQL (`[history] backend = "postgres"`): one database
//! every node of a site ships its decisions to, so `report`, `suggest` and `/ui` see the whole
//! site.
//!
//! It owns the connection to the database ([`connect`], bounded in time), the schema and its
//! migrations ([`schema`]), shipping the writer's batches, pruning and forgetting
//! ([`ship`]: [`PgShipper`]), and the redaction of a URL for logs ([`redacted`]).

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

pub mod schema;
pub mod ship;

pub use ship::PgShipper;

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
    /// The database holds a newer schema than this badclients knows.
    #[error(
        "the shared history's schema is version {found}, newer than this badclients knows \
         ({known}): upgrade badclients on this node"
    )]
    SchemaTooNew { found: i32, known: i32 },
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

/// Connects to `url` within `timeout`; the connection's task runs on the current tokio
/// runtime until the returned client is dropped.
pub async fn connect(url: &str, timeout: Duration) -> Result<Client, PgHistoryError> {
    let mut config =
        tokio_postgres::Config::from_str(url).map_err(|source| PgHistoryError::InvalidUrl {
            url: redacted(url),
            source,
        })?;
    config.connect_timeout(timeout);
    if config.get_application_name().is_none() {
        config.application_name("badclients");
    }
    let connecting = config.connect(NoTls);
    let (client, connection) = match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(source)) => {
            return Err(PgHistoryError::Postgres {
                op: "connect",
                source,
            })
        }
        Err(_) => {
            return Err(PgHistoryError::Timeout {
                op: "connect",
                after: timeout,
            })
        }
    };
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// `url` with its password replaced by `***`, for logs and errors: a URL's
/// `user:password@`, or a `password=` key of the key/value form.
pub fn redacted(url: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url) {
        if parsed.password().is_some() && parsed.set_password(Some("***")).is_ok() {
            return parsed.to_string();
        }
        return url.to_string();
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
            redacted("host=/run/postgresql user=bc password=s3cret dbname=badclients"),
            "host=/run/postgresql user=bc password=*** dbname=badclients"
        );
    }
}
