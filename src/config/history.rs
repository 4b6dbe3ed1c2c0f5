//! `[history]`: where the decision history is kept — the embedded redb file (the default)
//! or a PostgreSQL database every node of a site ships its decisions to — and for how long.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[history]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistorySection {
    /// Keep a history of decisions (the daemon only).
    pub enabled: bool,
    /// The history file; default: `history.redb` next to the cache file.
    pub path: Option<PathBuf>,
    /// Decisions older than this many days are pruned.
    pub retention_days: u64,
    /// At most this many decisions are kept (the oldest go first).
    pub max_records: u64,
    /// How often a batch of decisions is committed, in ms.
    pub flush_ms: u64,
    /// A batch is committed early when this many decisions wait.
    pub batch_max: usize,
    /// The journal's cap in bytes (segments on disk and frames in memory) while the store
    /// cannot commit (disk full, I/O errors): beyond it decisions are still answered and
    /// logged in the audit line, but not kept in the history (counted in
    /// `badclients_history_lost_total`).
    /// Default: 64 MiB with redb, 1 GiB with PostgreSQL (whose outages the journal rides
    /// out).
    pub journal_max_bytes: Option<u64>,
    /// The admin's known-good ASNs and host suffixes, never proposed as candidates;
    /// default: `known_good.lst` in the list directory.
    pub known_good: Option<PathBuf>,
    /// Where decisions are kept: `redb` (a file of this node's own) or `postgres` (one
    /// database for every node of a site; each node journals locally and ships batches).
    pub backend: HistoryBackend,
    /// The PostgreSQL database of `backend = "postgres"`:
    /// `postgresql://user:password@host:5432/db`, or a unix socket
    /// (`postgresql://user@%2Frun%2Fpostgresql/db`, or `host=/run/postgresql dbname=db`).
    pub postgres_url: Option<String>,
    /// This node's name in the shared history; default: the host name.
    pub node: Option<String>,
    /// `backend = "postgres"`: how long connecting, shipping one batch, or each answer of a
    /// read (`report`, `/ui`) may take before it counts as failed, in ms (a batch that fails
    /// stays in the journal).
    pub postgres_timeout_ms: u64,
}

/// `[history] backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryBackend {
    /// The embedded redb file (`[history] path`).
    #[default]
    Redb,
    /// A PostgreSQL database shared by the nodes of a site (`[history] postgres_url`).
    Postgres,
}

impl Default for HistorySection {
    fn default() -> Self {
        HistorySection {
            enabled: true,
            path: None,
            retention_days: 30,
            max_records: 50_000_000,
            flush_ms: 250,
            batch_max: 10_000,
            journal_max_bytes: None,
            known_good: None,
            backend: HistoryBackend::Redb,
            postgres_url: None,
            node: None,
            postgres_timeout_ms: 5_000,
        }
    }
}

impl HistorySection {
    /// What serde cannot check.
    pub(super) fn validate(&self) -> Result<(), String> {
        match (self.backend, &self.postgres_url) {
            (HistoryBackend::Postgres, None) => Err(
                "[history] backend = \"postgres\" needs postgres_url (postgresql://…)".into(),
            ),
            (HistoryBackend::Redb, Some(_)) => Err(
                "[history] postgres_url is set but backend is \"redb\": set backend = \"postgres\" \
                 to use it, or remove the line"
                    .into(),
            ),
            _ => match &self.node {
                Some(node) if node.trim().is_empty() || node.chars().any(char::is_control) => {
                    Err("[history] node must be a non-empty name without control characters".into())
                }
                _ => Ok(()),
            },
        }
    }

    /// [`HistorySection::postgres_timeout_ms`] (at least 1 ms).
    pub fn postgres_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.postgres_timeout_ms.max(1))
    }

    /// The journal's cap: `journal_max_bytes` as set, else its default for the backend — a
    /// larger one with PostgreSQL ([`crate::history::writer::JOURNAL_MAX_BYTES_SHIPPING`]),
    /// whose outages the journal rides out.
    pub fn journal_cap(&self) -> u64 {
        match (self.journal_max_bytes, self.backend) {
            (Some(bytes), _) => bytes,
            (None, HistoryBackend::Redb) => crate::history::writer::JOURNAL_MAX_BYTES,
            (None, HistoryBackend::Postgres) => crate::history::writer::JOURNAL_MAX_BYTES_SHIPPING,
        }
    }

    /// This node's name in the shared history: `node`, else the host name, else `localhost`.
    pub fn node_name(&self) -> String {
        if let Some(node) = &self.node {
            return node.clone();
        }
        rustix::system::uname()
            .nodename()
            .to_str()
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or("localhost")
            .to_string()
    }
}
