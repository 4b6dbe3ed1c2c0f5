//! Lookups: turn a client IP into [`Facts`] — Team Cymru origin and AS name over DNS,
//! the RIR's RDAP network, reverse DNS — all in parallel under one deadline, cached per
//! network, with concurrent identical queries merged.
//!
//! What is not known by the deadline stays `None` and the failure is recorded in
//! `Facts::lookup_errors` (`rdap:timeout`, …); an answer that arrives later still fills the
//! cache for the next login. A stale cache entry is served at once while a refresh runs.

pub mod build;
pub mod cymru;
pub mod dns;
pub use crate::dnsbl;
mod inflight;
pub mod tiers;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use serde::Serialize;

use arc_swap::ArcSwap;

use crate::asn_table::AsnTable;
use crate::cache::memory::{Cached, KeyTable};
use crate::cache::{now_unix, Table};
use crate::cloud::CloudRanges;
use crate::facts::{Asn, DnsblHit, Facts, LookupError};
use crate::geoip::GeoIp;
use crate::rdap::{RdapClient, RdapError, RdapNetwork, Registry};
use crate::reserved::{canonical, reserved, reserved_facts};
use cymru::{as_name_query, origin_name, parse_as_name, parse_origin, CymruError, Origin};
use dns::{DnsClient, DnsError};
use dnsbl::DnsblZone;
use inflight::InFlight;
use tiers::Tiers;

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

/// Settings of the lookups.
#[derive(Debug, Clone)]
pub struct LookupSettings {
    /// The whole lookup's deadline.
    pub deadline: Duration,
    pub ttls: tiers::Ttls,
    /// The DNS blocklists to ask.
    pub dnsbl: Vec<DnsblZone>,
}

/// Upstream query counters.
#[derive(Debug, Default)]
struct Counters {
    queries: [AtomicU64; 5],
}

impl Counters {
    fn count(&self, source: Source) {
        self.queries[source as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// Single-flight key: the "probable network" of an address (/24, /48), or the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FlightKey {
    Bucket(IpNet),
    Exact(IpAddr),
}

fn bucket(ip: IpAddr) -> IpNet {
    let len = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, len)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(ip))
}

type Flights<K, T> = InFlight<K, Option<T>, SourceError>;

/// The lookups that need no network: GeoIP databases and cloud ranges. Swapped as a whole
/// when a database file or a feed changes.
#[derive(Debug, Default)]
pub struct LocalSources {
    pub geoip: Option<Arc<GeoIp>>,
    pub cloud: Arc<CloudRanges>,
    /// An offline IP→ASN table used instead of Team Cymru.
    pub asn_table: Option<Arc<AsnTable>>,
}

struct Inner {
    local: ArcSwap<LocalSources>,
    dns: DnsClient,
    rdap: RdapClient,
    tiers: Tiers,
    settings: LookupSettings,
    origin_flights: Flights<FlightKey, Origin>,
    rdap_flights: Flights<FlightKey, RdapNetwork>,
    as_flights: Flights<Asn, String>,
    ptr_flights: Flights<IpAddr, String>,
    dnsbl_cache: KeyTable<(String, IpAddr), Option<Vec<Ipv4Addr>>>,
    dnsbl_flights: Flights<(String, IpAddr), Vec<Ipv4Addr>>,
    counters: Counters,
}

/// The lookup service. Cheap to clone.
#[derive(Clone)]
pub struct Lookup {
    inner: Arc<Inner>,
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lookup")
            .field("tiers", &self.inner.tiers)
            .finish()
    }
}

/// A source's outcome before it becomes a report.
struct Outcome<T> {
    value: Option<Arc<Option<T>>>,
    provenance: Provenance,
    error: Option<SourceError>,
}

