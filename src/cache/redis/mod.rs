//! The shared cache tier: [`RedisTier`], Redis shared by several badclients nodes, so what
//! one node learned saves the others a lookup. Redis as sites run it ([`RedisTarget`]): one
//! server ([`single`], `redis_url`), the primary a Sentinel set names and follows across
//! failovers ([`sentinel`]), or a Cluster ([`cluster`]); TLS and ACL users for each
//! ([`target`]).
//!
//! It owns the key layout, `badclients:v1:<table>:<key>` (see [`redis_key`]; the same in a
//! Cluster, see [`cluster`] for why no hash tags), the value format (the [`Stored`] entry as
//! JSON) and the lifetime of an entry in Redis: until its `expires_at` plus a stale grace the
//! caller chooses (`SET … PX`). Network-keyed tables are read by longest prefix without
//! scanning keys: [`RedisTier::get_covering`] asks for every network covering an address in
//! one `MGET` (in a Cluster, split per slot by the client and sent at once).
//!
//! Every operation is bounded by the timeout given to [`RedisTier::open`], so a dead, slow or
//! failing-over Redis costs a request at most that; failures come back as [`RedisTierError`]
//! for the caller to log and fall back to its local tiers. Each backend reconnects by itself
//! once Redis is back (a Sentinel backend by asking the sentinels again).

mod cluster;
mod sentinel;
mod single;
mod target;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, FromRedisValue, RedisError, Value};
use ipnet::IpNet;

pub use target::{redact_url, RedisAccess, RedisTarget};

use super::{Stored, Table};

/// What every key of badclients starts with; the version changes with the value format.
pub const KEY_PREFIX: &str = "badclients:v1:";

/// The longest an entry is kept in Redis, whatever its `expires_at` says.
const MAX_KEEP: Duration = Duration::from_secs(365 * 24 * 3600);

/// Keys asked for per `SCAN` round trip of [`RedisTier::purge_all`].
const SCAN_COUNT: usize = 1000;

