//! The DNS blocklists as a lookup source: every configured zone asked in parallel for an
//! A record, each answer cached in memory per zone and address (for its DNS TTL, between
//! a minute and the configured lifetime), folded into one report for all zones. The zones'
//! settings, query names and facts are [`super::dnsbl`].

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use super::cached::{read, CachedSource, Fetched};
use super::inflight::Flights;
use super::report::{Provenance, Source, SourceError, SourceReport};
use super::Inner;
use crate::cache::memory::Cached;
use crate::dnsbl::query_name;
use crate::facts::{DnsblHit, LookupError};

/// One zone's answer about one address: the key of its cache entry and of its fetch.
#[derive(Debug, Clone)]
pub(super) struct DnsblQuery {
    /// The zone's name and the address.
    key: (String, IpAddr),
}

impl CachedSource for DnsblQuery {
    const SOURCE: Source = Source::Dnsbl;
    type Value = Vec<Ipv4Addr>;
    type FlightKey = (String, IpAddr);

    fn flights(inner: &Inner) -> &Flights<(String, IpAddr), Vec<Ipv4Addr>> {
        &inner.flights.dnsbl
    }

    fn flight_key(&self) -> (String, IpAddr) {
        self.key.clone()
    }

    fn memory(&self, inner: &Inner) -> Option<Cached<Option<Vec<Ipv4Addr>>>> {
        inner.dnsbl_cache.get(&self.key)
    }

    /// Blocklist answers are kept in memory only.
    async fn redis(&self, _inner: &Inner) -> bool {
        false
    }

    async fn ask(&self, inner: &Inner) -> Result<Fetched<Vec<Ipv4Addr>>, SourceError> {
        let (zone, ip) = &self.key;
        let answer = inner.dns.a(&query_name(*ip, zone)).await?;
        Ok(Fetched {
            value: answer.value,
            ttl: Some(answer.ttl),
        })
    }

    fn keep(&self, inner: &Inner, entry: Cached<Option<Vec<Ipv4Addr>>>) {
        inner.dnsbl_cache.insert(self.key.clone(), entry);
    }
}

/// What the DNS blocklists said about one address.
pub(super) struct DnsblOutcome {
    /// `zone:code` for every answer.
    pub listed: Vec<DnsblHit>,
    /// `dnsbl.<zone>:<kind>` for every zone that failed.
    pub errors: Vec<LookupError>,
    pub report: SourceReport,
}

/// Asks every configured blocklist in parallel (`None` when none are configured).
pub(super) async fn ask_zones(
    inner: &Arc<Inner>,
    ip: IpAddr,
    deadline: tokio::time::Instant,
    started: Instant,
) -> Option<DnsblOutcome> {
    if inner.settings.dnsbl.is_empty() {
        return None;
    }
    let asks = inner.settings.dnsbl.iter().map(|zone| {
        let name = zone.name().to_string();
        async move {
            let question = DnsblQuery {
                key: (name.clone(), ip),
            };
            (name, read(inner, question, deadline).await)
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