impl<T> Outcome<T> {
    fn cached(c: Cached<Option<T>>, now: u64) -> Outcome<T> {
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
    fn from_table(value: Option<T>) -> Outcome<T> {
        Outcome {
            value: Some(Arc::new(value)),
            provenance: Provenance::Table,
            error: None,
        }
    }

    fn failed(e: SourceError) -> Outcome<T> {
        Outcome {
            value: None,
            provenance: Provenance::Failed,
            error: Some(e),
        }
    }

    fn report(&self, source: Source, started: Instant) -> SourceReport {
        SourceReport {
            source,
            provenance: self.provenance,
            elapsed: started.elapsed(),
            error: self.error.clone(),
        }
    }

    fn get(&self) -> Option<&T> {
        self.value.as_deref().and_then(Option::as_ref)
    }
}

fn host_net(ip: IpAddr) -> IpNet {
    IpNet::from(canonical(ip))
}

impl Lookup {
    /// A lookup service over the given clients and cache tiers.
    pub fn new(dns: DnsClient, rdap: RdapClient, tiers: Tiers, settings: LookupSettings) -> Lookup {
        let max_entries = tiers.max_entries();
        Lookup {
            inner: Arc::new(Inner {
                local: ArcSwap::from_pointee(LocalSources::default()),
                dns,
                rdap,
                tiers,
                settings,
                origin_flights: InFlight::default(),
                rdap_flights: InFlight::default(),
                as_flights: InFlight::default(),
                ptr_flights: InFlight::default(),
                dnsbl_cache: KeyTable::with_max_entries(max_entries),
                dnsbl_flights: InFlight::default(),
                counters: Counters::default(),
            }),
        }
    }

    /// The GeoIP databases and cloud ranges in use.
    pub fn local(&self) -> Arc<LocalSources> {
        self.inner.local.load_full()
    }

    /// Replaces the GeoIP databases and cloud ranges.
    pub fn set_local(&self, local: LocalSources) {
        self.inner.local.store(Arc::new(local));
    }

    /// The cache tiers.
    /// What keeps some lookups from working however often they are tried (the system has
    /// no CA certificates, so RDAP over HTTPS fails), for `/healthz`.
    pub fn degraded(&self) -> Option<&'static str> {
        self.inner
            .rdap
            .no_ca_roots()
            .then_some(crate::tls::NO_CA_ROOTS)
    }

    pub fn tiers(&self) -> &Tiers {
        &self.inner.tiers
    }

    /// Removes the memory entries past their stale lifetime at `now` (DNS blocklist answers
    /// included); returns how many.
    pub fn prune_memory(&self, now: u64) -> usize {
        let limit = self.inner.tiers.keep_limit(now);
        self.inner.tiers.prune_memory(now) + self.inner.dnsbl_cache.prune(limit)
    }

    /// Entries per memory table, the DNS blocklist answers' (`dnsbl`) included.
    pub fn memory_sizes(&self) -> Vec<tiers::TableSize> {
        let mut sizes = self.inner.tiers.memory_sizes();
        sizes.push(tiers::TableSize {
            table: Source::Dnsbl.name().to_string(),
            entries: self.inner.dnsbl_cache.len(),
        });
        sizes
    }

    /// How full the cache tiers are; reads the store file (blocking: run it off the async
    /// workers).
    pub fn cache_sizes(&self) -> Result<tiers::CacheSizes, crate::cache::store::StoreError> {
        let mut sizes = self.inner.tiers.sizes()?;
        sizes.memory = self.memory_sizes();
        Ok(sizes)
    }

    /// Removes every memory entry, or those for `ip`; returns how many went.
    pub fn purge_memory(&self, ip: Option<IpAddr>) -> usize {
        let dnsbl = match ip {
            None => {
                let n = self.inner.dnsbl_cache.len();
                self.inner.dnsbl_cache.clear();
                n
            }
            Some(ip) => {
                let mapped = canonical(ip);
                self.inner
                    .dnsbl_cache
                    .remove_where(|(_, a)| *a == ip || *a == mapped)
            }
        };
        self.inner.tiers.purge_memory(ip) + dnsbl
    }

