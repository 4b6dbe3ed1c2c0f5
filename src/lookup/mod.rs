//! Lookups: turn a client IP into [`Facts`](crate::facts::Facts) — reverse DNS, Team Cymru
//! origin and AS name over DNS, the RIR's RDAP network, the DNS blocklists — all in
//! parallel under one deadline, cached per network, with concurrent identical queries
//! merged; then the local sources (GeoIP, cloud ranges, the offline ASN table).
//!
//! One file per source (`ptr`, `origin`, `as_name`, `rdap`, `dnsbl_query`,
//! `local`); each upstream source is a `cached::CachedSource` that `cached::read`
//! runs the same way (memory → Redis → single-flight fetch filling every tier,
//! stale-while-refresh); `orchestrator` runs them all under the deadline.
//!
//! What is not known by the deadline stays `None` and the failure is recorded in
//! `Facts::lookup_errors` (`rdap:timeout`, …); an answer that arrives later still fills the
//! cache for the next login. A stale cache entry is served at once while a refresh runs.

mod as_name;
mod cached;
pub mod cymru;
pub mod dns;
mod dnsbl_query;
mod inflight;
mod local;
mod orchestrator;
mod origin;
mod ptr;
pub mod purge;
mod rdap;
mod report;
pub mod tiers;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::cache::memory::KeyTable;
use crate::dnsbl::DnsblZone;
use crate::facts::Asn;
use crate::rdap::{RdapClient, RdapNetwork};
use crate::reserved::canonical;
use cymru::Origin;
use dns::DnsClient;
use inflight::{FlightKey, Flights};
use tiers::Tiers;

pub use local::LocalSources;
pub use report::{LookupReport, Provenance, Source, SourceError, SourceReport};

/// Settings of the lookups.
#[derive(Debug, Clone)]
pub struct LookupSettings {
    /// The whole lookup's deadline.
    pub deadline: Duration,
    pub ttls: tiers::Ttls,
    /// The DNS blocklists to ask.
    pub dnsbl: Vec<DnsblZone>,
    /// With an offline ASN table: ask Team Cymru for the origin anyway and take only the AS
    /// name from the table (`[lookup] asn_table_use = "as_names"`).
    pub asn_table_names_only: bool,
}

/// Upstream query counters, per source.
#[derive(Debug, Default)]
struct Counters {
    queries: [AtomicU64; Source::ALL.len()],
}

impl Counters {
    /// Counts one upstream query of `source`.
    fn count(&self, source: Source) {
        self.queries[source as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many upstream queries `source` made so far.
    fn get(&self, source: Source) -> u64 {
        self.queries[source as usize].load(Ordering::Relaxed)
    }
}

/// The fetches in flight, per source.
#[derive(Default)]
struct InFlights {
    origin: Flights<FlightKey, Origin>,
    rdap: Flights<FlightKey, RdapNetwork>,
    as_name: Flights<Asn, String>,
    ptr: Flights<IpAddr, String>,
    dnsbl: Flights<(String, IpAddr), Vec<Ipv4Addr>>,
}

struct Inner {
    local: ArcSwap<LocalSources>,
    dns: DnsClient,
    rdap: RdapClient,
    tiers: Tiers,
    settings: LookupSettings,
    /// The DNS blocklist answers (memory only), per zone and address.
    dnsbl_cache: KeyTable<(String, IpAddr), Option<Vec<Ipv4Addr>>>,
    flights: InFlights,
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
                dnsbl_cache: KeyTable::with_max_entries(max_entries),
                flights: InFlights::default(),
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

    /// What keeps some lookups from working however often they are tried (the system has
    /// no CA certificates, so RDAP over HTTPS fails) and a shared cache that is not in use
    /// (Redis unreachable or failing), for `/healthz`.
    pub fn degraded(&self) -> Vec<&'static str> {
        let no_roots = self
            .inner
            .rdap
            .no_ca_roots()
            .then_some(crate::tls::NO_CA_ROOTS);
        no_roots
            .into_iter()
            .chain(self.inner.tiers.redis_degraded())
            .collect()
    }

    /// The cache tiers.
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
        self.inner.counters.get(source)
    }
}
