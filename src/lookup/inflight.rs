//! Single flight: concurrent identical upstream queries are merged into one.
//!
//! The first caller for a key starts the fetch as a task of its own (so it finishes and
//! fills the cache even when the caller's deadline passes); later callers for the same key
//! wait for the same result. The task removes its key when done. A lookup source's fetches
//! are [`Flights`]; network sources merge per [`FlightKey`] (a /24 or /48, or one address).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt, Shared};
use ipnet::IpNet;

use super::report::SourceError;

/// The shared result of one fetch.
pub(super) type Flight<T, E> = Shared<BoxFuture<'static, Result<Arc<T>, E>>>;

/// Fetches in flight of one source, by single-flight key.
pub(super) type Flights<K, T> = InFlight<K, Option<T>, SourceError>;

/// Single-flight key of a network source: the "probable network" of an address (/24,
/// /48), or the address alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum FlightKey {
    Bucket(IpNet),
    Exact(IpAddr),
}

impl FlightKey {
    /// The probable network of `ip`: its /24 (IPv4) or /48 (IPv6).
    pub(super) fn bucket(ip: IpAddr) -> FlightKey {
        let len = if ip.is_ipv4() { 24 } else { 48 };
        let net = IpNet::new(ip, len)
            .map(|n| n.trunc())
            .unwrap_or_else(|_| IpNet::from(ip));
        FlightKey::Bucket(net)
    }
}

/// Fetches in flight, by key.
pub(super) struct InFlight<K, T, E> {
    map: Arc<Mutex<HashMap<K, Flight<T, E>>>>,
}

impl<K, T, E> Default for InFlight<K, T, E> {
    fn default() -> Self {
        InFlight {
            map: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<K, T, E> InFlight<K, T, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// Joins the fetch for `key`, or starts `fetch` as a task when none runs. The bool is
    /// true for the caller that started it.
    pub(super) fn join_or_start<F>(&self, key: K, fetch: F, on_panic: E) -> (Flight<T, E>, bool)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(flight) = map.get(&key) {
            return (flight.clone(), false);
        }
        let done = Arc::clone(&self.map);
        let task_key = key.clone();
        let handle = tokio::spawn(async move {
            let result = fetch.await.map(Arc::new);
            done.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&task_key);
            result
        });
        let flight = handle
            .map(move |joined| joined.unwrap_or_else(|_| Err(on_panic)))
            .boxed()
            .shared();
        map.insert(key, flight.clone());
        (flight, true)
    }

    /// How many fetches are running.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let flights: InFlight<u8, u32, String> = InFlight::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut waits = Vec::new();
        for _ in 0..50 {
            let calls = Arc::clone(&calls);
            let (f, _) = flights.join_or_start(
                1,
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(7)
                },
                "panicked".into(),
            );
            waits.push(f);
        }
        for w in waits {
            assert_eq!(*w.await.unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(flights.is_empty());
    }

    #[tokio::test]
    async fn a_fetch_outlives_an_impatient_caller() {
        let flights: InFlight<u8, u32, String> = InFlight::default();
        let (f, started) = flights.join_or_start(
            1,
            async {
                tokio::time::sleep(Duration::from_millis(30)).await;
                Ok(1)
            },
            "panicked".into(),
        );
        assert!(started);
        assert!(tokio::time::timeout(Duration::from_millis(1), f.clone())
            .await
            .is_err());
        assert_eq!(*f.await.unwrap(), 1);
    }
}
