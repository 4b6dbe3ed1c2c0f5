//! The Prometheus metrics: one [`Metrics`] value owns its own registry (no global state)
//! and every counter, gauge and histogram badclients exports, and turns what the daemon
//! did — decisions, lookups, list reloads, HTTP and Postfix requests — into observations.
//!
//! Label values never carry a user name, an address, a host name or a list entry: every
//! label value is a `&'static str` chosen from a fixed set by the mapping functions of
//! this module ([`service_label`], [`matched_label`], [`endpoint_label`],
//! [`status_class`], [`postfix_action_label`], [`list_dir_fault_label`]), so a client
//! cannot create new series or forge lines of the exposition.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

use crate::decision::{Decision, Reason, Verdict};
use crate::lists::{ListKind, ListSet, LoadReport};
use crate::lookup::{LookupReport, Provenance};
use crate::server::state::ListDirFault;

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

/// The services that get their own `service` label value; anything else is `other`.
pub const SERVICES: [&str; 8] = [
    "imap",
    "pop3",
    "smtp",
    "submission",
    "sieve",
    "managesieve",
    "lmtp",
    "doveadm",
];

/// The list names a [`crate::decision::Hit`] label can carry as it is (`entity:…`,
/// `dnsbl:…` and `maxmind:geoloc:…` are reduced to `entity`, `dnsbl` and `maxmind:geoloc`).
/// Every label a decision can carry has its value here: `other` is never one of them.
const LISTS: [&str; 17] = [
    "service",
    "ignore_networks",
    "ip_net.allow",
    "user.allow",
    "ip_net",
    "rev_host",
    "asn",
    "as_cc",
    "as_dscr",
    "net_cc",
    "net_name",
    "geo_cc",
    "cloud",
    "maxmind:as_org",
    "maxmind:geoloc_city",
    "maxmind:geoloc_subdiv",
    "maxmind:geoloc_country",
];

/// The HTTP endpoints that get their own `endpoint` label value.
const ENDPOINTS: [&str; 6] = [
    "policy_allow",
    "policy_report",
    "check",
    "metrics",
    "ui",
    "other",
];

/// The Postfix policy actions (access(5)) that get their own `action` label value.
const POSTFIX_ACTIONS: [&str; 14] = [
    "ok",
    "dunno",
    "reject",
    "defer",
    "defer_if_reject",
    "defer_if_permit",
    "bcc",
    "discard",
    "filter",
    "hold",
    "prepend",
    "redirect",
    "info",
    "warn",
];

/// Why the metrics could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot encode the metrics: {0}")]
    Encode(#[from] std::fmt::Error),
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    service: &'static str,
    verdict: &'static str,
    matched: &'static str,
    enforced: &'static str,
}

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

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheTableLabels {
    tier: &'static str,
    table: &'static str,
}

