//! The Prometheus metrics: one [`Metrics`] value owns its own registry (no global state)
//! and every counter, gauge and histogram badclients exports, and turns what the daemon
//! did — decisions, lookups, list reloads, HTTP and Postfix requests — into observations.
//! One file per area (`decisions`, `lookups`, `lists`, `requests`,
//! `connections`, `cache`, `stores`, `history`), each registering its families
//! and observing into them.
//!
//! Label values never carry a user name, an address, a host name or a list entry: every
//! label value is a `&'static str` chosen from a fixed set by the mapping functions of
//! this module ([`service_label`], [`matched_label`], [`endpoint_label`],
//! [`status_class`], [`postfix_action_label`], [`list_dir_fault_label`]), so a client
//! cannot create new series or forge lines of the exposition.

mod cache;
mod connections;
mod decisions;
mod history;
mod lists;
mod lookups;
mod requests;
mod stores;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use connections::ConnCounters;
pub use decisions::{matched_label, service_label, verdict_label, SERVICES};
pub use lists::list_dir_fault_label;
pub use requests::{endpoint_label, postfix_action_label, status_class};
pub use stores::StorageSnapshot;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the duration histograms, in seconds: 1 µs to 5 s in 1-2.5-5 steps.
pub const DURATION_BUCKETS: [f64; 21] = [
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
];

/// Why the metrics could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot encode the metrics: {0}")]
    Encode(#[from] std::fmt::Error),
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
        }
    }

    /// The OpenMetrics text exposition of every metric (serve it as [`CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
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

    #[test]
    fn buckets_rise() {
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(DURATION_BUCKETS.first(), Some(&0.000_001));
        assert_eq!(DURATION_BUCKETS.last(), Some(&5.0));
    }
}
