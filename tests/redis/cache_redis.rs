//! The shared cache tier against a real `redis-server` on a loopback port: round trips,
//! longest-prefix reads in one MGET, two nodes sharing entries, expiry, a Redis that dies and
//! comes back.
//!
//! Each test starts its own server (Debian's `redis-server`). Without one, the tests fail.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use badclients::cache::redis::{covering_networks, redis_key, RedisTier, RedisTierError};
use badclients::cache::{now_unix, Stored, Table};
use ipnet::IpNet;
use testkit::daemon::free_port;
use testkit::redis::RedisServer;

const TIMEOUT: Duration = Duration::from_millis(500);
/// Slack allowed past the timeout for an operation against a dead Redis.
const SLACK: Duration = Duration::from_millis(200);
const KEEP: Duration = Duration::from_secs(600);

async fn connect(server: &RedisServer) -> RedisTier {
    RedisTier::connect(&server.url(), TIMEOUT)
        .await
        .expect("connect to the test redis-server")
}

/// A plain connection to inspect what the tier wrote.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection")
}

fn fresh(value: &str) -> Stored {
    Stored::new(value.to_string(), Duration::from_secs(3600))
}

fn net(s: &str) -> IpNet {
    s.parse().expect("network")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

macro_rules! redis_server {
    () => {
        RedisServer::start()
    };
}

#[test]
fn keys_follow_the_documented_layout() {
    assert_eq!(
        redis_key(Table::Origin, "176.112.168.0/21"),
        "badclients:v1:origin:176.112.168.0/21"
    );
    assert_eq!(
        redis_key(Table::AsName, "AS47764"),
        "badclients:v1:as_name:AS47764"
    );
    assert_eq!(
        redis_key(Table::Rdap, "2a00:1450::/32"),
        "badclients:v1:rdap:2a00:1450::/32"
    );
    assert_eq!(
        redis_key(Table::Ptr, "192.0.2.1"),
        "badclients:v1:ptr:192.0.2.1"
    );
}

#[test]
fn covering_networks_are_every_prefix_longest_first_in_canonical_form() {
    let v4 = covering_networks(ip("176.112.170.5"));
    assert_eq!(v4.len(), 33);
    assert_eq!(v4[0], net("176.112.170.5/32"));
    assert_eq!(v4[11].to_string(), "176.112.168.0/21");
    assert_eq!(v4[32].to_string(), "0.0.0.0/0");

    let v6 = covering_networks(ip("2a00:1450:4001:80b::200e"));
    assert_eq!(v6.len(), 129);
    assert_eq!(v6[96].to_string(), "2a00:1450::/32");
    assert_eq!(v6[128].to_string(), "::/0");

    // An IPv4-mapped address is looked up as the IPv4 address.
    assert_eq!(covering_networks(ip("::ffff:176.112.170.5")), v4);
}

#[tokio::test]
async fn put_then_get_round_trips_every_table() {
    let server = redis_server!();
    let tier = connect(&server).await;
    for (table, key) in [
        (Table::Origin, "176.112.168.0/21"),
        (Table::AsName, "AS47764"),
        (Table::Rdap, "2a00:1450::/32"),
        (Table::Ptr, "192.0.2.7"),
    ] {
        let entry = fresh(&format!("{{\"key\":\"{key}\"}}"));
        tier.put(table, key, &entry, KEEP).await.expect("put");
        assert_eq!(tier.get(table, key).await.expect("get"), Some(entry));
    }
    assert_eq!(tier.get(Table::Ptr, "192.0.2.8").await.expect("get"), None);
    assert_eq!(
        tier.get(Table::Rdap, "176.112.168.0/21")
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn the_value_is_json_under_the_key_and_lives_until_expiry_plus_grace() {
    let server = redis_server!();
    let tier = connect(&server).await;
    let entry = Stored {
        value: "{\"asn\":47764}".to_string(),
        stored_at: now_unix(),
        expires_at: now_unix() + 100,
    };
    tier.put(
        Table::Origin,
        "176.112.168.0/21",
        &entry,
        Duration::from_secs(50),
    )
    .await
    .expect("put");

    let mut con = raw(&server).await;
    let key = "badclients:v1:origin:176.112.168.0/21";
    let json: String = redis::cmd("GET")
        .arg(key)
        .query_async(&mut con)
        .await
        .expect("raw GET");
    let decoded: Stored = serde_json::from_str(&json).expect("the value is a JSON Stored");
    assert_eq!(decoded, entry);
    let pttl: i64 = redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut con)
        .await
        .expect("PTTL");
    assert!((148_000..=150_000).contains(&pttl), "PTTL {pttl}");
}

#[tokio::test]
async fn get_covering_returns_the_longest_covering_prefix() {
    let server = redis_server!();
    let tier = connect(&server).await;
    let put = |table, key: &'static str| {
        let tier = tier.clone();
        async move {
            tier.put(table, key, &fresh(&format!("\"{key}\"")), KEEP)
                .await
                .expect("put");
        }
    };
    put(Table::Origin, "176.112.0.0/16").await;
    put(Table::Origin, "176.112.168.0/21").await;
    put(Table::Origin, "176.112.176.0/21").await; // same /16, does not cover .170.5
    put(Table::Origin, "10.0.0.0/8").await;
    put(Table::Rdap, "176.112.170.0/24").await; // another table

    let (found, entry) = tier
        .get_covering(Table::Origin, ip("176.112.170.5"))
        .await
        .expect("get_covering")
        .expect("covered");
    assert_eq!(found, net("176.112.168.0/21"));
    assert_eq!(entry.value, "\"176.112.168.0/21\"");

    let (found, _) = tier
        .get_covering(Table::Origin, ip("176.112.1.1"))
        .await
        .expect("get_covering")
        .expect("covered by the /16");
    assert_eq!(found, net("176.112.0.0/16"));

    let mapped = tier
        .get_covering(Table::Origin, ip("::ffff:176.112.170.5"))
        .await
        .expect("get_covering");
    assert_eq!(mapped.map(|(n, _)| n), Some(net("176.112.168.0/21")));

    let rdap = tier
        .get_covering(Table::Rdap, ip("176.112.170.5"))
        .await
        .expect("get_covering");
    assert_eq!(rdap.map(|(n, _)| n), Some(net("176.112.170.0/24")));

    assert_eq!(
        tier.get_covering(Table::Origin, ip("192.0.2.1"))
            .await
            .expect("get_covering"),
        None
    );
    assert!(matches!(
        tier.get_covering(Table::Ptr, ip("192.0.2.1")).await,
        Err(RedisTierError::NotNetworkKeyed("ptr"))
    ));
}

#[tokio::test]
async fn get_covering_works_for_ipv6_and_skips_undecodable_values() {
    let server = redis_server!();
    let tier = connect(&server).await;
    for key in [
        "2a00:1450::/32",
        "2a00:1450:4001::/48",
        "2a00:1450:4002::/48",
    ] {
        tier.put(Table::Rdap, key, &fresh("1"), KEEP)
            .await
            .expect("put");
    }
    let found = tier
        .get_covering(Table::Rdap, ip("2a00:1450:4001:80b::200e"))
        .await
        .expect("get_covering");
    assert_eq!(found.map(|(n, _)| n), Some(net("2a00:1450:4001::/48")));

    // A value that is not a cache entry is never returned: the next shorter prefix is.
    let mut con = raw(&server).await;
    let _: () = redis::cmd("SET")
        .arg("badclients:v1:rdap:2a00:1450:4001:800::/56")
        .arg("not json")
        .query_async(&mut con)
        .await
        .expect("raw SET");
    let found = tier
        .get_covering(Table::Rdap, ip("2a00:1450:4001:80b::200e"))
        .await
        .expect("get_covering");
    assert_eq!(found.map(|(n, _)| n), Some(net("2a00:1450:4001::/48")));
    assert_eq!(
        tier.get(Table::Rdap, "2a00:1450:4001:800::/56")
            .await
            .expect("get"),
        None
    );

    let outside = tier
        .get_covering(Table::Rdap, ip("2001:db8::1"))
        .await
        .expect("get_covering");
    assert_eq!(outside, None);
}

#[tokio::test]
async fn two_nodes_see_each_others_entries_and_purges() {
    let server = redis_server!();
    let node_a = connect(&server).await;
    let node_b = connect(&server).await;
    let entry = fresh("{\"from\":\"a\"}");
    node_a
        .put(Table::Origin, "176.112.168.0/21", &entry, KEEP)
        .await
        .expect("put on a");
    let seen = node_b
        .get_covering(Table::Origin, ip("176.112.170.5"))
        .await
        .expect("get_covering on b");
    assert_eq!(seen, Some((net("176.112.168.0/21"), entry)));

    node_b
        .put(Table::AsName, "AS47764", &fresh("\"B\""), KEEP)
        .await
        .expect("put on b");
    assert!(node_a
        .get(Table::AsName, "AS47764")
        .await
        .expect("get on a")
        .is_some());

    assert!(node_b
        .purge(Table::Origin, "176.112.168.0/21")
        .await
        .expect("purge"));
    assert!(!node_b
        .purge(Table::Origin, "176.112.168.0/21")
        .await
        .expect("purge again"));
    assert_eq!(
        node_a
            .get(Table::Origin, "176.112.168.0/21")
            .await
            .expect("get on a"),
        None
    );
}

#[tokio::test]
async fn purge_all_removes_only_badclients_keys() {
    let server = redis_server!();
    let tier = connect(&server).await;
    for i in 0..2500u32 {
        let key = format!("10.{}.{}.0/24", i / 256, i % 256);
        tier.put(Table::Origin, &key, &fresh("1"), KEEP)
            .await
            .expect("put");
    }
    tier.put(Table::Ptr, "192.0.2.1", &fresh("\"x\""), KEEP)
        .await
        .expect("put");
    let mut con = raw(&server).await;
    let _: () = redis::cmd("SET")
        .arg("someone-else:key")
        .arg("kept")
        .query_async(&mut con)
        .await
        .expect("raw SET");

    assert_eq!(tier.purge_all().await.expect("purge_all"), 2501);
    assert_eq!(tier.get(Table::Ptr, "192.0.2.1").await.expect("get"), None);
    let size: u64 = redis::cmd("DBSIZE")
        .query_async(&mut con)
        .await
        .expect("DBSIZE");
    assert_eq!(size, 1);
    let other: Option<String> = redis::cmd("GET")
        .arg("someone-else:key")
        .query_async(&mut con)
        .await
        .expect("GET");
    assert_eq!(other.as_deref(), Some("kept"));
}

#[tokio::test]
async fn an_entry_ends_when_its_grace_runs_out() {
    let server = redis_server!();
    let tier = connect(&server).await;
    // Expired already; kept 1.5 s past its expiry (so 0.5..1.5 s from now).
    let stale = Stored {
        value: "\"stale\"".to_string(),
        stored_at: now_unix() - 100,
        expires_at: now_unix(),
    };
    tier.put(Table::Ptr, "192.0.2.9", &stale, Duration::from_millis(1500))
        .await
        .expect("put");
    assert_eq!(
        tier.get(Table::Ptr, "192.0.2.9").await.expect("get"),
        Some(stale)
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if tier
            .get(Table::Ptr, "192.0.2.9")
            .await
            .expect("get")
            .is_none()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the entry outlived its PX");
    }

    // An entry already past its grace is not written at all.
    let dead = Stored {
        value: "\"dead\"".to_string(),
        stored_at: now_unix() - 100,
        expires_at: now_unix() - 10,
    };
    tier.put(Table::Ptr, "192.0.2.10", &dead, Duration::ZERO)
        .await
        .expect("put of a dead entry");
    assert_eq!(tier.get(Table::Ptr, "192.0.2.10").await.expect("get"), None);
}

/// Runs `op` against a dead Redis: it must fail, within the timeout (plus slack).
async fn fails_in_time<T: std::fmt::Debug>(
    what: &str,
    op: impl std::future::Future<Output = Result<T, RedisTierError>>,
) {
    let started = Instant::now();
    let result = op.await;
    let elapsed = started.elapsed();
    assert!(result.is_err(), "{what} against a dead Redis: {result:?}");
    assert!(
        elapsed < TIMEOUT + SLACK,
        "{what} took {elapsed:?} against a dead Redis"
    );
}

#[tokio::test]
async fn a_dead_redis_costs_at_most_the_timeout_and_a_restart_recovers() {
    let mut server = redis_server!();
    let tier = connect(&server).await;
    tier.put(Table::AsName, "AS1", &fresh("\"one\""), KEEP)
        .await
        .expect("put");

    server.kill();
    for _ in 0..3 {
        fails_in_time("get", tier.get(Table::AsName, "AS1")).await;
        fails_in_time(
            "put",
            tier.put(Table::AsName, "AS2", &fresh("\"two\""), KEEP),
        )
        .await;
        fails_in_time(
            "get_covering",
            tier.get_covering(Table::Origin, ip("192.0.2.1")),
        )
        .await;
        fails_in_time("purge", tier.purge(Table::AsName, "AS1")).await;
    }

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tier.ping().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the tier did not reconnect to the restarted Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The restarted server is empty (no persistence); writes and reads work again.
    assert_eq!(tier.get(Table::AsName, "AS1").await.expect("get"), None);
    tier.put(Table::AsName, "AS3", &fresh("\"three\""), KEEP)
        .await
        .expect("put after restart");
    assert!(tier
        .get(Table::AsName, "AS3")
        .await
        .expect("get after restart")
        .is_some());
}

#[tokio::test]
async fn connecting_to_nothing_fails_within_the_timeout() {
    let port = free_port();
    let started = Instant::now();
    let result = RedisTier::connect(&format!("redis://127.0.0.1:{port}/"), TIMEOUT).await;
    assert!(result.is_err(), "connected to a closed port");
    assert!(
        started.elapsed() < TIMEOUT + SLACK,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_bad_url_is_an_error() {
    assert!(matches!(
        RedisTier::connect("not a url", TIMEOUT).await,
        Err(RedisTierError::InvalidUrl(_))
    ));
}
