//! The RDAP network of an address, as a lookup source: asked of the registry Team Cymru
//! named when its answer is already cached (else the IANA bootstrap decides), cached under
//! the network's CIDRs when they cover the address, else under the address; a 404 is a
//! negative answer. The client itself is [`crate::rdap`].

use std::net::IpAddr;

use ipnet::IpNet;

use super::cached::{CachedSource, Fetched};
use super::inflight::{FlightKey, Flights};
use super::report::{Source, SourceError};
use super::Inner;
use crate::cache::memory::Cached;
use crate::cache::Table;
use crate::rdap::{RdapError, RdapNetwork, Registry};
use crate::reserved::canonical;

/// The RDAP network of one address.
#[derive(Debug, Clone, Copy)]
pub(super) struct RdapQuery {
    ip: IpAddr,
    /// The registry Team Cymru named, when known.
    registry: Option<Registry>,
}

impl RdapQuery {
    /// The question for `ip`, with the registry from the cached Team Cymru answer when
    /// there is one (waiting for Cymru would put the two in series).
    pub(super) fn new(inner: &Inner, ip: IpAddr) -> RdapQuery {
        let registry = inner
            .tiers
            .origin
            .get(ip)
            .and_then(|(_, c)| c.value.as_ref().as_ref().and_then(|o| o.registry));
        RdapQuery { ip, registry }
    }
}

impl CachedSource for RdapQuery {
    const SOURCE: Source = Source::Rdap;
    type Value = RdapNetwork;
    type FlightKey = FlightKey;

    fn flights(inner: &Inner) -> &Flights<FlightKey, RdapNetwork> {
        &inner.flights.rdap
    }

    fn flight_key(&self) -> FlightKey {
        FlightKey::bucket(self.ip)
    }

    fn own_flight_key(&self) -> Option<FlightKey> {
        Some(FlightKey::Exact(self.ip))
    }

    fn covers(&self, network: &RdapNetwork) -> bool {
        network.contains(canonical(self.ip))
    }

    fn memory(&self, inner: &Inner) -> Option<Cached<Option<RdapNetwork>>> {
        inner.tiers.rdap.get(self.ip).map(|(_, c)| c)
    }

    async fn redis(&self, inner: &Inner) -> bool {
        inner.tiers.redis_network(Table::Rdap, self.ip).await
    }

    async fn ask(&self, inner: &Inner) -> Result<Fetched<RdapNetwork>, SourceError> {
        match inner.rdap.lookup(self.ip, self.registry).await {
            Ok(network) => Ok(Fetched {
                value: Some(network),
                ttl: None,
            }),
            Err(RdapError::Http { status: 404 }) => Ok(Fetched {
                value: None,
                ttl: None,
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn keep(&self, inner: &Inner, entry: Cached<Option<RdapNetwork>>) {
        let ip = canonical(self.ip);
        let nets = match entry.value.as_ref() {
            Some(network) if network.contains(ip) && !network.cidrs.is_empty() => {
                network.cidrs.clone()
            }
            _ => vec![IpNet::from(ip)],
        };
        inner.tiers.put_rdap(&nets, entry);
    }
}
