//! The lookup metrics: how long each upstream source and each whole lookup took, the
//! cache result per source, the upstream failures by kind.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::histogram::{duration_histogram, HistogramFamily};
use crate::lookup::{LookupReport, Provenance};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    source: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    source: &'static str,
    kind: &'static str,
}

/// The lookup families.
#[derive(Debug)]
pub(super) struct LookupFamilies {
    duration: HistogramFamily<SourceLabels>,
    total_duration: Histogram,
    cache: Family<CacheLabels, Counter>,
    upstream_errors: Family<ErrorLabels, Counter>,
}

impl LookupFamilies {
    pub(super) fn register(registry: &mut Registry) -> LookupFamilies {
        let duration: HistogramFamily<SourceLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "badclients_lookup_duration",
            "Time spent waiting for one upstream source (cache hits excluded)",
            Unit::Seconds,
            duration.clone(),
        );
        let total_duration = duration_histogram();
        registry.register_with_unit(
            "badclients_lookup_total_duration",
            "Time one whole lookup took, cache hits included",
            Unit::Seconds,
            total_duration.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "badclients_cache",
            "Cache results per source: hit (fresh), stale (served while refreshing) or miss",
            cache.clone(),
        );
        let upstream_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "badclients_upstream_errors",
            "Failed upstream queries, by source and kind of failure",
            upstream_errors.clone(),
        );
        LookupFamilies {
            duration,
            total_duration,
            cache,
            upstream_errors,
        }
    }

    /// Records how each source of one lookup fared: the wait for sources that went
    /// upstream (answered or failed), the cache result, the failures, and the whole
    /// lookup's time (the longest wait of its sources).
    pub(super) fn observe_lookup(&self, report: &LookupReport) {
        let families = self;
        let mut longest: Option<Duration> = None;
        for s in &report.sources {
            let source = s.source.name();
            longest = Some(longest.map_or(s.elapsed, |l| l.max(s.elapsed)));
            let result = match s.provenance {
                Provenance::Cache => Some("hit"),
                Provenance::Stale => Some("stale"),
                Provenance::Upstream | Provenance::Failed => Some("miss"),
                Provenance::Skipped | Provenance::Table => None,
            };
            if matches!(s.provenance, Provenance::Upstream | Provenance::Failed) {
                families
                    .duration
                    .get_or_create(&SourceLabels { source })
                    .observe(s.elapsed.as_secs_f64());
            }
            if let Some(result) = result {
                families
                    .cache
                    .get_or_create(&CacheLabels { source, result })
                    .inc();
            }
            if let Some(e) = &s.error {
                families
                    .upstream_errors
                    .get_or_create(&ErrorLabels {
                        source,
                        kind: e.kind(),
                    })
                    .inc();
            }
        }
        if let Some(longest) = longest {
            families.total_duration.observe(longest.as_secs_f64());
        }
    }
}
