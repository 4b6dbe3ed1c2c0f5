//! The memory tier: what a lookup reads first. Network-keyed entries live in IPv4/IPv6
//! prefix tries (longest prefix match), the others in hash maps. Entries carry their
//! freshness; stale entries are kept (up to a limit) so they can be served while a
//! refresh runs or an upstream is backing off.
//!
//! Every table is capped in entries ([`DEFAULT_MAX_ENTRIES`] unless set): a new key that
//! finds its table full first evicts the entries that expire soonest, down to 1/16 below the
//! cap, so the cost of an eviction is spread over many inserts and a table never holds more
//! than its cap. Expired entries go with `prune` (the daemon calls it periodically).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use crate::reserved::canonical;

/// The cap of a table unless set: entries per table.
pub const DEFAULT_MAX_ENTRIES: usize = 50_000;

/// How many entries a full table of `len` entries capped at `max` sheds to make room: down
/// to 1/16 below the cap (and at least one).
fn eviction_count(len: usize, max: usize) -> usize {
    let target = max.saturating_sub(1 + max / 16);
    len.saturating_sub(target).max(1)
}

/// The keys of the `count` entries that expire soonest (the oldest first among equals).
fn soonest_to_expire<K>(mut all: Vec<(u64, u64, K)>, count: usize) -> Vec<K> {
    if count < all.len() {
        all.select_nth_unstable_by_key(count, |(expires, stored, _)| (*expires, *stored));
        all.truncate(count);
    }
    all.into_iter().map(|(_, _, k)| k).collect()
}

/// A cached value and its lifetime (seconds since the Unix epoch).
#[derive(Debug)]
pub struct Cached<T> {
    pub value: Arc<T>,
    pub stored_at: u64,
    pub expires_at: u64,
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        Cached {
            value: Arc::clone(&self.value),
            stored_at: self.stored_at,
            expires_at: self.expires_at,
        }
    }
}

impl<T> Cached<T> {
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.expires_at
    }
}

#[derive(Debug)]
struct Nets<T> {
    v4: PrefixMap<Ipv4Net, Cached<T>>,
    v6: PrefixMap<Ipv6Net, Cached<T>>,
}

/// Entries keyed by network, found by longest prefix match.
#[derive(Debug)]
pub struct NetTable<T> {
    inner: RwLock<Nets<T>>,
    max_entries: usize,
}

impl<T> Default for NetTable<T> {
    fn default() -> Self {
        NetTable::with_max_entries(DEFAULT_MAX_ENTRIES)
    }
}

impl<T> NetTable<T> {
    /// An empty table holding at most `max_entries` entries (at least one).
    pub fn with_max_entries(max_entries: usize) -> Self {
        NetTable {
            inner: RwLock::new(Nets {
                v4: PrefixMap::new(),
                v6: PrefixMap::new(),
            }),
            max_entries: max_entries.max(1),
        }
    }

    /// The most entries the table holds.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The entry of the most specific network containing `ip`, fresh or stale.
    pub fn get(&self, ip: IpAddr) -> Option<(IpNet, Cached<T>)> {
        let nets = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        match canonical(ip) {
            IpAddr::V4(a) => nets
                .v4
                .get_lpm(&Ipv4Net::from(a))
                .map(|(n, c)| (IpNet::V4(n), c.clone())),
            IpAddr::V6(a) => nets
                .v6
                .get_lpm(&Ipv6Net::from(a))
                .map(|(n, c)| (IpNet::V6(n), c.clone())),
        }
    }

    /// Stores an entry for `net` (host bits are masked off); a new network in a full table
    /// first evicts the entries that expire soonest.
    pub fn insert(&self, net: IpNet, entry: Cached<T>) {
        let net = net.trunc();
        let mut nets = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let known = match net {
            IpNet::V4(n) => nets.v4.contains_key(&n),
            IpNet::V6(n) => nets.v6.contains_key(&n),
        };
        let len = nets.v4.len() + nets.v6.len();
        if !known && len >= self.max_entries {
            Self::evict(&mut nets, eviction_count(len, self.max_entries));
        }
        match net {
            IpNet::V4(n) => nets.v4.insert(n, entry),
            IpNet::V6(n) => nets.v6.insert(n, entry),
        };
    }

    /// Removes the `count` entries that expire soonest.
    fn evict(nets: &mut Nets<T>, count: usize) {
        let all: Vec<(u64, u64, IpNet)> = nets
            .v4
            .iter()
            .map(|(n, c)| (c.expires_at, c.stored_at, IpNet::V4(n)))
            .chain(
                nets.v6
                    .iter()
                    .map(|(n, c)| (c.expires_at, c.stored_at, IpNet::V6(n))),
            )
            .collect();
        for net in soonest_to_expire(all, count) {
            match net {
                IpNet::V4(n) => nets.v4.remove(&n),
                IpNet::V6(n) => nets.v6.remove(&n),
            };
        }
    }

    /// Removes the entries whose `expires_at` is before `limit`; returns how many.
    pub fn prune(&self, limit: u64) -> usize {
        let mut nets = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let before = nets.v4.len() + nets.v6.len();
        nets.v4.retain(|_, c| c.expires_at >= limit);
        nets.v6.retain(|_, c| c.expires_at >= limit);
        before - (nets.v4.len() + nets.v6.len())
    }