/// Why a Redis operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisTierError {
    /// The URL given to [`RedisTier::connect`] is not a Redis URL, or the target's settings
    /// do not make a client.
    #[error("invalid Redis URL or settings: {0}")]
    InvalidUrl(#[source] RedisError),
    /// The CA file for TLS cannot be read.
    #[error("cannot read the Redis CA file {path}: {source}")]
    TlsCa {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The sentinels named no reachable primary.
    #[error("Redis Sentinel gave no primary: {0}")]
    NoPrimary(String),
    /// Redis did not answer within the timeout.
    #[error("Redis {op} timed out after {after:?}")]
    Timeout { op: &'static str, after: Duration },
    /// Redis, or the connection to it, failed.
    #[error("Redis {op} failed: {source}")]
    Redis {
        op: &'static str,
        source: RedisError,
    },
    /// An entry could not be serialised.
    #[error("cannot encode cache entry {key}: {source}")]
    Encode {
        key: String,
        source: serde_json::Error,
    },
    /// [`RedisTier::get_covering`] was asked about a table not keyed by network.
    #[error("cache table {0} is not keyed by network")]
    NotNetworkKeyed(&'static str),
}

/// The shared tier: a handle on one Redis, a Sentinel set's primary or a Cluster (cheap to
/// clone; clones share the connections).
#[derive(Debug, Clone)]
pub struct RedisTier {
    backend: Backend,
    timeout: Duration,
}

/// The connection(s) of each kind of deployment.
#[derive(Clone)]
enum Backend {
    Single(ConnectionManager),
    Sentinel(Arc<sentinel::SentinelBackend>),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Single(_) => f.write_str("Single"),
            Backend::Sentinel(s) => s.fmt(f),
            Backend::Cluster(_) => f.write_str("Cluster"),
        }
    }
}

/// The Redis key of `key` in `table`: `badclients:v1:<table>:<key>`.
pub fn redis_key(table: Table, key: &str) -> String {
    format!("{KEY_PREFIX}{}:{key}", table.name())
}

/// Every network covering `ip`, longest prefix first (`/32` … `/0`, or `/128` … `/0`), in
/// the canonical form network-keyed tables use. An IPv4-mapped IPv6 address counts as the
/// IPv4 address.
pub fn covering_networks(ip: IpAddr) -> Vec<IpNet> {
    let ip = ip.to_canonical();
    let longest = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    (0..=longest)
        .rev()
        .filter_map(|len| IpNet::new(ip, len).ok().map(|net| net.trunc()))
        .collect()
}

impl RedisTier {
    /// Connects to the Redis at `url` (`redis://127.0.0.1:6379/0`); every later operation,
    /// and this connection, is bounded by `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> Result<RedisTier, RedisTierError> {
        let target = RedisTarget::Single {
            url: url.to_string(),
            tls_ca: None,
        };
        RedisTier::open(&target, timeout).await
    }

    /// Connects to `target`; every later operation, and this connection, is bounded by
    /// `timeout`.
    pub async fn open(
        target: &RedisTarget,
        timeout: Duration,
    ) -> Result<RedisTier, RedisTierError> {
        let backend = match target {
            RedisTarget::Single { url, tls_ca } => {
                Backend::Single(single::connect(url, tls_ca.as_ref(), timeout).await?)
            }
            RedisTarget::Sentinel {
                sentinels,
                master,
                access,
            } => Backend::Sentinel(
                sentinel::SentinelBackend::connect(sentinels, master, access, timeout).await?,
            ),
            RedisTarget::Cluster { nodes, access } => {
                Backend::Cluster(cluster::connect(nodes, access, timeout).await?)
            }
        };
        Ok(RedisTier { backend, timeout })
    }

    /// The bound on every operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Checks that Redis answers.
    pub async fn ping(&self) -> Result<(), RedisTierError> {
        self.query::<()>("PING", &::redis::cmd("PING")).await
    }

    /// The entry under `key` in `table`; `None` when absent, expired from Redis or not a
    /// cache entry (logged).
    pub async fn get(&self, table: Table, key: &str) -> Result<Option<Stored>, RedisTierError> {
        let rkey = redis_key(table, key);
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(&rkey);
        let raw: Option<Vec<u8>> = self.query("GET", &cmd).await?;
        Ok(raw.and_then(|bytes| decode(&rkey, &bytes)))
    }

    /// Stores `entry` under `key` in `table`, kept in Redis until its `expires_at` plus
    /// `keep_for` (the stale grace). An entry already past that is not written.
    pub async fn put(
        &self,
        table: Table,
        key: &str,
        entry: &Stored,
        keep_for: Duration,
    ) -> Result<(), RedisTierError> {
        let rkey = redis_key(table, key);
        let Some(px) = keep_millis(entry.expires_at, keep_for, now_millis()) else {
            return Ok(());
        };
        let json = serde_json::to_vec(entry).map_err(|source| RedisTierError::Encode {
            key: rkey.clone(),
            source,
        })?;
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(&rkey).arg(json).arg("PX").arg(px);
        self.query::<()>("SET", &cmd).await
    }

    /// The entry of the longest network in `table` that covers `ip`, with that network, in
    /// one `MGET` round trip (no key scan). Only for network-keyed tables.
    pub async fn get_covering(
        &self,
        table: Table,
        ip: IpAddr,
    ) -> Result<Option<(IpNet, Stored)>, RedisTierError> {
        if !table.by_network() {
            return Err(RedisTierError::NotNetworkKeyed(table.name()));
        }
        let networks = covering_networks(ip);
        let keys: Vec<String> = networks
            .iter()
            .map(|net| redis_key(table, &net.to_string()))
            .collect();
        let mut cmd = ::redis::cmd("MGET");
        cmd.arg(&keys);
        let values: Vec<Option<Vec<u8>>> = self.query("MGET", &cmd).await?;
        Ok(longest_present(networks, &keys, values))
    }

    /// Removes the entry under `key` in `table`; tells whether there was one.
    pub async fn purge(&self, table: Table, key: &str) -> Result<bool, RedisTierError> {
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(redis_key(table, key));
        let removed: u64 = self.query("DEL", &cmd).await?;
        Ok(removed > 0)
    }

    /// Removes every badclients key (an admin command: it walks the keys with `SCAN`, on
    /// every primary of a Cluster, each round trip bounded by the timeout); returns how many
    /// went.
    pub async fn purge_all(&self) -> Result<usize, RedisTierError> {
        let nodes = match &self.backend {
            Backend::Cluster(connection) => cluster::primaries(connection, self.timeout)
                .await?
                .into_iter()
                .map(Some)
                .collect(),
            _ => vec![None],
        };
        let pattern = format!("{KEY_PREFIX}*");
        let mut removed = 0usize;
        for node in nodes {
            let mut cursor = 0u64;
            loop {
                let mut scan = ::redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT);
                let answer = match (&self.backend, &node) {
                    (Backend::Cluster(connection), Some(node)) => {
                        cluster::on_node(connection, node, "SCAN", scan, self.timeout).await?
                    }
                    _ => self.send("SCAN", &scan).await?,
                };
                let (next, keys): (u64, Vec<Vec<u8>>) = convert("SCAN", answer)?;
                removed += self.delete_keys(&keys).await?;
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(removed)
    }

    async fn delete_keys(&self, keys: &[Vec<u8>]) -> Result<usize, RedisTierError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(keys);
        let removed: u64 = self.query("DEL", &cmd).await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    /// Sends `cmd`, bounded by the timeout, and reads the answer as a `T`.
    async fn query<T: FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &Cmd,
    ) -> Result<T, RedisTierError> {
        convert(op, self.send(op, cmd).await?)
    }

    /// Sends `cmd` to the backend, bounded by the timeout.
    async fn send(&self, op: &'static str, cmd: &Cmd) -> Result<Value, RedisTierError> {
        match &self.backend {
            Backend::Single(manager) => {
                let mut connection = manager.clone();
                bounded(op, self.timeout, connection.req_packed_command(cmd)).await
            }
            Backend::Sentinel(backend) => backend.query(op, cmd).await,
            Backend::Cluster(connection) => {
                let mut connection = connection.clone();
                bounded(op, self.timeout, connection.req_packed_command(cmd)).await
            }
        }
    }
}