    /// How many upstream queries each source made so far.
    pub fn upstream_queries(&self, source: Source) -> u64 {
        self.inner.counters.queries[source as usize].load(Ordering::Relaxed)
    }

    /// Everything known about `ip`, within the deadline.
    pub async fn facts(&self, ip: IpAddr) -> LookupReport {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.inner.settings.deadline);
        if let Some(range) = reserved(ip) {
            // Reserved addresses are never looked up upstream, but their local PTR is.
            let ptr = self.ptr(ip, deadline).await;
            let mut facts = reserved_facts(ip, range, ptr.get().cloned());
            let mut sources = vec![ptr.report(Source::Ptr, started)];
            record_error(&mut facts, &sources[0]);
            sources.truncate(1);
            return LookupReport { facts, sources };
        }
        let ptr = async {
            let o = self.ptr(ip, deadline).await;
            (o.report(Source::Ptr, started), o)
        };
        let asn_table = self.inner.local.load().asn_table.clone();
        let origin_chain = async {
            if let Some(table) = asn_table {
                return from_asn_table(&table, ip, started);
            }
            let origin = self.origin(ip, deadline).await;
            let origin_report = origin.report(Source::Origin, started);
            let asn = origin.get().and_then(|o| o.asns.first().copied());
            let as_name = match asn {
                Some(asn) => self.as_name(asn, deadline).await,
                None => Outcome {
                    value: None,
                    provenance: Provenance::Skipped,
                    error: None,
                },
            };
            let as_report = as_name.report(Source::AsName, started);
            (origin_report, origin, as_report, as_name)
        };
        let rdap = async {
            let o = self.rdap(ip, deadline).await;
            (o.report(Source::Rdap, started), o)
        };
        let ((ptr_r, ptr), (origin_r, origin, as_r, as_name), (rdap_r, rdap), dnsbl) =
            tokio::join!(ptr, origin_chain, rdap, self.dnsbl(ip, deadline, started));