    /// Removes every entry containing `ip`.
    pub fn remove_covering(&self, ip: IpAddr) -> usize {
        let mut n = 0;
        while let Some((net, _)) = self.get(ip) {
            let mut nets = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            match net {
                IpNet::V4(k) => nets.v4.remove(&k),
                IpNet::V6(k) => nets.v6.remove(&k),
            };
            n += 1;
        }
        n
    }

    pub fn clear(&self) {
        let mut nets = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        nets.v4 = PrefixMap::new();
        nets.v6 = PrefixMap::new();
    }

    pub fn len(&self) -> usize {
        let nets = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        nets.v4.len() + nets.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Entries keyed by an exact key (an AS number, an IP address).
#[derive(Debug)]
pub struct KeyTable<K, T> {
    inner: RwLock<HashMap<K, Cached<T>>>,
    max_entries: usize,
}

impl<K, T> Default for KeyTable<K, T> {
    fn default() -> Self {
        KeyTable::with_max_entries(DEFAULT_MAX_ENTRIES)
    }
}

impl<K, T> KeyTable<K, T> {
    /// An empty table holding at most `max_entries` entries (at least one).
    pub fn with_max_entries(max_entries: usize) -> Self {
        KeyTable {
            inner: RwLock::new(HashMap::new()),
            max_entries: max_entries.max(1),
        }
    }

    /// The most entries the table holds.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }
}

impl<K: Eq + Hash + Clone, T> KeyTable<K, T> {
    pub fn get(&self, key: &K) -> Option<Cached<T>> {
        let map = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        map.get(key).cloned()
    }

    /// Stores an entry; a new key in a full table first evicts the entries that expire
    /// soonest.
    pub fn insert(&self, key: K, entry: Cached<T>) {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.max_entries && !map.contains_key(&key) {
            let all = map
                .iter()
                .map(|(k, c)| (c.expires_at, c.stored_at, k.clone()))
                .collect();
            for k in soonest_to_expire(all, eviction_count(map.len(), self.max_entries)) {
                map.remove(&k);
            }
        }
        map.insert(key, entry);
    }

    /// Removes the entries whose key `matches`; returns how many.
    pub fn remove_where(&self, matches: impl Fn(&K) -> bool) -> usize {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let before = map.len();
        map.retain(|k, _| !matches(k));
        before - map.len()
    }

    pub fn remove(&self, key: &K) -> bool {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(key).is_some()
    }

    pub fn prune(&self, limit: u64) -> usize {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let before = map.len();
        map.retain(|_, c| c.expires_at >= limit);
        before - map.len()
    }

    pub fn clear(&self) {
        self.inner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: u32, expires_at: u64) -> Cached<u32> {
        Cached {
            value: Arc::new(v),
            stored_at: 0,
            expires_at,
        }
    }

    #[test]
    fn longest_prefix_wins_and_mapped_ipv4_works() {
        let t = NetTable::default();
        t.insert("176.112.0.0/16".parse().unwrap(), c(16, 10));
        t.insert("176.112.170.9/21".parse().unwrap(), c(21, 10));
        let (net, e) = t.get("::ffff:176.112.169.218".parse().unwrap()).unwrap();
        assert_eq!(net.to_string(), "176.112.168.0/21");
        assert_eq!(*e.value, 21);
        assert_eq!(*t.get("176.112.1.1".parse().unwrap()).unwrap().1.value, 16);
        assert!(t.get("176.113.0.1".parse().unwrap()).is_none());
        t.insert("2a00:1450::/32".parse().unwrap(), c(32, 10));
        assert_eq!(
            *t.get("2a00:1450:4001::1".parse().unwrap()).unwrap().1.value,
            32
        );
        assert_eq!(t.len(), 3);
        assert_eq!(t.remove_covering("176.112.169.1".parse().unwrap()), 2);
        assert_eq!(t.prune(11), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn key_table_freshness_and_prune() {
        let t = KeyTable::default();
        t.insert(1u32, c(1, 100));
        t.insert(2u32, c(2, 5));
        assert!(t.get(&1).unwrap().is_fresh(99));
        assert!(!t.get(&1).unwrap().is_fresh(100));
        assert_eq!(t.prune(50), 1);
        assert!(t.get(&2).is_none());
    }

    #[test]
    fn full_tables_evict_the_soonest_to_expire_and_stay_at_the_cap() {
        let keys = KeyTable::with_max_entries(100);
        let nets = NetTable::with_max_entries(100);
        for i in 0..10_000u32 {
            // Entry 7 lives longest; the others expire in insertion order.
            let expires = if i == 7 { u64::MAX } else { u64::from(i) };
            keys.insert(i, c(i, expires));
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            nets.insert(IpNet::from(IpAddr::V4(ip)), c(i, expires));
            assert!(keys.len() <= 100 && nets.len() <= 100, "at {i}");
        }
        assert!(keys.len() > 90 && nets.len() > 90);
        assert!(keys.get(&7).is_some(), "the longest-lived entry stays");
        assert!(keys.get(&9_999).is_some(), "the newest entry stays");
        assert!(keys.get(&5_000).is_none(), "an old entry went");
        assert!(nets.get("10.0.0.7".parse().unwrap()).is_some());
        assert!(nets.get("10.0.19.136".parse().unwrap()).is_none());
        // Replacing a key of a full table evicts nothing.
        let before = keys.len();
        keys.insert(9_999, c(1, 1));
        assert_eq!(keys.len(), before);
        assert_eq!(keys.remove_where(|k| *k == 7), 1);
    }
}
