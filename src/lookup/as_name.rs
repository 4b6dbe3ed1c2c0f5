//! The AS name: Team Cymru's `AS<n>.asn.cymru.com` TXT record, cached per AS number.

use super::cached::{CachedSource, Fetched};
use super::cymru::{as_name_query, parse_as_name};
use super::inflight::Flights;
use super::report::{Source, SourceError};
use super::Inner;
use crate::cache::memory::Cached;
use crate::cache::Table;
use crate::facts::Asn;

/// The name of one AS.
#[derive(Debug, Clone, Copy)]
pub(super) struct AsNameQuery {
    pub asn: Asn,
}

impl CachedSource for AsNameQuery {
    const SOURCE: Source = Source::AsName;
    type Value = String;
    type FlightKey = Asn;

    fn flights(inner: &Inner) -> &Flights<Asn, String> {
        &inner.flights.as_name
    }

    fn flight_key(&self) -> Asn {
        self.asn
    }

    fn memory(&self, inner: &Inner) -> Option<Cached<Option<String>>> {
        inner.tiers.as_name.get(&self.asn)
    }

    async fn redis(&self, inner: &Inner) -> bool {
        inner
            .tiers
            .redis_key(Table::AsName, self.asn.to_string())
            .await
    }

    async fn ask(&self, inner: &Inner) -> Result<Fetched<String>, SourceError> {
        let answer = inner.dns.txt(&as_name_query(self.asn)).await?;
        let value = match &answer.value {
            Some(records) => Some(parse_as_name(records)?),
            None => None,
        };
        Ok(Fetched { value, ttl: None })
    }

    fn keep(&self, inner: &Inner, entry: Cached<Option<String>>) {
        inner.tiers.put_as_name(self.asn, entry);
    }
}
