//! The origin: Team Cymru's origin TXT record of an address (AS numbers, announced prefix,
//! country, registry), cached under the announced prefix when it covers the address,
//! else under the address; fetches merged per probable network.

use std::net::IpAddr;

use ipnet::IpNet;

use super::cached::{CachedSource, Fetched};
use super::cymru::{origin_name, parse_origin, Origin};
use super::inflight::{FlightKey, Flights};
use super::report::{Source, SourceError};
use super::Inner;
use crate::cache::memory::Cached;
use crate::cache::Table;
use crate::reserved::canonical;

/// The origin record covering one address.
#[derive(Debug, Clone, Copy)]
pub(super) struct OriginQuery {
    pub ip: IpAddr,
}

impl CachedSource for OriginQuery {
    const SOURCE: Source = Source::Origin;
    type Value = Origin;
    type FlightKey = FlightKey;

    fn flights(inner: &Inner) -> &Flights<FlightKey, Origin> {
        &inner.flights.origin
    }

    fn flight_key(&self) -> FlightKey {
        FlightKey::bucket(self.ip)
    }

    fn own_flight_key(&self) -> Option<FlightKey> {
        Some(FlightKey::Exact(self.ip))
    }

    fn covers(&self, origin: &Origin) -> bool {
        origin
            .prefix
            .is_some_and(|p| p.contains(&canonical(self.ip)))
    }

    fn memory(&self, inner: &Inner) -> Option<Cached<Option<Origin>>> {
        inner.tiers.origin.get(self.ip).map(|(_, c)| c)
    }

    async fn redis(&self, inner: &Inner) -> bool {
        inner.tiers.redis_network(Table::Origin, self.ip).await
    }

    async fn ask(&self, inner: &Inner) -> Result<Fetched<Origin>, SourceError> {
        let answer = inner.dns.txt(&origin_name(self.ip)).await?;
        let value = match &answer.value {
            Some(records) => Some(parse_origin(records)?),
            None => None,
        };
        Ok(Fetched { value, ttl: None })
    }

    fn keep(&self, inner: &Inner, entry: Cached<Option<Origin>>) {
        // Under the announced prefix only when it really covers the address.
        let net = entry
            .value
            .as_ref()
            .as_ref()
            .and_then(|o| o.prefix)
            .filter(|p| p.contains(&canonical(self.ip)))
            .unwrap_or_else(|| IpNet::from(canonical(self.ip)));
        inner.tiers.put_origin(net, entry);
    }
}
