//! The one way every upstream source is read, whatever it asks: [`CachedSource`] says what
//! a source asks and where its answers live; [`read`] does the rest, the same for all.
//!
//! Reading: a fresh memory entry at once; else Redis (a hit is copied into memory); else
//! the upstream fetch, joined when one for the same single-flight key runs, started
//! otherwise. A stale entry is served at once while the fetch refreshes it. The caller
//! waits for the fetch until the lookup's deadline; the fetch itself runs on as a task of
//! its own, counts the upstream query, gives the answer its lifetime
//! ([`Ttls::lifetime`](super::tiers::Ttls::lifetime)) and fills every tier.
//!
//! Network sources merge the fetches of a whole probable network (/24, /48); an answer so
//! shared that does not cover the caller's address is asked again for that address alone.

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use super::inflight::{Flight, Flights};
use super::report::{Outcome, Provenance, Source, SourceError};
use super::tiers::Tiers;
use super::Inner;
use crate::cache::memory::Cached;
use crate::cache::now_unix;

/// What an upstream source answered.
pub(super) struct Fetched<T> {
    /// The answer; `None` for a negative one (no such name, not found).
    pub value: Option<T>,
    /// The answer's own lifetime (a DNS TTL) when it bounds the cache's; `None`: the
    /// configured one.
    pub ttl: Option<Duration>,
}

/// One upstream source as [`read`] runs it: what it asks, under which single-flight key,
/// and where its answers are kept. A value of it is one question (an address, an AS
/// number, a zone and an address).
pub(super) trait CachedSource: Clone + Send + Sync + 'static {
    /// The source, for the counters.
    const SOURCE: Source;
    /// What it answers.
    type Value: Clone + Send + Sync + 'static;
    /// What concurrent fetches are merged on.
    type FlightKey: Eq + Hash + Clone + Send + 'static;

    /// The fetches in flight of this source.
    fn flights(inner: &Inner) -> &Flights<Self::FlightKey, Self::Value>;

    /// The single-flight key of this question.
    fn flight_key(&self) -> Self::FlightKey;

    /// For a shared fetch whose answer may be about another address: the key of the
    /// fetch for this question alone, asked when the shared answer does not
    /// [cover](CachedSource::covers) it. `None`: every answer is this question's.
    fn own_flight_key(&self) -> Option<Self::FlightKey> {
        None
    }

    /// Whether `value` answers this question.
    fn covers(&self, _value: &Self::Value) -> bool {
        true
    }

    /// The memory entry answering this question.
    fn memory(&self, inner: &Inner) -> Option<Cached<Option<Self::Value>>>;

    /// Looks the question up in Redis and copies a hit into memory; whether it did.
    fn redis(&self, inner: &Inner) -> impl Future<Output = bool> + Send;

    /// Asks upstream.
    fn ask(
        &self,
        inner: &Inner,
    ) -> impl Future<Output = Result<Fetched<Self::Value>, SourceError>> + Send;

    /// Keeps an answer in every tier, under the key(s) it answers.
    fn keep(&self, inner: &Inner, entry: Cached<Option<Self::Value>>);
}

/// The answer to `question`: from the cache, or from upstream before `deadline`.
pub(super) async fn read<S: CachedSource>(
    inner: &Arc<Inner>,
    question: S,
    deadline: tokio::time::Instant,
) -> Outcome<S::Value> {
    let start = |key| {
        let task = fetch(Arc::clone(inner), question.clone());
        S::flights(inner).join_or_start(key, task, SourceError::Task)
    };
    let now = now_unix();
    let stale = match question.memory(inner) {
        Some(c) if c.is_fresh(now) => return Outcome::cached(c, now),
        other => other,
    };
    if stale.is_none() && question.redis(inner).await {
        if let Some(c) = question.memory(inner) {
            return Outcome::cached(c, now);
        }
    }
    let (flight, started) = start(question.flight_key());
    if let Some(c) = stale {
        return Outcome::cached(c, now);
    }
    let outcome = settle(flight, deadline).await;
    match question.own_flight_key() {
        Some(own)
            if !started
                && outcome.error.is_none()
                && !outcome.get().is_some_and(|v| question.covers(v)) =>
        {
            // Another address's answer that does not cover this one: ask for this one.
            settle(start(own).0, deadline).await
        }
        _ => outcome,
    }
}

/// One upstream query, as a task of its own: counted, its answer given its lifetime and
/// kept in every tier.
async fn fetch<S: CachedSource>(
    inner: Arc<Inner>,
    question: S,
) -> Result<Option<S::Value>, SourceError> {
    inner.counters.count(S::SOURCE);
    let answer = question.ask(&inner).await?;
    let ttl = inner
        .tiers
        .ttls
        .lifetime(answer.value.is_some(), answer.ttl);
    question.keep(&inner, Tiers::entry(answer.value.clone(), ttl));
    Ok(answer.value)
}

/// Waits for a flight until the deadline.
async fn settle<T>(
    flight: Flight<Option<T>, SourceError>,
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
