//! [`HistorySource`]: where `report`, `suggest` and `/ui` read decisions from — the redb
//! file of this node or the shared PostgreSQL history of every node — chosen here, from
//! `[history] backend`, for every reader.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Config, HistoryBackend};
use crate::pghistory::read::PgReader;
use crate::pghistory::{redacted, PgHistoryError};

/// Where the views read the decision history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistorySource {
    /// This node's redb file: its own decisions only.
    Redb {
        path: PathBuf,
        /// This node's name (what `--node` may name).
        node: String,
    },
    /// The PostgreSQL database every node ships to.
    Postgres {
        url: String,
        timeout: Duration,
        node: String,
    },
}

/// Why a node filter cannot be applied.
#[derive(Debug, thiserror::Error)]
#[error(
    "the redb history holds only this node's decisions (node {this}), not {wanted}'s: \
     reading other nodes needs [history] backend = \"postgres\""
)]
pub struct NodeNotHere {
    pub this: String,
    pub wanted: String,
}

impl HistorySource {
    /// The source `config` names.
    pub fn of(config: &Config) -> HistorySource {
        let h = &config.history;
        match (h.backend, &h.postgres_url) {
            (HistoryBackend::Postgres, Some(url)) => HistorySource::Postgres {
                url: url.clone(),
                timeout: h.postgres_timeout(),
                node: h.node_name(),
            },
            _ => HistorySource::Redb {
                path: config.history_path(),
                node: h.node_name(),
            },
        }
    }

    /// Whether reading only `wanted`'s decisions is possible: always with PostgreSQL; with
    /// redb only for this node's own name (the file holds nothing else), which then reads
    /// the whole file.
    pub fn check_node(&self, wanted: Option<&str>) -> Result<(), NodeNotHere> {
        match (self, wanted) {
            (HistorySource::Redb { node, .. }, Some(w)) if w != node => Err(NodeNotHere {
                this: node.clone(),
                wanted: w.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// What the source is, for messages and the dashboard: the file's path, or the URL
    /// with its password redacted.
    pub fn describe(&self) -> String {
        match self {
            HistorySource::Redb { path, .. } => path.display().to_string(),
            HistorySource::Postgres { url, .. } => redacted(url),
        }
    }

    /// Connects a reader of the PostgreSQL source (on the current runtime) reading `node`'s
    /// decisions, or every node's; `None` for the redb source.
    pub async fn pg_reader(
        &self,
        node: Option<String>,
    ) -> Option<Result<PgReader, PgHistoryError>> {
        match self {
            HistorySource::Redb { .. } => None,
            HistorySource::Postgres { url, timeout, .. } => {
                Some(PgReader::connect(url, *timeout, node).await)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redb_accepts_only_its_own_node() {
        let mut config = Config::default();
        config.history.node = Some("mx1".into());
        let source = HistorySource::of(&config);
        assert!(source.check_node(None).is_ok());
        assert!(source.check_node(Some("mx1")).is_ok());
        let err = source.check_node(Some("mx2")).unwrap_err().to_string();
        assert!(err.contains("backend = \"postgres\""), "{err}");
    }

    #[test]
    fn postgres_is_chosen_by_the_backend_and_redacts_its_url() {
        let mut config = Config::default();
        config.history.backend = HistoryBackend::Postgres;
        config.history.postgres_url = Some("postgresql://bc:s3cret@db/badclients".into());
        let source = HistorySource::of(&config);
        assert!(source.check_node(Some("any")).is_ok());
        assert_eq!(source.describe(), "postgresql://bc:***@db/badclients");
    }
}
