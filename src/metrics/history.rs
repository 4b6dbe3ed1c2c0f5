//! The history metrics: decisions answered but not kept, batches that failed to commit,
//! the journal's size and the distinct strings the kept history uses.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::stores::{catch_up, StorageSnapshot};

/// The history families.
#[derive(Debug)]
pub(super) struct HistoryFamilies {
    lost: Counter,
    commit_errors: Counter,
    journal_bytes: Gauge,
    strings: Gauge,
}

impl HistoryFamilies {
    pub fn register(registry: &mut Registry) -> HistoryFamilies {
        let lost = Counter::default();
        registry.register(
            "badclients_history_lost",
            "Decisions answered (and in the audit log) but not kept in the history: the \
             journal was at its cap while the store could not commit",
            lost.clone(),
        );
        let commit_errors = Counter::default();
        registry.register(
            "badclients_history_commit_errors",
            "History batches that failed to commit (they wait in the journal)",
            commit_errors.clone(),
        );
        let journal_bytes = Gauge::default();
        registry.register_with_unit(
            "badclients_history_journal",
            "Bytes the history journal holds (segments on disk and frames in memory)",
            Unit::Bytes,
            journal_bytes.clone(),
        );
        let strings = Gauge::default();
        registry.register(
            "badclients_history_strings",
            "Distinct strings (user names, host names, networks…) the kept history uses, as of \
             the last prune; the ones no kept record uses are dropped when their number doubles",
            strings.clone(),
        );
        HistoryFamilies {
            lost,
            commit_errors,
            journal_bytes,
            strings,
        }
    }

    /// Brings the history figures up to `snap`.
    pub(super) fn observe(&self, snap: &StorageSnapshot) {
        catch_up(&self.lost, snap.history_lost);
        catch_up(&self.commit_errors, snap.history_commit_errors);
        self.journal_bytes
            .set(i64::try_from(snap.history_journal_bytes).unwrap_or(i64::MAX));
        self.strings
            .set(i64::try_from(snap.history_strings).unwrap_or(i64::MAX));
    }
}