        let mut facts = Facts::unknown(ip);
        facts.host = ptr.get().cloned();
        if let Some(o) = origin.get() {
            facts.asn = o.asns.first().copied();
            facts.asns = o.asns.clone();
            facts.as_cc = o.cc.clone();
            facts.as_prefix = o.prefix;
        }
        facts.as_desc = as_name.get().cloned();
        if let Some(n) = rdap.get() {
            facts.net_name = n.name.clone();
            facts.net_cc = n.country.clone();
            facts.net_handle = Some(n.handle.clone());
            facts.net_cidrs = n.cidrs.clone();
            facts.entities = n.entities.clone();
        }
        let mut sources = vec![ptr_r, origin_r, as_r, rdap_r];
        for s in &sources {
            record_error(&mut facts, s);
        }
        let local = self.inner.local.load();
        if let Some(geoip) = &local.geoip {
            match geoip.lookup(ip) {
                Ok(geo) => facts.maxmind = geo,
                Err(e) => {
                    tracing::warn!(error = %e, "GeoIP lookup failed");
                    facts
                        .lookup_errors
                        .push(LookupError::new("geoip", "failed"));
                }
            }
        }
        facts.cloud = local.cloud.lookup(ip).into_iter().cloned().collect();
        if let Some(dnsbl) = dnsbl {
            facts.dnsbl = dnsbl.listed;
            facts.lookup_errors.extend(dnsbl.errors);
            sources.push(dnsbl.report);
        }
        LookupReport { facts, sources }
    }

    async fn ptr(&self, ip: IpAddr, deadline: tokio::time::Instant) -> Outcome<String> {
        let inner = &self.inner;
        let source = CacheSource {
            memory: || inner.tiers.ptr.get(&ip),
            redis: || inner.tiers.redis_key(Table::Ptr, ip.to_string()),
            start: || {
                let task = Arc::clone(inner);
                inner
                    .ptr_flights
                    .join_or_start(ip, fetch_ptr(task, ip), SourceError::Task)
            },
        };
        source.get(deadline).await.0
    }

    async fn as_name(&self, asn: Asn, deadline: tokio::time::Instant) -> Outcome<String> {
        let inner = &self.inner;
        let source = CacheSource {
            memory: || inner.tiers.as_name.get(&asn),
            redis: || inner.tiers.redis_key(Table::AsName, asn.to_string()),
            start: || {
                let task = Arc::clone(inner);
                inner
                    .as_flights
                    .join_or_start(asn, fetch_as_name(task, asn), SourceError::Task)
            },
        };
        source.get(deadline).await.0
    }

    async fn origin(&self, ip: IpAddr, deadline: tokio::time::Instant) -> Outcome<Origin> {
        let inner = &self.inner;
        let fetch = |key| {
            let task = Arc::clone(inner);
            inner
                .origin_flights
                .join_or_start(key, fetch_origin(task, ip), SourceError::Task)
        };
        let source = CacheSource {
            memory: || inner.tiers.origin.get(ip).map(|(_, c)| c),
            redis: || inner.tiers.redis_network(Table::Origin, ip),
            start: || fetch(FlightKey::Bucket(bucket(ip))),
        };
        let covers = |o: &Origin| o.prefix.is_some_and(|p| p.contains(&canonical(ip)));
        match source.get(deadline).await {
            (outcome, Some(false))
                if outcome.error.is_none() && !outcome.get().is_some_and(covers) =>
            {
                // Another address's answer that does not cover this one: ask for this one.
                settle(fetch(FlightKey::Exact(ip)).0, deadline).await
            }
            (outcome, _) => outcome,
        }
    }

    async fn rdap(&self, ip: IpAddr, deadline: tokio::time::Instant) -> Outcome<RdapNetwork> {
        let inner = &self.inner;
        // The registry Team Cymru named for this network, when already known; otherwise
        // the IANA bootstrap decides (waiting for Cymru would put the two in series).
        let registry = inner
            .tiers
            .origin
            .get(ip)
            .and_then(|(_, c)| c.value.as_ref().as_ref().and_then(|o| o.registry));
        let fetch = |key| {
            let task = Arc::clone(inner);
            inner
                .rdap_flights
                .join_or_start(key, fetch_rdap(task, ip, registry), SourceError::Task)
        };
        let source = CacheSource {
            memory: || inner.tiers.rdap.get(ip).map(|(_, c)| c),
            redis: || inner.tiers.redis_network(Table::Rdap, ip),
            start: || fetch(FlightKey::Bucket(bucket(ip))),
        };
        match source.get(deadline).await {
            (outcome, Some(false))
                if outcome.error.is_none()
                    && !outcome.get().is_some_and(|n| n.contains(canonical(ip))) =>
            {
                // Another address's answer that does not cover this one: ask for this one.
                settle(fetch(FlightKey::Exact(ip)).0, deadline).await
            }
            (outcome, _) => outcome,
        }
    }
}

/// Origin and AS name from the offline table (no upstream query; a miss is an unknown AS).
fn from_asn_table(
    table: &AsnTable,
    ip: IpAddr,
    started: Instant,
) -> (SourceReport, Outcome<Origin>, SourceReport, Outcome<String>) {
    let entry = table.lookup(ip);
    let origin = entry.as_ref().map(|e| Origin {
        asns: vec![e.asn],
        prefix: None,
        cc: e.country.clone(),
        registry: None,
        allocated: None,
    });
    let name = entry.and_then(|e| e.description);
    let origin = Outcome::from_table(origin);
    let name = Outcome::from_table(name);
    (
        origin.report(Source::Origin, started),
        origin,
        name.report(Source::AsName, started),
        name,
    )
}

/// What the DNS blocklists said about one address.
struct DnsblOutcome {
    /// `zone:code` for every answer.
    listed: Vec<DnsblHit>,
    /// `dnsbl.<zone>:<kind>` for every zone that failed.
    errors: Vec<LookupError>,
    report: SourceReport,
}

