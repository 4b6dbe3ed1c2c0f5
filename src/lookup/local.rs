//! The sources that need no network, as facts sources: the GeoIP databases (the `maxmind`
//! facts), the cloud providers' ranges (the `cloud` tags) and the offline IP→ASN table
//! (origin and AS name instead of Team Cymru). Swapped as a whole when a database file or
//! a feed changes.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use super::cymru::Origin;
use super::report::{Outcome, Source, SourceReport};
use crate::asn_table::AsnTable;
use crate::cloud::CloudRanges;
use crate::facts::{Facts, LookupError};
use crate::geoip::GeoIp;

/// The lookups that need no network: GeoIP databases and cloud ranges. Swapped as a whole
/// when a database file or a feed changes.
#[derive(Debug, Default)]
pub struct LocalSources {
    pub geoip: Option<Arc<GeoIp>>,
    pub cloud: Arc<CloudRanges>,
    /// An offline IP→ASN table used instead of Team Cymru.
    pub asn_table: Option<Arc<AsnTable>>,
}

impl LocalSources {
    /// Adds what GeoIP (a failure is the lookup error `geoip:failed`) and the cloud
    /// ranges know about `ip` to `facts`.
    pub(super) fn add_facts(&self, ip: IpAddr, facts: &mut Facts) {
        if let Some(geoip) = &self.geoip {
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
        facts.cloud = self.cloud.lookup(ip).into_iter().cloned().collect();
    }
}

/// The origin source's and the AS name source's reports and outcomes.
pub(super) type OriginChain = (SourceReport, Outcome<Origin>, SourceReport, Outcome<String>);

/// Origin and AS name from the offline table (no upstream query; a miss is an unknown AS).
pub(super) fn from_asn_table(table: &AsnTable, ip: IpAddr, started: Instant) -> OriginChain {
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
