//! The memory tier: what a lookup reads first. Network-keyed entries live in IPv4/IPv6
//! prefix tries (longest prefix match), the others in hash maps. Entries carry their
//! freshness; stale entries are kept (up to a limit) so they can be served while a
//! refresh runs or an upstream is backing off.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use crate::reserved::canonical;

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
}

impl<T> Default for NetTable<T> {
    fn default() -> Self {
        NetTable {
            inner: RwLock::new(Nets {
                v4: PrefixMap::new(),
                v6: PrefixMap::new(),
            }),
        }
    }
}

impl<T> NetTable<T> {
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

    /// Stores an entry for `net` (host bits are masked off).
    pub fn insert(&self, net: IpNet, entry: Cached<T>) {
        let mut nets = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        match net.trunc() {
            IpNet::V4(n) => nets.v4.insert(n, entry),
            IpNet::V6(n) => nets.v6.insert(n, entry),
        };
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
}

impl<K, T> Default for KeyTable<K, T> {
    fn default() -> Self {
        KeyTable {
            inner: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, T> KeyTable<K, T> {
    pub fn get(&self, key: &K) -> Option<Cached<T>> {
        let map = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        map.get(key).cloned()
    }

    pub fn insert(&self, key: K, entry: Cached<T>) {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(key, entry);
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
}
