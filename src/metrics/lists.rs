//! The list metrics: reloads by result, the errors and warnings the last one found, the
//! entries of each list in force, reloads that kept the last good lists as a whole, the
//! degraded flag and the time of the last good reload.

use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::gauge::saturating_i64;
use crate::list_dir_fault::ListDirFault;
use crate::lists::{ListKind, ListSet, LoadReport};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListLabels {
    list: &'static str,
}

/// The list families.
#[derive(Debug)]
pub(super) struct ListFamilies {
    reloads: Family<ResultLabels, Counter>,
    reload_errors: Gauge,
    reload_warnings: Gauge,
    list_entries: Family<ListLabels, Gauge>,
    lists_kept: Family<ReasonLabels, Counter>,
    lists_degraded: Gauge,
    last_reload: Gauge<f64, AtomicU64>,
}

impl ListFamilies {
    pub(super) fn register(registry: &mut Registry) -> ListFamilies {
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "badclients_reloads",
            "List reloads, by result",
            reloads.clone(),
        );
        let reload_errors = Gauge::default();
        registry.register(
            "badclients_reload_errors",
            "Errors found by the last list reload",
            reload_errors.clone(),
        );
        let reload_warnings = Gauge::default();
        registry.register(
            "badclients_reload_warnings",
            "Warnings found by the last list reload",
            reload_warnings.clone(),
        );
        let list_entries = Family::<ListLabels, Gauge>::default();
        registry.register(
            "badclients_list_entries",
            "Entries of each list file in force",
            list_entries.clone(),
        );
        let lists_kept = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "badclients_list_reloads_kept",
            "Reloads that kept the last good lists as a whole, by reason: dir_unavailable \
             (the list directory is missing or cannot be read) or emptied (no entries where \
             the lists in force had some)",
            lists_kept.clone(),
        );
        let lists_degraded = Gauge::default();
        registry.register(
            "badclients_lists_degraded",
            "1 while the lists in force are not what the list directory holds (see \
             badclients_list_reloads_kept), else 0",
            lists_degraded.clone(),
        );
        let last_reload = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "badclients_last_reload_timestamp",
            "Unix time of the last successful list reload",
            Unit::Seconds,
            last_reload.clone(),
        );
        // Both results exist from the start, so `increase()` sees the first failure.
        for result in ["success", "failure"] {
            drop(reloads.get_or_create(&ResultLabels { result }));
        }
        for fault in [ListDirFault::Unavailable, ListDirFault::Emptied] {
            drop(lists_kept.get_or_create(&ReasonLabels {
                reason: list_dir_fault_label(fault),
            }));
        }
        ListFamilies {
            reloads,
            reload_errors,
            reload_warnings,
            list_entries,
            lists_kept,
            lists_degraded,
            last_reload,
        }
    }

    fn set_list_entries(&self, lists: &ListSet) {
        for kind in ListKind::ALL {
            self.list_entries
                .get_or_create(&ListLabels {
                    list: kind.file_name(),
                })
                .set(saturating_i64(lists.len_of(kind)));
        }
    }

    /// Records one list reload that finished at `at`: the result, the errors and warnings
    /// of `report`, and — only when `ok`, since a failed reload leaves the old lists in
    /// force — the entries of each list of `lists` and the reload time.
    pub(super) fn observe_reload_at(
        &self,
        lists: &ListSet,
        report: &LoadReport,
        ok: bool,
        at: SystemTime,
    ) {
        let families = self;
        let result = if ok { "success" } else { "failure" };
        families
            .reloads
            .get_or_create(&ResultLabels { result })
            .inc();
        families.reload_errors.set(saturating_i64(report.errors()));
        families
            .reload_warnings
            .set(saturating_i64(report.warnings()));
        if !ok {
            return;
        }
        families.set_list_entries(lists);
        let secs = at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        families.last_reload.set(secs);
    }

    /// Shows what is in force, whatever the last reload found: the entries of each list
    /// of `lists` and whether the list directory is degraded (`fault`).
    pub(super) fn observe_lists_in_force(&self, lists: &ListSet, fault: Option<ListDirFault>) {
        self.set_list_entries(lists);
        self.lists_degraded.set(i64::from(fault.is_some()));
    }

    /// Counts one reload that kept the last good lists as a whole because of `fault`.
    pub(super) fn observe_lists_kept(&self, fault: ListDirFault) {
        self.lists_kept
            .get_or_create(&ReasonLabels {
                reason: list_dir_fault_label(fault),
            })
            .inc();
    }
}

/// The `reason` label value of a [`ListDirFault`].
pub fn list_dir_fault_label(fault: ListDirFault) -> &'static str {
    match fault {
        ListDirFault::Unavailable => "dir_unavailable",
        ListDirFault::Emptied => "emptied",
    }
}
