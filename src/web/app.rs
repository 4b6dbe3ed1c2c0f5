//! `AppState`: what the HTTP handlers may reach — the decision (Dovecot and the shim), the
//! configuration and lists in force, the metrics, the history and the lookup cache. One
//! `Arc`, so that handing it to a request costs one reference count.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use crate::decider::state::Active;
use crate::decider::{Decider, LoginResult, Outcome};
use crate::history::writer::HistoryWriter;
use crate::lookup::Lookup;
use crate::metrics::{Metrics, StorageSnapshot};

/// The handlers' view of the daemon.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    decider: Arc<Decider>,
}

impl AppState {
    pub(crate) fn new(decider: Decider) -> AppState {
        AppState {
            decider: Arc::new(decider),
        }
    }

    /// Decides one login (see [`Decider::decide`]).
    pub(crate) async fn decide(
        &self,
        user: &str,
        service: &str,
        ip: IpAddr,
        password_checked: bool,
    ) -> Outcome {
        self.decider
            .decide(user, service, ip, password_checked)
            .await
    }

    /// Logs how a login went, as Dovecot reports it.
    pub(crate) fn report(&self, user: &str, service: &str, ip: IpAddr, result: LoginResult) {
        self.decider.report(user, service, ip, result);
    }

    /// The configuration and lists in force now.
    pub(crate) fn active(&self) -> Arc<Active> {
        self.decider.state().load()
    }

    /// The configuration file the daemon runs with (`None`: the defaults).
    pub(crate) fn config_path(&self) -> Option<&Path> {
        self.decider.state().config_path()
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        self.decider.metrics()
    }

    /// Counts one answer of a counted endpoint (see [`Metrics::observe_http`]).
    pub(crate) fn count(&self, endpoint: &str, status: axum::http::StatusCode) {
        self.metrics().observe_http(endpoint, status.as_u16());
    }

    /// The decision history, when it is on.
    pub(crate) fn history(&self) -> Option<&HistoryWriter> {
        self.decider.history()
    }

    pub(crate) fn lookup(&self) -> &Lookup {
        self.decider.lookup()
    }

    /// Why the daemon is degraded (for `/healthz`): the list directory, the history, the
    /// lookups; empty when it is not.
    pub(crate) fn degraded(&self) -> Vec<&'static str> {
        let lists = self.active().list_dir_fault.map(|f| f.describe());
        lists
            .into_iter()
            .chain(self.decider.storage_degraded())
            .chain(self.decider.lookup_degraded())
            .collect()
    }

    /// What the stores report, for `/metrics`.
    pub(crate) fn storage_snapshot(&self) -> StorageSnapshot {
        self.decider.storage_snapshot()
    }
}
