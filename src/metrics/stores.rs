//! The store metrics (history and cache files): whether each is up, damaged files moved
//! aside, reopens; [`StorageSnapshot`], what the stores report, copied in when `/metrics`
//! is read (the history's own figures go to `history`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: &'static str,
}

/// What shipping to the shared history reports (see `WriterCounters`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShipSnapshot {
    pub batches: u64,
    pub rows: u64,
    pub failures: u64,
    pub already_shipped: u64,
    pub backlog_decisions: u64,
    pub backlog_bytes: u64,
    /// Seconds since the backlog was last empty (since start when it never was).
    pub seconds_behind: f64,
}

/// What the history and cache stores report, observed when `/metrics` is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct StorageSnapshot {
    /// The history is open and committing (or disabled).
    pub history_up: bool,
    pub history_moved_aside: u64,
    pub history_reopens: u64,
    pub history_lost: u64,
    pub history_commit_errors: u64,
    pub history_journal_bytes: u64,
    pub history_strings: u64,
    /// Shipping to a shared history, when the history is shipped (`backend = "postgres"`).
    pub history_shipping: Option<ShipSnapshot>,
    /// The cache store is open; `None` without one (memory only).
    pub cache_up: Option<bool>,
    pub cache_moved_aside: u64,
    pub cache_reopens: u64,
}

/// The store families.
#[derive(Debug)]
pub(super) struct StoreFamilies {
    up: Family<StoreLabels, Gauge>,
    damaged: Family<StoreLabels, Counter>,
    reopens: Family<StoreLabels, Counter>,
}

impl StoreFamilies {
    pub(super) fn register(registry: &mut Registry) -> StoreFamilies {
        let up = Family::<StoreLabels, Gauge>::default();
        registry.register(
            "badclients_store_up",
            "1 while a store (history, cache) is open and writing, 0 while it is unavailable or \
             waiting to be reopened after an I/O error",
            up.clone(),
        );
        let damaged = Family::<StoreLabels, Counter>::default();
        registry.register(
            "badclients_store_damaged",
            "Damaged store files moved aside and replaced by a fresh one",
            damaged.clone(),
        );
        let reopens = Family::<StoreLabels, Counter>::default();
        registry.register(
            "badclients_store_reopens",
            "Stores closed and reopened after an I/O error or damage",
            reopens.clone(),
        );
        StoreFamilies {
            up,
            damaged,
            reopens,
        }
    }

    /// Brings the store metrics up to `snap` (the stores count; this copies their totals);
    /// the history's own figures are not these families'.
    pub(super) fn observe_storage(&self, snap: &StorageSnapshot) {
        let stores = self;
        let history = StoreLabels { store: "history" };
        let cache = StoreLabels { store: "cache" };
        stores
            .up
            .get_or_create(&history)
            .set(i64::from(snap.history_up));
        catch_up(
            &stores.damaged.get_or_create(&history),
            snap.history_moved_aside,
        );
        catch_up(
            &stores.reopens.get_or_create(&history),
            snap.history_reopens,
        );
        if let Some(up) = snap.cache_up {
            stores.up.get_or_create(&cache).set(i64::from(up));
            catch_up(
                &stores.damaged.get_or_create(&cache),
                snap.cache_moved_aside,
            );
            catch_up(&stores.reopens.get_or_create(&cache), snap.cache_reopens);
        }
    }
}

/// Brings a counter up to `total` (the stores count; the metrics copy their totals).
pub(super) fn catch_up(counter: &Counter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}
