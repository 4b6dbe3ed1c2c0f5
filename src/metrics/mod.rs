//! The Prometheus metrics: one [`Metrics`] value owns its own registry (no global state)
//! and every counter, gauge and histogram badclients exports, and turns what the daemon
//! did — decisions, lookups, list reloads, HTTP and Postfix requests — into observations.
//! One file per area (`decisions`, `lookups`, `lists`, `requests`,
//! `connections`, `cache`, `stores`, `history`), each registering its families
//! and observing into them; [`Metrics`] holds them all and hands each observation to
//! its area. The areas never use this module: what they share (the duration
//! histograms, the gauge conversion) lives below them in `histogram` and `gauge`.
//!
//! Label values never carry a user name, an address, a host name or a list entry: every
//! label value is a `&'static str` chosen from a fixed set by the mapping functions of
//! this module ([`service_label`], [`matched_label`], [`endpoint_label`],
//! [`status_class`], [`postfix_action_label`], [`list_dir_fault_label`]), so a client
//! cannot create new series or forge lines of the exposition.

mod cache;
mod connections;
mod decisions;
mod gauge;
mod histogram;
mod history;
mod lists;
mod lookups;
mod requests;
mod shipping;
mod stores;

use std::time::SystemTime;

use prometheus_client::registry::Registry;

use crate::decision::Decision;
use crate::list_dir_fault::ListDirFault;
use crate::lists::{ListSet, LoadReport};
use crate::lookup::tiers::CacheSizes;
use crate::lookup::LookupReport;

pub use connections::ConnCounters;
pub use decisions::{matched_label, service_label, verdict_label, SERVICES};
pub use histogram::DURATION_BUCKETS;
pub use lists::list_dir_fault_label;
pub use requests::{endpoint_label, postfix_action_label, status_class};
pub use stores::{ShipSnapshot, StorageSnapshot};

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why the metrics could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot encode the metrics: {0}")]
    Encode(#[from] std::fmt::Error),
}

/// Every metric badclients exports, with the registry that encodes them.
///
/// `Send + Sync`; share it in an `Arc`. Observing takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    decisions: decisions::DecisionFamilies,
    lookups: lookups::LookupFamilies,
    lists: lists::ListFamilies,
    requests: requests::RequestFamilies,
    connections: connections::ConnectionFamilies,
    cache: cache::CacheFamilies,
    stores: stores::StoreFamilies,
    history: history::HistoryFamilies,
    matching: decisions::MatchingFamilies,
    /// Registered only when the history is shipped to PostgreSQL.
    shipping: Option<shipping::ShipFamilies>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all at zero, in a registry of its own. The families are
    /// registered (and so exposed) in this order.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let decisions = decisions::DecisionFamilies::register(&mut registry);
        let lookups = lookups::LookupFamilies::register(&mut registry);
        let lists = lists::ListFamilies::register(&mut registry);
        let requests = requests::RequestFamilies::register(&mut registry);
        let connections = connections::ConnectionFamilies::register(&mut registry);
        let cache = cache::CacheFamilies::register(&mut registry);
        let stores = stores::StoreFamilies::register(&mut registry);
        let history = history::HistoryFamilies::register(&mut registry);
        let matching = decisions::MatchingFamilies::register(&mut registry);
        Metrics {
            registry,
            decisions,
            lookups,
            lists,
            requests,
            connections,
            cache,
            stores,
            history,
            matching,
            shipping: None,
        }
    }

    /// Adds the families of shipping to a shared history (`[history] backend =
    /// "postgres"`), after the others; without this they are not exposed at all.
    pub fn with_history_shipping(mut self) -> Metrics {
        if self.shipping.is_none() {
            self.shipping = Some(shipping::ShipFamilies::register(&mut self.registry));
        }
        self
    }

    /// The OpenMetrics text exposition of every metric (serve it as [`CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Counts one decision for a login to `service`; `enforced` is false in audit mode.
    /// A block of a login whose password nobody had checked (the Lua
    /// shim ahead of the password passdb) is counted as `verdict="unverified"`, never as a
    /// block: it may be a password guess.
    pub fn observe_decision(
        &self,
        service: &str,
        decision: &Decision,
        enforced: bool,
        password_checked: bool,
    ) {
        self.decisions
            .observe_decision(service, decision, enforced, password_checked);
        self.matching.observe_decision(decision);
    }

    /// Records how each source of one lookup fared: the wait for sources that went
    /// upstream (answered or failed), the cache result, the failures, and the whole
    /// lookup's time (the longest wait of its sources).
    pub fn observe_lookup(&self, report: &LookupReport) {
        self.lookups.observe_lookup(report);
    }

    /// Records one list reload, now. See [`Metrics::observe_reload_at`].
    pub fn observe_reload(&self, lists: &ListSet, report: &LoadReport, ok: bool) {
        self.observe_reload_at(lists, report, ok, SystemTime::now());
    }

    /// Records one list reload that finished at `at`: the result, the errors and warnings
    /// of `report`, and — only when `ok`, since a failed reload leaves the old lists in
    /// force — the entries of each list of `lists` and the reload time.
    pub fn observe_reload_at(
        &self,
        lists: &ListSet,
        report: &LoadReport,
        ok: bool,
        at: SystemTime,
    ) {
        self.lists.observe_reload_at(lists, report, ok, at);
    }

    /// Shows what is in force, whatever the last reload found: the entries of each list
    /// of `lists` and whether the list directory is degraded (`fault`).
    pub fn observe_lists_in_force(&self, lists: &ListSet, fault: Option<ListDirFault>) {
        self.lists.observe_lists_in_force(lists, fault);
    }

    /// Counts one reload that kept the last good lists as a whole because of `fault`.
    pub fn observe_lists_kept(&self, fault: ListDirFault) {
        self.lists.observe_lists_kept(fault);
    }

    /// Counts one HTTP request to `endpoint` (see [`endpoint_label`]) answered `status`.
    pub fn observe_http(&self, endpoint: &str, status: u16) {
        self.requests.observe_http(endpoint, status);
    }

    /// Counts one Postfix policy request answered with `action` (see
    /// [`postfix_action_label`]).
    pub fn observe_postfix(&self, action: &str) {
        self.requests.observe_postfix(action);
    }

    /// The connection counters of `listener` (`http` or `postfix`), for its
    /// [`crate::connections::ConnTable`].
    pub fn connection_counters(&self, listener: &'static str) -> ConnCounters {
        self.connections.counters(listener)
    }

    /// Records how full the cache tiers are.
    pub fn observe_cache_sizes(&self, sizes: &CacheSizes) {
        self.cache.observe_cache_sizes(sizes);
    }

    /// Counts the entries one prune removed from `tier` (`memory` or `store`).
    pub fn observe_cache_pruned(&self, tier: &'static str, removed: usize) {
        self.cache.observe_cache_pruned(tier, removed);
    }

    /// Brings the store and history metrics up to `snap` (the stores count; this copies
    /// their totals).
    pub fn observe_storage(&self, snap: &StorageSnapshot) {
        self.stores.observe_storage(snap);
        self.history.observe(snap);
        if let (Some(families), Some(ship)) = (&self.shipping, &snap.history_shipping) {
            families.observe(ship);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn metrics_are_send_and_sync() {
        assert_send_sync::<Metrics>();
    }
}
