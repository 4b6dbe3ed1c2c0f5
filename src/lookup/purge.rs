//! The cache maintenance the command line and the cache API offer: every tier's entries
//! for one address removed.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::cache::redis::{covering_networks, RedisTier, RedisTierError};
use crate::cache::store::{CacheStore, StoreError};
use crate::cache::Table;
use crate::reserved::canonical;

/// Removes Redis' entries for `ip`: every network entry containing it, its PTR.
pub async fn purge_ip_redis(redis: &RedisTier, ip: IpAddr) -> Result<usize, RedisTierError> {
    let ip = canonical(ip);
    let mut removed = 0;
    for table in [Table::Origin, Table::Rdap] {
        for net in covering_networks(ip) {
            removed += usize::from(redis.purge(table, &net.to_string()).await?);
        }
    }
    removed += usize::from(redis.purge(Table::Ptr, &ip.to_string()).await?);
    Ok(removed)
}

/// Removes the store's entries for `ip`: every network entry containing it, its PTR.
pub fn purge_ip(store: &CacheStore, ip: IpAddr) -> Result<usize, StoreError> {
    let ip = canonical(ip);
    let mut removed = 0;
    for table in [Table::Origin, Table::Rdap] {
        for (key, _) in store.load_all(table) {
            if key.parse::<IpNet>().is_ok_and(|n| n.contains(&ip)) {
                store.remove(table, &key)?;
                removed += 1;
            }
        }
    }
    if store.get(Table::Ptr, &ip.to_string()).is_some() {
        store.remove(Table::Ptr, &ip.to_string())?;
        removed += 1;
    }
    Ok(removed)
}
