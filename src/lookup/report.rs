//! What a lookup tells besides the facts: the sources ([`Source`]), why one gave nothing
//! ([`SourceError`]), where each answer came from ([`Provenance`]) and how long it took
//! ([`SourceReport`], [`LookupReport`]); and [`Outcome`], a source's answer on its way to
//! becoming a report.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::cymru::CymruError;
use super::dns::DnsError;
use crate::cache::memory::Cached;
use crate::facts::{Facts, LookupError};
use crate::rdap::RdapError;

/// One of the upstream sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Ptr,
    Origin,
    AsName,
    Rdap,
    /// The DNS blocklists (one report for all zones).
    Dnsbl,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::Ptr,
        Source::Origin,
        Source::AsName,
        Source::Rdap,
        Source::Dnsbl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Source::Ptr => "ptr",
            Source::Origin => "origin",
            Source::AsName => "as_name",
            Source::Rdap => "rdap",
            Source::Dnsbl => "dnsbl",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a source gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Dns(#[from] DnsError),
    #[error(transparent)]
    Cymru(#[from] CymruError),
    #[error(transparent)]
    Rdap(#[from] RdapError),
    #[error("no answer before the deadline")]
    Deadline,
    #[error("the lookup task failed")]
    Task,
}

impl SourceError {
    /// A short stable name (`timeout`, `malformed`, …) for the audit line and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Dns(e) => e.kind(),
            SourceError::Cymru(CymruError::Malformed(_)) => "malformed",
            SourceError::Cymru(CymruError::UnknownRegistry(_)) => "unknown_registry",
            SourceError::Cymru(CymruError::Empty) => "empty",
            SourceError::Rdap(e) => e.kind(),
            SourceError::Deadline => "timeout",
            SourceError::Task => "internal",
        }
    }
}

/// Where a source's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// A fresh cache entry.
    Cache,
    /// A stale cache entry (a refresh runs in the background).
    Stale,
    /// Asked upstream now.
    Upstream,
    /// Read from the offline ASN table (`[lookup] asn_table`), not from the internet nor
    /// the cache.
    Table,
    /// Not needed (e.g. no AS number to name).
    Skipped,
    /// Failed: see the error.
    Failed,
}

/// What one source did for one lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceReport {
    pub source: Source,
    pub provenance: Provenance,
    /// Time spent waiting for it.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
    #[serde(serialize_with = "error_text")]
    pub error: Option<SourceError>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn error_text<S: serde::Serializer>(e: &Option<SourceError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_str(&e.to_string()),
        None => s.serialize_none(),
    }
}

/// The facts of one IP and how each source fared.
#[derive(Debug, Clone, Serialize)]
pub struct LookupReport {
    pub facts: Facts,
    pub sources: Vec<SourceReport>,
}

/// Adds a failed source's `source:kind` to the facts' lookup errors.
pub(super) fn record_error(facts: &mut Facts, report: &SourceReport) {
    if let Some(e) = &report.error {
        facts
            .lookup_errors
            .push(LookupError::new(report.source.to_string(), e.kind()));
    }
}

/// A source's outcome before it becomes a report.
pub(super) struct Outcome<T> {
    pub value: Option<Arc<Option<T>>>,
    pub provenance: Provenance,
    pub error: Option<SourceError>,
}

impl<T> Outcome<T> {
    /// A cache entry: fresh or stale at `now`.
    pub(super) fn cached(c: Cached<Option<T>>, now: u64) -> Outcome<T> {
        let provenance = if c.is_fresh(now) {
            Provenance::Cache
        } else {
            Provenance::Stale
        };
        Outcome {
            value: Some(c.value),
            provenance,
            error: None,
        }
    }

    /// An answer from the offline ASN table (no upstream).
    pub(super) fn from_table(value: Option<T>) -> Outcome<T> {
        Outcome {
            value: Some(Arc::new(value)),
            provenance: Provenance::Table,
            error: None,
        }
    }

    /// Not asked (e.g. no AS number to name).
    pub(super) fn skipped() -> Outcome<T> {
        Outcome {
            value: None,
            provenance: Provenance::Skipped,
            error: None,
        }
    }

    pub(super) fn failed(e: SourceError) -> Outcome<T> {
        Outcome {
            value: None,
            provenance: Provenance::Failed,
            error: Some(e),
        }
    }

    pub(super) fn report(&self, source: Source, started: Instant) -> SourceReport {
        SourceReport {
            source,
            provenance: self.provenance,
            elapsed: started.elapsed(),
            error: self.error.clone(),
        }
    }

    pub(super) fn get(&self) -> Option<&T> {
        self.value.as_deref().and_then(Option::as_ref)
    }
}
