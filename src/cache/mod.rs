//! The lookup cache: per network, not per IP.
//!
//! Three tiers: [`memory`] (prefix tries and hash maps, what a decision reads), [`store`]
//! (a redb file, so a restart keeps what was learned) and [`redis`] (optional, shared by
//! several badclients nodes). Every tier stores [`Stored`] entries under a [`Table`] and a
//! key: a network (`176.112.168.0/21`) for network-keyed tables, an AS number or an IP
//! for the others.

pub mod memory;
pub mod redis;
pub mod store;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What a cache entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Table {
    /// Team Cymru origin answers, keyed by the announced prefix.
    Origin,
    /// Team Cymru AS names, keyed by `AS<n>`.
    AsName,
    /// RDAP networks, keyed by each CIDR of the network's range.
    Rdap,
    /// Reverse DNS names, keyed by the IP address.
    Ptr,
}

impl Table {
    pub const ALL: [Table; 4] = [Table::Origin, Table::AsName, Table::Rdap, Table::Ptr];

    /// The table's name in the store and in Redis keys.
    pub fn name(self) -> &'static str {
        match self {
            Table::Origin => "origin",
            Table::AsName => "as_name",
            Table::Rdap => "rdap",
            Table::Ptr => "ptr",
        }
    }

    /// Whether entries are keyed by network (looked up by longest prefix match).
    pub fn by_network(self) -> bool {
        matches!(self, Table::Origin | Table::Rdap)
    }
}

/// One cache entry as every tier stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// The value as JSON text (`null` for a cached negative answer).
    pub value: String,
    /// When it was learned (seconds since the Unix epoch).
    pub stored_at: u64,
    /// Until when it is fresh (seconds since the Unix epoch).
    pub expires_at: u64,
}

/// Seconds since the Unix epoch now.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Stored {
    /// An entry learned now, fresh for `ttl`.
    pub fn new(value: String, ttl: Duration) -> Stored {
        let now = now_unix();
        Stored {
            value,
            stored_at: now,
            expires_at: now.saturating_add(ttl.as_secs()),
        }
    }

    /// Whether the entry is still fresh at `now`.
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.expires_at
    }
}