impl Lookup {
    /// Asks every configured blocklist in parallel (`None` when none are configured).
    async fn dnsbl(
        &self,
        ip: IpAddr,
        deadline: tokio::time::Instant,
        started: Instant,
    ) -> Option<DnsblOutcome> {
        let inner = &self.inner;
        if inner.settings.dnsbl.is_empty() {
            return None;
        }
        let asks = inner.settings.dnsbl.iter().map(|zone| {
            let name = zone.name().to_string();
            async move {
                let key = (name.clone(), ip);
                let source = CacheSource {
                    memory: || inner.dnsbl_cache.get(&key),
                    redis: || async { false },
                    start: || {
                        let task = Arc::clone(inner);
                        inner.dnsbl_flights.join_or_start(
                            key.clone(),
                            fetch_dnsbl(task, name.clone(), ip),
                            SourceError::Task,
                        )
                    },
                };
                (name.clone(), source.get(deadline).await.0)
            }
        });
        let answers = futures::future::join_all(asks).await;
        let mut outcome = DnsblOutcome {
            listed: Vec::new(),
            errors: Vec::new(),
            report: SourceReport {
                source: Source::Dnsbl,
                provenance: Provenance::Cache,
                elapsed: started.elapsed(),
                error: None,
            },
        };
        for (zone, answer) in answers {
            for code in answer.get().into_iter().flatten() {
                outcome.listed.push(DnsblHit {
                    zone: zone.clone(),
                    code: *code,
                });
            }
            if answer.provenance == Provenance::Upstream {
                outcome.report.provenance = Provenance::Upstream;
            }
            if let Some(e) = answer.error {
                outcome
                    .errors
                    .push(LookupError::new(format!("dnsbl.{zone}"), e.kind()));
                outcome.report.provenance = Provenance::Failed;
                outcome.report.error.get_or_insert(e);
            }
        }
        Some(outcome)
    }
}

async fn fetch_dnsbl(
    inner: Arc<Inner>,
    zone: String,
    ip: IpAddr,
) -> Result<Option<Vec<Ipv4Addr>>, SourceError> {
    inner.counters.count(Source::Dnsbl);
    let answer = inner.dns.a(&dnsbl::query_name(ip, &zone)).await?;
    let ttls = inner.tiers.ttls;
    let ttl = match &answer.value {
        Some(_) => answer.ttl.max(Duration::from_secs(60)).min(ttls.positive),
        None => ttls.negative,
    };
    inner
        .dnsbl_cache
        .insert((zone, ip), Tiers::entry(answer.value.clone(), ttl));
    Ok(answer.value)
}

/// How one source is read: memory, then Redis, then a (shared) upstream fetch.
struct CacheSource<M, R, S> {
    memory: M,
    redis: R,
    start: S,
}

impl<T, M, R, RF, S> CacheSource<M, R, S>
where
    T: Send + Sync + 'static,
    M: Fn() -> Option<Cached<Option<T>>>,
    R: Fn() -> RF,
    RF: std::future::Future<Output = bool>,
    S: Fn() -> (inflight::Flight<Option<T>, SourceError>, bool),
{
    /// A fresh entry at once; else Redis; else the fetch, joined or started. A stale entry
    /// is returned at once while the fetch refreshes it. The second value says, for an
    /// upstream answer, whether this caller started the fetch (`Some(false)`: it joined
    /// another address's fetch, whose answer may not be about this address).
    async fn get(&self, deadline: tokio::time::Instant) -> (Outcome<T>, Option<bool>) {
        let now = now_unix();
        let stale = match (self.memory)() {
            Some(c) if c.is_fresh(now) => return (Outcome::cached(c, now), None),
            other => other,
        };
        if stale.is_none() && (self.redis)().await {
            if let Some(c) = (self.memory)() {
                return (Outcome::cached(c, now), None);
            }
        }
        let (flight, started) = (self.start)();
        if let Some(c) = stale {
            return (Outcome::cached(c, now), None);
        }
        (settle(flight, deadline).await, Some(started))
    }
}

