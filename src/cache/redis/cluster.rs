//! A Redis Cluster: the redis crate's async cluster connection, which learns the slot map
//! from the seed nodes, sends each key to the primary owning its slot, follows `MOVED`/`ASK`
//! and refreshes the map when a node fails.
//!
//! The key layout is the single Redis one (`badclients:v1:<table>:<key>`, no hash tags), so
//! entries spread over every primary by their own key. The one `MGET` of
//! [`super::RedisTier::get_covering`] names keys in many slots; the crate splits such a
//! command itself (redis-1.8.1 `src/cluster_handling/routing.rs`, `multi_shard`: the key
//! indices grouped per slot, one sub-`MGET` each), sends every part at once
//! (`src/cluster_handling/async_connection/mod.rs`, `execute_on_multiple_nodes`) and puts the
//! answers back in the order of the keys (`aggregate_results` with `CombineArrays`, i.e.
//! `routing.rs` `combine_and_sort_array_results`). So a login still costs one round trip of
//! parallel requests; `tests/redis/cluster.rs` checks that the longest prefix wins across
//! slots on three primaries. Hash tags would put every network of a table in one slot, on one
//! node: a hot spot, not a gain.
//!
//! [`primaries`] lists the primaries (`CLUSTER SLOTS`) so that a purge can `SCAN` each one.

use std::time::Duration;

use ::redis::cluster::{ClusterClientBuilder, TlsMode};
use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use ::redis::{Cmd, Value};

use super::target::{self, RedisAccess};
use super::{bounded, RedisTierError};

/// How often the crate retries a command that met a moved slot or a failed node (the
/// operation's timeout bounds them all).
const RETRIES: u32 = 2;

/// Connects to the cluster through `nodes`, within `timeout`.
pub(super) async fn connect(
    nodes: &[String],
    access: &RedisAccess,
    timeout: Duration,
) -> Result<ClusterConnection, RedisTierError> {
    let certs = target::certificates(access.tls_ca.as_ref())?;
    let seeds: Vec<String> = nodes
        .iter()
        .map(|node| target::node_url(node, access.tls))
        .collect();
    let mut builder = ClusterClientBuilder::new(seeds)
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .retries(RETRIES);
    if let Some(username) = &access.username {
        builder = builder.username(username);
    }
    if let Some(password) = &access.password {
        builder = builder.password(password);
    }
    if access.tls {
        builder = builder.tls(TlsMode::Secure);
        if let Some(certs) = certs {
            builder = builder.certs(certs);
        }
    }
    let client = builder.build().map_err(RedisTierError::InvalidUrl)?;
    bounded("connect", timeout, client.get_async_connection()).await
}

/// Every primary as `(host, port)`, from `CLUSTER SLOTS`.
pub(super) async fn primaries(
    connection: &ClusterConnection,
    timeout: Duration,
) -> Result<Vec<(String, u16)>, RedisTierError> {
    let mut connection = connection.clone();
    let cmd = ::redis::cmd("CLUSTER").arg("SLOTS").to_owned();
    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary);
    let slots = bounded(
        "CLUSTER SLOTS",
        timeout,
        connection.route_command(cmd, routing),
    )
    .await?;
    let mut found = Vec::new();
    for range in as_array(slots) {
        // [start, end, [host, port, id, …], replicas…]
        let Some(primary) = as_array(range).into_iter().nth(2) else {
            continue;
        };
        let mut fields = as_array(primary).into_iter();
        let (Some(host), Some(Value::Int(port))) = (fields.next(), fields.next()) else {
            continue;
        };
        let host = match host {
            Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Value::SimpleString(text) => text,
            _ => continue,
        };
        if let Ok(port) = u16::try_from(port) {
            if !found.contains(&(host.clone(), port)) {
                found.push((host, port));
            }
        }
    }
    Ok(found)
}

/// Sends `cmd` to the node at `host:port`.
pub(super) async fn on_node(
    connection: &ClusterConnection,
    (host, port): &(String, u16),
    op: &'static str,
    cmd: Cmd,
    timeout: Duration,
) -> Result<Value, RedisTierError> {
    let mut connection = connection.clone();
    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
        host: host.clone(),
        port: *port,
    });
    bounded(op, timeout, connection.route_command(cmd, routing)).await
}

fn as_array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}
