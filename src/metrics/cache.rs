//! The cache metrics: entries of each cache table by tier, the cache file's size, the cap
//! of every table, the entries the periodic prune removed.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::gauge::saturating_i64;
use crate::lookup::tiers::CacheSizes;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheTableLabels {
    tier: &'static str,
    table: &'static str,
}

/// The cache tables that get their own `table` label value; anything else is `other`.
const CACHE_TABLES: [&str; 5] = ["origin", "as_name", "rdap", "ptr", "dnsbl"];

/// The cache families.
#[derive(Debug)]
pub(super) struct CacheFamilies {
    entries: Family<CacheTableLabels, Gauge>,
    file_bytes: Gauge,
    max_entries: Gauge,
    pruned: Family<CacheTableLabels, Counter>,
}

impl CacheFamilies {
    pub(super) fn register(registry: &mut Registry) -> CacheFamilies {
        let entries = Family::<CacheTableLabels, Gauge>::default();
        registry.register(
            "badclients_cache_entries",
            "Entries of each cache table, by tier (memory, store), as of the last prune",
            entries.clone(),
        );
        let file_bytes = Gauge::default();
        registry.register_with_unit(
            "badclients_cache_file",
            "Size of the cache file, as of the last prune",
            Unit::Bytes,
            file_bytes.clone(),
        );
        let max_entries = Gauge::default();
        registry.register(
            "badclients_cache_max_entries",
            "The cap of every cache table, in entries ([cache] max_entries)",
            max_entries.clone(),
        );
        let pruned = Family::<CacheTableLabels, Counter>::default();
        registry.register(
            "badclients_cache_pruned",
            "Cache entries removed by the periodic prune (past their stale lifetime, or over \
             the cap in the file), by tier; table is always all",
            pruned.clone(),
        );
        CacheFamilies {
            entries,
            file_bytes,
            max_entries,
            pruned,
        }
    }

    /// Records how full the cache tiers are.
    pub(super) fn observe_cache_sizes(&self, sizes: &CacheSizes) {
        let families = self;
        for (tier, tables) in [("memory", &sizes.memory), ("store", &sizes.store)] {
            for t in tables {
                families
                    .entries
                    .get_or_create(&CacheTableLabels {
                        tier,
                        table: cache_table_label(&t.table),
                    })
                    .set(saturating_i64(t.entries));
            }
        }
        if let Some(bytes) = sizes.file_bytes {
            families
                .file_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        families.max_entries.set(saturating_i64(sizes.max_entries));
    }

    /// Counts the entries one prune removed from `tier` (`memory` or `store`).
    pub(super) fn observe_cache_pruned(&self, tier: &'static str, removed: usize) {
        self.pruned
            .get_or_create(&CacheTableLabels { tier, table: "all" })
            .inc_by(u64::try_from(removed).unwrap_or(u64::MAX));
    }
}

/// The `table` label value of a cache table: one of [`CACHE_TABLES`], or `other`.
fn cache_table_label(table: &str) -> &'static str {
    CACHE_TABLES
        .iter()
        .find(|t| **t == table)
        .copied()
        .unwrap_or("other")
}
