//! The shipping metrics of a shared history (`[history] backend = "postgres"`), registered
//! only then: batches and decisions shipped, failed attempts, batches PostgreSQL already
//! had, the backlog waiting in the journal and how long since it was last empty.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::stores::{catch_up, ShipSnapshot};

/// The shipping families.
#[derive(Debug)]
pub(super) struct ShipFamilies {
    batches: Counter,
    rows: Counter,
    failures: Counter,
    already: Counter,
    backlog_decisions: Gauge,
    backlog_bytes: Gauge,
    behind: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl ShipFamilies {
    pub(super) fn register(registry: &mut Registry) -> ShipFamilies {
        let families = ShipFamilies {
            batches: Counter::default(),
            rows: Counter::default(),
            failures: Counter::default(),
            already: Counter::default(),
            backlog_decisions: Gauge::default(),
            backlog_bytes: Gauge::default(),
            behind: Gauge::default(),
        };
        registry.register(
            "badclients_history_batches_shipped",
            "History batches (journal segments) written to the shared history",
            families.batches.clone(),
        );
        registry.register(
            "badclients_history_rows_shipped",
            "Decisions written to the shared history",
            families.rows.clone(),
        );
        registry.register(
            "badclients_history_ship_failures",
            "Attempts to ship a batch that failed or timed out (the batch waits in the journal)",
            families.failures.clone(),
        );
        registry.register(
            "badclients_history_batches_already_shipped",
            "Batches sent again that the shared history already had (skipped: written once)",
            families.already.clone(),
        );
        registry.register(
            "badclients_history_backlog_decisions",
            "Decisions in the journal not yet in the shared history, as of the last attempt",
            families.backlog_decisions.clone(),
        );
        registry.register_with_unit(
            "badclients_history_backlog",
            "Bytes of decisions in the journal not yet in the shared history",
            Unit::Bytes,
            families.backlog_bytes.clone(),
        );
        registry.register_with_unit(
            "badclients_history_since_caught_up",
            "Time since every journaled decision was last in the shared history",
            Unit::Seconds,
            families.behind.clone(),
        );
        families
    }

    /// Brings the figures up to `snap`.
    pub(super) fn observe(&self, snap: &ShipSnapshot) {
        catch_up(&self.batches, snap.batches);
        catch_up(&self.rows, snap.rows);
        catch_up(&self.failures, snap.failures);
        catch_up(&self.already, snap.already_shipped);
        self.backlog_decisions
            .set(i64::try_from(snap.backlog_decisions).unwrap_or(i64::MAX));
        self.backlog_bytes
            .set(i64::try_from(snap.backlog_bytes).unwrap_or(i64::MAX));
        self.behind.set(snap.seconds_behind);
    }
}
