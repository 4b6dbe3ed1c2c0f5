//! `Backoffs`: per-registry "do not ask before" times after a rate limit, shared by all
//! lookups of one client.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::registry::Registry;

/// The registries currently rate-limiting us, each with the instant it may be asked again.
#[derive(Debug, Default)]
pub(super) struct Backoffs {
    until: Mutex<HashMap<Registry, Instant>>,
}

impl Backoffs {
    pub(super) fn new() -> Backoffs {
        Backoffs::default()
    }

    /// The instant `registry` may be asked again, if that is after `now`.
    pub(super) fn active(&self, registry: Registry, now: Instant) -> Option<Instant> {
        let mut map = self.lock();
        match map.get(&registry) {
            Some(&until) if until > now => Some(until),
            Some(_) => {
                map.remove(&registry);
                None
            }
            None => None,
        }
    }

    /// Do not ask `registry` before `until` (an earlier `until` never shortens a wait).
    pub(super) fn record(&self, registry: Registry, until: Instant) {
        let mut map = self.lock();
        let entry = map.entry(registry).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    /// A poisoned lock only means another thread panicked while holding it; the map is
    /// still a valid map of instants.
    fn lock(&self) -> MutexGuard<'_, HashMap<Registry, Instant>> {
        self.until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_backoff_lasts_until_its_instant_and_only_for_its_registry() {
        let backoffs = Backoffs::new();
        let now = Instant::now();
        let until = now + Duration::from_secs(60);
        backoffs.record(Registry::Lacnic, until);
        assert_eq!(backoffs.active(Registry::Lacnic, now), Some(until));
        assert_eq!(
            backoffs.active(Registry::Lacnic, now + Duration::from_secs(59)),
            Some(until)
        );
        assert_eq!(backoffs.active(Registry::Arin, now), None);
        assert_eq!(backoffs.active(Registry::Lacnic, until), None);
        // Expired entries are gone, not just ignored.
        assert_eq!(backoffs.active(Registry::Lacnic, now), None);
    }

    #[test]
    fn a_shorter_backoff_does_not_shorten_a_longer_one() {
        let backoffs = Backoffs::new();
        let now = Instant::now();
        let long = now + Duration::from_secs(600);
        backoffs.record(Registry::RipeNcc, long);
        backoffs.record(Registry::RipeNcc, now + Duration::from_secs(5));
        assert_eq!(backoffs.active(Registry::RipeNcc, now), Some(long));
        let longer = now + Duration::from_secs(900);
        backoffs.record(Registry::RipeNcc, longer);
        assert_eq!(backoffs.active(Registry::RipeNcc, now), Some(longer));
    }
}