fn record_error(facts: &mut Facts, report: &SourceReport) {
    if let Some(e) = &report.error {
        facts
            .lookup_errors
            .push(LookupError::new(report.source.to_string(), e.kind()));
    }
}

/// Waits for a flight until the deadline.
async fn settle<T>(
    flight: inflight::Flight<Option<T>, SourceError>,
    deadline: tokio::time::Instant,
) -> Outcome<T> {
    match tokio::time::timeout_at(deadline, flight).await {
        Ok(Ok(value)) => Outcome {
            value: Some(value),
            provenance: Provenance::Upstream,
            error: None,
        },
        Ok(Err(e)) => Outcome::failed(e),
        Err(_) => Outcome::failed(SourceError::Deadline),
    }
}

async fn fetch_ptr(inner: Arc<Inner>, ip: IpAddr) -> Result<Option<String>, SourceError> {
    inner.counters.count(Source::Ptr);
    let answer = inner.dns.ptr(ip).await?;
    let ttls = inner.tiers.ttls;
    let ttl = match &answer.value {
        // At least a minute, at most the configured lifetime (never `clamp`: it panics when
        // an admin sets the lifetime below a minute).
        Some(_) => answer.ttl.max(Duration::from_secs(60)).min(ttls.positive),
        None => ttls.negative,
    };
    inner
        .tiers
        .put_ptr(ip, Tiers::entry(answer.value.clone(), ttl));
    Ok(answer.value)
}

async fn fetch_as_name(inner: Arc<Inner>, asn: Asn) -> Result<Option<String>, SourceError> {
    inner.counters.count(Source::AsName);
    let answer = inner.dns.txt(&as_name_query(asn)).await?;
    let ttls = inner.tiers.ttls;
    let (name, ttl) = match &answer.value {
        Some(records) => (Some(parse_as_name(records)?), ttls.positive),
        None => (None, ttls.negative),
    };
    inner
        .tiers
        .put_as_name(asn, Tiers::entry(name.clone(), ttl));
    Ok(name)
}

async fn fetch_origin(inner: Arc<Inner>, ip: IpAddr) -> Result<Option<Origin>, SourceError> {
    inner.counters.count(Source::Origin);
    let answer = inner.dns.txt(&origin_name(ip)).await?;
    let ttls = inner.tiers.ttls;
    let Some(records) = answer.value else {
        inner
            .tiers
            .put_origin(host_net(ip), Tiers::entry(None, ttls.negative));
        return Ok(None);
    };
    let origin = parse_origin(&records)?;
    // Cache under the announced prefix only when it really covers the address.
    let net = origin
        .prefix
        .filter(|p| p.contains(&canonical(ip)))
        .unwrap_or_else(|| host_net(ip));
    inner
        .tiers
        .put_origin(net, Tiers::entry(Some(origin.clone()), ttls.positive));
    Ok(Some(origin))
}

async fn fetch_rdap(
    inner: Arc<Inner>,
    ip: IpAddr,
    registry: Option<Registry>,
) -> Result<Option<RdapNetwork>, SourceError> {
    inner.counters.count(Source::Rdap);
    let ttls = inner.tiers.ttls;
    match inner.rdap.lookup(ip, registry).await {
        Ok(network) => {
            let nets: Vec<IpNet> = if network.contains(canonical(ip)) && !network.cidrs.is_empty() {
                network.cidrs.clone()
            } else {
                vec![host_net(ip)]
            };
            inner
                .tiers
                .put_rdap(&nets, Tiers::entry(Some(network.clone()), ttls.positive));
            Ok(Some(network))
        }
        Err(RdapError::Http { status: 404 }) => {
            inner
                .tiers
                .put_rdap(&[host_net(ip)], Tiers::entry(None, ttls.negative));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