/// Reads an answer as a `T` (a Redis error reply becomes an error).
fn convert<T: FromRedisValue>(op: &'static str, value: Value) -> Result<T, RedisTierError> {
    let value = value
        .extract_error()
        .map_err(|source| RedisTierError::Redis { op, source })?;
    T::from_redis_value(value).map_err(|e| RedisTierError::Redis {
        op,
        source: RedisError::from(e),
    })
}

/// Awaits `future` for at most `timeout`.
async fn bounded<T>(
    op: &'static str,
    timeout: Duration,
    future: impl std::future::Future<Output = Result<T, RedisError>>,
) -> Result<T, RedisTierError> {
    match tokio::time::timeout(timeout, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(RedisTierError::Redis { op, source }),
        Err(_) => Err(RedisTierError::Timeout { op, after: timeout }),
    }
}

/// The first (longest) network whose value is present and decodes.
fn longest_present(
    networks: Vec<IpNet>,
    keys: &[String],
    values: Vec<Option<Vec<u8>>>,
) -> Option<(IpNet, Stored)> {
    networks
        .into_iter()
        .zip(keys)
        .zip(values)
        .find_map(|((net, key), value)| Some((net, decode(key, &value?)?)))
}

/// Decodes a value, or logs it and gives `None`.
fn decode(key: &str, bytes: &[u8]) -> Option<Stored> {
    match serde_json::from_slice(bytes) {
        Ok(entry) => Some(entry),
        Err(err) => {
            tracing::warn!(key, error = %err, "ignoring a Redis value that is not a cache entry");
            None
        }
    }
}

/// Milliseconds since the Unix epoch now.
fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// How long, in ms, Redis keeps an entry fresh until `expires_at` (Unix seconds) and then
/// kept `keep_for` longer, counted from `now_ms`; `None` when that is already past.
fn keep_millis(expires_at: u64, keep_for: Duration, now_ms: u128) -> Option<u64> {
    let until = u128::from(expires_at) * 1000 + keep_for.as_millis();
    let left = until.checked_sub(now_ms).filter(|&ms| ms > 0)?;
    let left = left.min(MAX_KEEP.as_millis());
    u64::try_from(left).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_millis_counts_from_now_to_expiry_plus_grace() {
        let now_ms = 1_000_000_500;
        assert_eq!(
            keep_millis(1_000_010, Duration::from_secs(60), now_ms),
            Some(69_500)
        );
        assert_eq!(
            keep_millis(1_000_000, Duration::from_millis(600), now_ms),
            Some(100)
        );
    }

    #[test]
    fn keep_millis_refuses_past_entries_and_caps_far_ones() {
        let now_ms = 1_000_000_500;
        assert_eq!(keep_millis(1_000_000, Duration::ZERO, now_ms), None);
        assert_eq!(
            keep_millis(1_000_000, Duration::from_millis(500), now_ms),
            None
        );
        assert_eq!(
            keep_millis(u64::MAX, Duration::MAX, now_ms),
            u64::try_from(MAX_KEEP.as_millis()).ok()
        );
    }
}
