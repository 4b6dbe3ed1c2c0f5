//! Reverse DNS: the PTR name of an address, cached per address for its DNS TTL (between a
//! minute and the configured lifetime).

use std::net::IpAddr;

use super::cached::{CachedSource, Fetched};
use super::inflight::Flights;
use super::report::{Source, SourceError};
use super::Inner;
use crate::cache::memory::Cached;
use crate::cache::Table;

/// The PTR name of one address.
#[derive(Debug, Clone, Copy)]
pub(super) struct PtrQuery {
    pub ip: IpAddr,
}

impl CachedSource for PtrQuery {
    const SOURCE: Source = Source::Ptr;
    type Value = String;
    type FlightKey = IpAddr;

    fn flights(inner: &Inner) -> &Flights<IpAddr, String> {
        &inner.flights.ptr
    }

    fn flight_key(&self) -> IpAddr {
        self.ip
    }

    fn memory(&self, inner: &Inner) -> Option<Cached<Option<String>>> {
        inner.tiers.ptr.get(&self.ip)
    }

    async fn redis(&self, inner: &Inner) -> bool {
        inner.tiers.redis_key(Table::Ptr, self.ip.to_string()).await
    }

    async fn ask(&self, inner: &Inner) -> Result<Fetched<String>, SourceError> {
        let answer = inner.dns.ptr(self.ip).await?;
        Ok(Fetched {
            value: answer.value,
            ttl: Some(answer.ttl),
        })
    }

    fn keep(&self, inner: &Inner, entry: Cached<Option<String>>) {
        inner.tiers.put_ptr(self.ip, entry);
    }
}