/// The cache tables that get their own `table` label value; anything else is `other`.
const CACHE_TABLES: [&str; 5] = ["origin", "as_name", "rdap", "ptr", "dnsbl"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    endpoint: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: &'static str,
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
    /// The cache store is open; `None` without one (memory only).
    pub cache_up: Option<bool>,
    pub cache_moved_aside: u64,
    pub cache_reopens: u64,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedLabels {
    listener: &'static str,
    reason: &'static str,
}

/// The listeners that get their own `listener` label value; anything else is `other`.
const LISTENERS: [&str; 2] = ["http", "postfix"];

/// The connection metrics of every listener.
#[derive(Debug)]
struct ConnectionFamilies {
    open: Family<ListenerLabels, Gauge>,
    closed: Family<ClosedLabels, Counter>,
    accept_errors: Family<ListenerLabels, Counter>,
}

impl ConnectionFamilies {
    fn register(registry: &mut Registry) -> ConnectionFamilies {
        let open = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "badclients_connections_open",
            "Connections open, by listener",
            open.clone(),
        );
        let closed = Family::<ClosedLabels, Counter>::default();
        registry.register(
            "badclients_connections_closed",
            "Connections closed by the daemon, by listener and reason: evicted (the \
             longest-waiting one, to admit a new one at the cap or free a descriptor), \
             idle (no request in time) or body_timeout (the body did not arrive in time)",
            closed.clone(),
        );
        let accept_errors = Family::<ListenerLabels, Counter>::default();
        registry.register(
            "badclients_connection_accept_errors",
            "Failed accepts (e.g. out of file descriptors), by listener",
            accept_errors.clone(),
        );
        ConnectionFamilies {
            open,
            closed,
            accept_errors,
        }
    }

    fn counters(&self, listener: &'static str) -> ConnCounters {
        let listener = LISTENERS
            .iter()
            .find(|l| **l == listener)
            .copied()
            .unwrap_or("other");
        let closed = |reason| {
            self.closed
                .get_or_create(&ClosedLabels { listener, reason })
                .clone()
        };
        ConnCounters {
            open: self
                .open
                .get_or_create(&ListenerLabels { listener })
                .clone(),
            evicted: closed("evicted"),
            idle: closed("idle"),
            body_timeout: closed("body_timeout"),
            accept_errors: self
                .accept_errors
                .get_or_create(&ListenerLabels { listener })
                .clone(),
        }
    }
}

/// The connection metrics of one listener (handles onto the registered series; the
/// default is a set that no registry exports, for tests and embedders).
#[derive(Debug, Clone, Default)]
pub struct ConnCounters {
    /// Connections open now.
    pub open: Gauge,
    /// Closed to make room at the cap or to free a descriptor.
    pub evicted: Counter,
    /// Closed because no (whole) request arrived in time.
    pub idle: Counter,
    /// HTTP: closed because the request body did not arrive in time.
    pub body_timeout: Counter,
    /// Failed accepts.
    pub accept_errors: Counter,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Every metric badclients exports, with the registry that encodes them.
///
/// `Send + Sync`; share it in an `Arc`. Observing takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    lookup_duration: HistogramFamily<SourceLabels>,
    lookup_total_duration: Histogram,
    cache: Family<CacheLabels, Counter>,
    upstream_errors: Family<ErrorLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    reload_errors: Gauge,
    reload_warnings: Gauge,
    list_entries: Family<ListLabels, Gauge>,
    lists_kept: Family<ReasonLabels, Counter>,
    lists_degraded: Gauge,
    last_reload: Gauge<f64, AtomicU64>,
    http: Family<HttpLabels, Counter>,
    postfix: Family<ActionLabels, Counter>,
    connections: ConnectionFamilies,
    cache_entries: Family<CacheTableLabels, Gauge>,
    cache_file_bytes: Gauge,
    cache_max_entries: Gauge,
    cache_pruned: Family<CacheTableLabels, Counter>,
    store_up: Family<StoreLabels, Gauge>,
    store_damaged: Family<StoreLabels, Counter>,
    store_reopens: Family<StoreLabels, Counter>,
    history_lost: Counter,
    history_commit_errors: Counter,
    history_journal_bytes: Gauge,
    history_strings: Gauge,
    match_budget_exhausted: Counter,
    pattern_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all at zero, in a registry of its own.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "badclients_decisions",
            "Logins decided, by service, verdict (allow, block, tempfail, or unverified: a \
             deny list matched a login whose password had not been checked yet), the list \
             that matched and whether the verdict was enforced (false in audit mode)",
            decisions.clone(),
        );
        let lookup_duration: HistogramFamily<SourceLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "badclients_lookup_duration",
            "Time spent waiting for one upstream source (cache hits excluded)",
            Unit::Seconds,
            lookup_duration.clone(),
        );
        let lookup_total_duration = duration_histogram();
        registry.register_with_unit(
            "badclients_lookup_total_duration",
            "Time one whole lookup took, cache hits included",
            Unit::Seconds,
            lookup_total_duration.clone(),
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
        let http = Family::<HttpLabels, Counter>::default();
        registry.register(
            "badclients_http_requests",
            "HTTP requests, by endpoint and status class",
            http.clone(),
        );
        let postfix = Family::<ActionLabels, Counter>::default();
        registry.register(
            "badclients_postfix_requests",
            "Postfix policy requests, by the action answered",
            postfix.clone(),
        );
        let connections = ConnectionFamilies::register(&mut registry);
        let cache_entries = Family::<CacheTableLabels, Gauge>::default();
        registry.register(
            "badclients_cache_entries",
            "Entries of each cache table, by tier (memory, store), as of the last prune",
            cache_entries.clone(),
        );
        let cache_file_bytes = Gauge::default();
        registry.register_with_unit(
            "badclients_cache_file",
            "Size of the cache file, as of the last prune",
            Unit::Bytes,
            cache_file_bytes.clone(),
        );
        let cache_max_entries = Gauge::default();
        registry.register(
            "badclients_cache_max_entries",
            "The cap of every cache table, in entries ([cache] max_entries)",
            cache_max_entries.clone(),
        );
        let cache_pruned = Family::<CacheTableLabels, Counter>::default();
        registry.register(
            "badclients_cache_pruned",
            "Cache entries removed by the periodic prune (past their stale lifetime, or over \
             the cap in the file), by tier; table is always all",
            cache_pruned.clone(),
        );
        let store_up = Family::<StoreLabels, Gauge>::default();
        registry.register(
            "badclients_store_up",
            "1 while a store (history, cache) is open and writing, 0 while it is unavailable or \
             waiting to be reopened after an I/O error",
            store_up.clone(),
        );
        let store_damaged = Family::<StoreLabels, Counter>::default();
        registry.register(
            "badclients_store_damaged",
            "Damaged store files moved aside and replaced by a fresh one",
            store_damaged.clone(),
        );
        let store_reopens = Family::<StoreLabels, Counter>::default();
        registry.register(
            "badclients_store_reopens",
            "Stores closed and reopened after an I/O error or damage",
            store_reopens.clone(),
        );
        let history_lost = Counter::default();
        registry.register(
            "badclients_history_lost",
            "Decisions answered (and in the audit log) but not kept in the history: the \
             journal was at its cap while the store could not commit",
            history_lost.clone(),
        );
        let history_commit_errors = Counter::default();
        registry.register(
            "badclients_history_commit_errors",
            "History batches that failed to commit (they wait in the journal)",
            history_commit_errors.clone(),
        );
        let history_journal_bytes = Gauge::default();
        registry.register_with_unit(
            "badclients_history_journal",
            "Bytes the history journal holds (segments on disk and frames in memory)",
            Unit::Bytes,
            history_journal_bytes.clone(),
        );
        let history_strings = Gauge::default();
        registry.register(
            "badclients_history_strings",
            "Distinct strings (user names, host names, networks…) the kept history uses, as of \
             the last prune; the ones no kept record uses are dropped when their number doubles",
            history_strings.clone(),
        );
        let match_budget_exhausted = Counter::default();
        registry.register(
            "badclients_match_budget_exhausted",
            "Logins whose pattern matching ran out of its step budget (match_budget) before \
             every pattern was tried",
            match_budget_exhausted.clone(),
        );
        let pattern_failures = Counter::default();
        registry.register(
            "badclients_pattern_failures",
            "Patterns that failed on their own while matching a login (too complex or too \
             expensive) and counted as no match",
            pattern_failures.clone(),
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
        Metrics {
            registry,
            decisions,
            lookup_duration,
            lookup_total_duration,
            cache,
            upstream_errors,
            reloads,
            reload_errors,
            reload_warnings,
            list_entries,
            lists_kept,
            lists_degraded,
            last_reload,
            http,
            postfix,
            connections,
            cache_entries,
            cache_file_bytes,
            cache_max_entries,
            cache_pruned,
            store_up,
            store_damaged,
            store_reopens,
            history_lost,
            history_commit_errors,
            history_journal_bytes,
            history_strings,
            match_budget_exhausted,
            pattern_failures,
        }
    }

    /// The connection counters of `listener` (`http` or `postfix`), for its
    /// [`crate::connections::ConnTable`].
    pub fn connection_counters(&self, listener: &'static str) -> ConnCounters {
        self.connections.counters(listener)
    }

    /// Records how full the cache tiers are.
    pub fn observe_cache_sizes(&self, sizes: &crate::lookup::tiers::CacheSizes) {
        for (tier, tables) in [("memory", &sizes.memory), ("store", &sizes.store)] {
            for t in tables {
                self.cache_entries
                    .get_or_create(&CacheTableLabels {
                        tier,
                        table: cache_table_label(&t.table),
                    })
                    .set(saturating_i64(t.entries));
            }
        }
        if let Some(bytes) = sizes.file_bytes {
            self.cache_file_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        self.cache_max_entries
            .set(saturating_i64(sizes.max_entries));
    }

    /// Counts the entries one prune removed from `tier` (`memory` or `store`).
    pub fn observe_cache_pruned(&self, tier: &'static str, removed: usize) {
        self.cache_pruned
            .get_or_create(&CacheTableLabels { tier, table: "all" })
            .inc_by(u64::try_from(removed).unwrap_or(u64::MAX));
    }

    /// Brings the store metrics up to `snap` (the stores count; this copies their totals).
    pub fn observe_storage(&self, snap: &StorageSnapshot) {
        let catch_up = |counter: &Counter, total: u64| {
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        let history = StoreLabels { store: "history" };
        let cache = StoreLabels { store: "cache" };
        self.store_up
            .get_or_create(&history)
            .set(i64::from(snap.history_up));
        catch_up(
            &self.store_damaged.get_or_create(&history),
            snap.history_moved_aside,
        );
        catch_up(
            &self.store_reopens.get_or_create(&history),
            snap.history_reopens,
        );
        if let Some(up) = snap.cache_up {
            self.store_up.get_or_create(&cache).set(i64::from(up));
            catch_up(
                &self.store_damaged.get_or_create(&cache),
                snap.cache_moved_aside,
            );
            catch_up(
                &self.store_reopens.get_or_create(&cache),
                snap.cache_reopens,
            );
        }
        catch_up(&self.history_lost, snap.history_lost);
        catch_up(&self.history_commit_errors, snap.history_commit_errors);
        self.history_journal_bytes
            .set(i64::try_from(snap.history_journal_bytes).unwrap_or(i64::MAX));
        self.history_strings
            .set(i64::try_from(snap.history_strings).unwrap_or(i64::MAX));
    }

    /// Counts one decision for a login to `service`; `enforced` is false in audit mode.
    /// Counts one decision. A block of a login whose password nobody had checked (the Lua
    /// shim ahead of the password passdb) is counted as `verdict="unverified"`, never as a
    /// block: it may be a password guess.
    pub fn observe_decision(
        &self,
        service: &str,
        decision: &Decision,
        enforced: bool,
        password_checked: bool,
    ) {
        let verdict = match decision.verdict {
            Verdict::Block if !password_checked => "unverified",
            v => verdict_label(v),
        };
        let labels = DecisionLabels {
            service: service_label(service),
            verdict,
            matched: matched_label(decision),
            enforced: if enforced { "true" } else { "false" },
        };
        self.decisions.get_or_create(&labels).inc();
        if decision.reason == Reason::MatchBudgetExhausted {
            self.match_budget_exhausted.inc();
        }
        if !decision.pattern_failures.is_empty() {
            self.pattern_failures
                .inc_by(decision.pattern_failures.len() as u64);
        }
    }

    /// Records how each source of one lookup fared: the wait for sources that went
    /// upstream (answered or failed), the cache result, the failures, and the whole
    /// lookup's time (the longest wait of its sources).
    pub fn observe_lookup(&self, report: &LookupReport) {
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
                self.lookup_duration
                    .get_or_create(&SourceLabels { source })
                    .observe(s.elapsed.as_secs_f64());
            }
            if let Some(result) = result {
                self.cache
                    .get_or_create(&CacheLabels { source, result })
                    .inc();
            }
            if let Some(e) = &s.error {
                self.upstream_errors
                    .get_or_create(&ErrorLabels {
                        source,
                        kind: e.kind(),
                    })
                    .inc();
            }
        }
        if let Some(longest) = longest {
            self.lookup_total_duration.observe(longest.as_secs_f64());
        }
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
        let result = if ok { "success" } else { "failure" };
        self.reloads.get_or_create(&ResultLabels { result }).inc();
        self.reload_errors.set(saturating_i64(report.errors()));
        self.reload_warnings.set(saturating_i64(report.warnings()));
        if !ok {
            return;
        }
        self.set_list_entries(lists);
        let secs = at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.last_reload.set(secs);
    }

    /// Shows what is in force, whatever the last reload found: the entries of each list
    /// of `lists` and whether the list directory is degraded (`fault`).
    pub fn observe_lists_in_force(&self, lists: &ListSet, fault: Option<ListDirFault>) {
        self.set_list_entries(lists);
        self.lists_degraded.set(i64::from(fault.is_some()));
    }

    /// Counts one reload that kept the last good lists as a whole because of `fault`.
    pub fn observe_lists_kept(&self, fault: ListDirFault) {
        self.lists_kept
            .get_or_create(&ReasonLabels {
                reason: list_dir_fault_label(fault),
            })
            .inc();
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

    /// Counts one HTTP request to `endpoint` (see [`endpoint_label`]) answered `status`.
    pub fn observe_http(&self, endpoint: &str, status: u16) {
        let labels = HttpLabels {
            endpoint: endpoint_label(endpoint),
            status: status_class(status),
        };
        self.http.get_or_create(&labels).inc();
    }

    /// Counts one Postfix policy request answered with `action` (see
    /// [`postfix_action_label`]).
    pub fn observe_postfix(&self, action: &str) {
        let labels = ActionLabels {
            action: postfix_action_label(action),
        };
        self.postfix.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text exposition of every metric (serve it as [`CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The `table` label value of a cache table: one of [`CACHE_TABLES`], or `other`.
fn cache_table_label(table: &str) -> &'static str {
    CACHE_TABLES
        .iter()
        .find(|t| **t == table)
        .copied()
        .unwrap_or("other")
}

/// The `reason` label value of a [`ListDirFault`].
pub fn list_dir_fault_label(fault: ListDirFault) -> &'static str {
    match fault {
        ListDirFault::Unavailable => "dir_unavailable",
        ListDirFault::Emptied => "emptied",
    }
}

/// The `service` label value: one of [`SERVICES`] (compared ignoring ASCII case), or
/// `other`.
pub fn service_label(service: &str) -> &'static str {
    SERVICES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(service))
        .copied()
        .unwrap_or("other")
}

/// The `verdict` label value.
pub fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allow => "allow",
        Verdict::Block => "block",
        Verdict::TempFail => "tempfail",
    }
}

/// The `matched` label value: the name of the list that decided, never the entry —
/// `entity:MAIL-RU` → `entity`, `maxmind:geoloc:52,13,50,0.5` → `maxmind:geoloc`,
/// `reserved` for a reserved address, `none` when nothing matched, `other` for a label
/// this module does not know.
pub fn matched_label(decision: &Decision) -> &'static str {
    match &decision.reason {
        Reason::Reserved(_) => "reserved",
        Reason::NoMatch | Reason::LookupFailed => "none",
        Reason::MatchBudgetExhausted => "match_budget",
        Reason::DisabledService(h)
        | Reason::AllowedNetwork(h)
        | Reason::AllowedUser(h)
        | Reason::Listed(h) => list_label(&h.label),
    }
}

/// A [`crate::decision::Hit`] label reduced to its list name.
fn list_label(label: &str) -> &'static str {
    if label == "entity" || label.starts_with("entity:") {
        return "entity";
    }
    if label.starts_with("maxmind:geoloc:") {
        return "maxmind:geoloc";
    }
    if label.starts_with("dnsbl:") {
        return "dnsbl";
    }
    LISTS
        .iter()
        .find(|l| **l == label)
        .copied()
        .unwrap_or("other")
}

/// The `endpoint` label value: `policy_allow`, `policy_report`, `check`, `metrics`, `ui`
/// (the dashboard), or `other` for anything else.
pub fn endpoint_label(endpoint: &str) -> &'static str {
    ENDPOINTS
        .iter()
        .find(|e| **e == endpoint)
        .copied()
        .unwrap_or("other")
}

/// The `status` label value: the class of an HTTP status (`2xx`, `4xx`, `5xx`, …), or
/// `other` for a number outside 100–599.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// The `action` label value of a Postfix policy answer: its first word lower-cased when
/// it is an access(5) action (`dunno`, `reject`, `defer_if_permit`, …), `4xx`/`5xx` for a
/// numeric SMTP reply, otherwise `other`. The text after the action never shows.
pub fn postfix_action_label(action: &str) -> &'static str {
    let action = action.trim_start();
    let word = action
        .split(|c: char| c.is_ascii_whitespace())
        .next()
        .unwrap_or("");
    let bytes = word.as_bytes();
    if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_digit) {
        return match bytes[0] {
            b'4' => "4xx",
            b'5' => "5xx",
            _ => "other",
        };
    }
    POSTFIX_ACTIONS
        .iter()
        .find(|a| a.eq_ignore_ascii_case(word))
        .copied()
        .unwrap_or("other")
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

    #[test]
    fn list_labels() {
        assert_eq!(list_label("entity:MAIL-RU"), "entity");
        assert_eq!(list_label("maxmind:geoloc:52,13,50,0.5"), "maxmind:geoloc");
        assert_eq!(list_label("maxmind:geoloc_city"), "maxmind:geoloc_city");
        assert_eq!(list_label("ip_net.allow"), "ip_net.allow");
        assert_eq!(list_label("rev_host"), "rev_host");
        assert_eq!(list_label("cloud"), "cloud");
        assert_eq!(list_label("geo_cc"), "geo_cc");
        assert_eq!(list_label("dnsbl:zen.spamhaus.org"), "dnsbl");
        // Every deny list's label, as the decision makes it from the file name.
        for kind in crate::lists::ListKind::ALL {
            let label = kind.file_name().trim_end_matches(".deny.lst");
            let label = label.trim_end_matches(".lst");
            let label = match kind {
                crate::lists::ListKind::MaxmindAsOrg => "maxmind:as_org",
                crate::lists::ListKind::MaxmindGeoLoc => "maxmind:geoloc_country",
                crate::lists::ListKind::MaxmindCoords => "maxmind:geoloc:1,2,3,0.5",
                crate::lists::ListKind::Entity => "entity:ORG-1",
                _ => label,
            };
            assert_ne!(list_label(label), "other", "{kind:?} ({label})");
        }
        assert_eq!(list_label("alice@example.org"), "other");
        assert_eq!(list_label(""), "other");
    }

    #[test]
    fn postfix_actions() {
        assert_eq!(postfix_action_label("DUNNO"), "dunno");
        assert_eq!(postfix_action_label("REJECT bad client alice"), "reject");
        assert_eq!(
            postfix_action_label("defer_if_permit try later"),
            "defer_if_permit"
        );
        assert_eq!(postfix_action_label("450 4.7.1 later"), "4xx");
        assert_eq!(postfix_action_label("554 no"), "5xx");
        assert_eq!(postfix_action_label("250 ok"), "other");
        assert_eq!(postfix_action_label(""), "other");
        assert_eq!(postfix_action_label("x\"} 1"), "other");
    }
}
