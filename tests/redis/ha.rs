//! Redis as sites run it: a 3-primary Cluster, a primary + replica + 3 sentinels (and a
//! failover under load), TLS with an ACL user, and the `[cache]` keys that name them. Real
//! `redis-server` processes on loopback (testkit::redis_ha).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use badclients::cache::redis::{RedisAccess, RedisTarget, RedisTier};
use badclients::cache::{Stored, Table};
use ipnet::IpNet;
use testkit::daemon::{DaemonConfig, FakeInternet};
use testkit::redis_ha::{Acl, RedisCluster, RedisSentinelSet, RedisTlsServer, MASTER_NAME};

use crate::lookup::two_processes_share;

const TIMEOUT: Duration = Duration::from_millis(1000);
const KEEP: Duration = Duration::from_secs(600);

fn fresh(value: &str) -> Stored {
    Stored::new(value.to_string(), Duration::from_secs(3600))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn net(s: &str) -> IpNet {
    s.parse().expect("network")
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Round trips, the longest prefix across slots and nodes, a purge of every primary.
async fn cluster_round_trips(tier: &RedisTier, cluster: &RedisCluster) {
    // Covering prefixes of 176.112.170.5 whose keys fall on more than one primary.
    let prefixes = [
        "176.0.0.0/8",
        "176.112.0.0/12",
        "176.112.0.0/16",
        "176.112.168.0/21",
        "176.112.170.0/24",
    ];
    for p in prefixes {
        tier.put(Table::Origin, p, &fresh(&format!("\"{p}\"")), KEEP)
            .await
            .expect("put");
    }
    let holding = cluster
        .keys_per_node()
        .iter()
        .filter(|keys| !keys.is_empty())
        .count();
    assert!(holding >= 2, "the keys sit on {holding} primary only");
    // Removing the longest each time: the MGET split per slot comes back in key order.
    for (i, p) in prefixes.iter().enumerate().rev() {
        let (found, entry) = tier
            .get_covering(Table::Origin, ip("176.112.170.5"))
            .await
            .expect("get_covering")
            .expect("covered");
        assert_eq!(found, net(p));
        assert_eq!(entry.value, format!("\"{p}\""));
        if i > 0 {
            assert!(tier.purge(Table::Origin, p).await.expect("purge"));
        }
    }
    for i in 0..300u32 {
        let key = format!("10.{}.{}.0/24", i / 256, i % 256);
        tier.put(Table::Rdap, &key, &fresh("1"), KEEP)
            .await
            .expect("put");
    }
    let vk = fresh("\"VK\"");
    tier.put(Table::AsName, "AS47764", &vk, KEEP)
        .await
        .expect("put");
    assert_eq!(
        tier.get(Table::AsName, "AS47764").await.expect("get"),
        Some(vk)
    );
    let total: usize = cluster.keys_per_node().iter().map(Vec::len).sum();
    assert_eq!(total, 1 + 300 + 1, "the /8 and 300 rdap and 1 as_name keys");
    assert_eq!(tier.purge_all().await.expect("purge_all"), total);
    assert!(cluster.keys_per_node().iter().all(Vec::is_empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_stores_reads_across_slots_and_purges_every_primary() {
    let cluster = RedisCluster::start();
    let target = RedisTarget::Cluster {
        nodes: cluster.seeds(),
        access: RedisAccess::default(),
    };
    let tier = RedisTier::open(&target, TIMEOUT)
        .await
        .expect("open cluster");
    cluster_round_trips(&tier, &cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_cache_through_a_cluster() {
    let cluster = RedisCluster::start();
    two_processes_share(&format!("redis_cluster = {}\n", list(&cluster.seeds()))).await;
    assert!(cluster.keys_per_node().iter().flatten().count() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_cache_through_sentinel() {
    let set = RedisSentinelSet::start();
    two_processes_share(&format!(
        "redis_sentinels = {}\nredis_master = \"{MASTER_NAME}\"\n",
        list(&set.sentinels())
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_that_ask_for_a_password_are_given_it() {
    let set = RedisSentinelSet::start_with_sentinel_password(Some("s3ntinel"));
    two_processes_share(&format!(
        "redis_sentinels = {}\nredis_master = \"{MASTER_NAME}\"\n\
         redis_sentinel_password = \"s3ntinel\"\n",
        list(&set.sentinels())
    ))
    .await;
}

/// The lookup deadline of the failover daemon, and what a login may take beyond it with both
/// cores loaded.
const DEADLINE_MS: u64 = 1000;
const MARGIN: Duration = Duration::from_millis(1000);

#[test]
fn killing_the_primary_under_load_costs_no_login_its_deadline_and_writes_follow_the_promotion() {
    let mut set = RedisSentinelSet::start();
    let internet = FakeInternet::start();
    let daemon = DaemonConfig::new(&internet)
        .list("ip_net.deny.lst", "176.112.168.0/21\n")
        .cache(&format!(
            "memory_only = true\nredis_sentinels = {}\nredis_master = \"{MASTER_NAME}\"\n\
             redis_timeout_ms = 200",
            list(&set.sentinels())
        ))
        .start();
    let daemon = Arc::new(daemon);
    let running = Arc::new(AtomicBool::new(true));
    // (ip, took, status, body) of every login that went wrong or took too long.
    let bad: Arc<Mutex<Vec<String>>> = Arc::default();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..2u32)
        .map(|t| {
            let (daemon, running, bad, count) = (
                Arc::clone(&daemon),
                Arc::clone(&running),
                Arc::clone(&bad),
                Arc::clone(&count),
            );
            std::thread::spawn(move || {
                let mut i = 0u32;
                while running.load(Ordering::Relaxed) {
                    // A new address each time: its PTR is not in memory, so Redis is asked.
                    let n = t * 100_000 + i;
                    let (ip, refused) = if i.is_multiple_of(2) {
                        (format!("176.112.{}.{}", 168 + (n / 256) % 6, n % 256), true)
                    } else {
                        (
                            format!("209.85.{}.{}", 100 + (n / 256) % 100, n % 256),
                            false,
                        )
                    };
                    let started = Instant::now();
                    let answer =
                        daemon.policy_allow(&format!("u{n}"), &ip, Duration::from_secs(30));
                    let took = started.elapsed();
                    let want = if refused {
                        "\"status\":-1"
                    } else {
                        "\"status\":0"
                    };
                    if answer.status != 200
                        || !answer.body.contains(want)
                        || took > Duration::from_millis(DEADLINE_MS) + MARGIN
                    {
                        bad.lock()
                            .unwrap()
                            .push(format!("{ip}: {took:?} {} {}", answer.status, answer.body));
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let old = set.kill_primary();
    let new = set.wait_for_promotion(old, Duration::from_secs(30));
    // Past the tier's pause after the failures (5 s), logins reach the new primary.
    std::thread::sleep(Duration::from_secs(7));
    running.store(false, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let bad = bad.lock().unwrap().clone();
    assert!(bad.is_empty(), "{} bad logins: {bad:?}", bad.len());
    assert!(count.load(Ordering::Relaxed) > 20, "too few logins ran");

    // Writes land in the promoted primary.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0;
    loop {
        let ip = format!("176.112.174.{}", i % 256);
        let answer = daemon.policy_allow(&format!("after{i}"), &ip, Duration::from_secs(30));
        assert!(
            answer.body.contains("\"status\":-1"),
            "{ip}: {}",
            answer.body
        );
        let keys = set.cli(new, &["keys", "badclients:v1:ptr:176.112.174.*"]);
        if keys.lines().any(|l| l.starts_with("badclients:")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no cache write reached the new primary on port {new}"
        );
        std::thread::sleep(Duration::from_millis(300));
        i += 1;
    }
}

async fn tls_round_trip(tier: &RedisTier) {
    let entry = fresh("\"over tls\"");
    tier.put(Table::Origin, "176.112.168.0/21", &entry, KEEP)
        .await
        .expect("put over TLS");
    let found = tier
        .get_covering(Table::Origin, ip("176.112.170.5"))
        .await
        .expect("get_covering over TLS");
    assert_eq!(found, Some((net("176.112.168.0/21"), entry)));
    tier.ping().await.expect("ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_an_acl_user_reach_a_single_redis() {
    let server = RedisTlsServer::start(Acl::new("badclients", "s3cret-pass"));
    let target = RedisTarget::Single {
        url: server.url_with("s3cret-pass"),
        tls_ca: Some(server.tls.ca.clone()),
    };
    let tier = RedisTier::open(&target, TIMEOUT)
        .await
        .expect("open TLS+ACL");
    tls_round_trip(&tier).await;
    assert!(server
        .cli(&["keys", "*"])
        .contains("badclients:v1:origin:176.112.168.0/21"));
    // Without the CA, the server's certificate is not trusted.
    let untrusted = RedisTarget::Single {
        url: server.url_with("s3cret-pass"),
        tls_ca: None,
    };
    assert!(RedisTier::open(&untrusted, TIMEOUT).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_an_acl_user_reach_a_cluster() {
    let acl = Acl::new("badclients", "s3cret-pass");
    let cluster = RedisCluster::start_with(true, Some(acl));
    let access = RedisAccess {
        username: Some("badclients".into()),
        password: Some("s3cret-pass".into()),
        tls: true,
        tls_ca: cluster.ca().map(|p| p.to_path_buf()),
        db: 0,
        ..RedisAccess::default()
    };
    let target = RedisTarget::Cluster {
        nodes: cluster.seeds(),
        access: access.clone(),
    };
    let tier = RedisTier::open(&target, TIMEOUT)
        .await
        .expect("open TLS cluster");
    tls_round_trip(&tier).await;
    assert_eq!(tier.purge_all().await.expect("purge_all over TLS"), 1);
    let wrong = RedisTarget::Cluster {
        nodes: cluster.seeds(),
        access: RedisAccess {
            password: Some("wrong".into()),
            ..access
        },
    };
    assert!(RedisTier::open(&wrong, TIMEOUT).await.is_err());
}

#[test]
fn a_wrong_password_or_a_dead_redis_leaves_logins_decided_and_healthz_degraded() {
    let server = RedisTlsServer::start(Acl::new("badclients", "s3cret-pass"));
    let internet = FakeInternet::start();
    let dead = testkit::daemon::free_port();
    for (keys, password) in [
        (
            format!(
                "redis_url = \"{}\"\nredis_tls_ca = \"{}\"",
                server.url_with("Wr0ng-Passw0rd"),
                server.tls.ca.display()
            ),
            Some("Wr0ng-Passw0rd"),
        ),
        (format!("redis_url = \"redis://127.0.0.1:{dead}/\""), None),
    ] {
        let daemon = DaemonConfig::new(&internet)
            .list("ip_net.deny.lst", "176.112.168.0/21\n")
            .cache(&format!("memory_only = true\n{keys}"))
            .start();
        let refused = daemon.policy_allow("u1", "176.112.169.218", Duration::from_secs(30));
        assert_eq!(refused.status, 200);
        assert!(refused.body.contains("\"status\":-1"), "{}", refused.body);
        let allowed = daemon.policy_allow("u2", "209.85.218.15", Duration::from_secs(30));
        assert!(allowed.body.contains("\"status\":0"), "{}", allowed.body);
        let health = daemon.get("/healthz", None);
        assert_eq!(health.status, 503, "{}", health.body);
        assert!(
            health.body.contains("shared cache (Redis)"),
            "{}",
            health.body
        );
        let stderr = daemon.stderr();
        assert!(stderr.contains("is unreachable"), "{stderr}");
        if let Some(password) = password {
            assert!(
                !stderr.contains(password),
                "the password was logged: {stderr}"
            );
            assert!(stderr.contains("badclients:***@"), "{stderr}");
        }
    }
}

#[test]
fn conflicting_or_incomplete_redis_keys_are_clear_errors() {
    let dir = testkit::ListDir::new();
    for (keys, says) in [
        (
            "redis_url = \"redis://127.0.0.1:6379/\"\nredis_sentinels = [\"127.0.0.1:26379\"]\nredis_master = \"m\"",
            "redis_url and redis_sentinels are set",
        ),
        (
            "redis_sentinels = [\"127.0.0.1:26379\"]",
            "redis_sentinels needs redis_master",
        ),
        (
            "redis_cluster = [\"127.0.0.1:7000\"]\nredis_sentinels = [\"127.0.0.1:26379\"]\nredis_master = \"m\"",
            "redis_sentinels and redis_cluster are set",
        ),
    ] {
        let cfg = dir.path().join("badclients.toml");
        std::fs::write(&cfg, format!("[cache]\nmemory_only = true\n{keys}\n")).unwrap();
        let out = testkit::badclients(
            &["lookup", "192.0.2.1", "--config", cfg.to_str().unwrap()],
            dir.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{keys}");
        assert!(stderr.contains(says), "{keys}: {stderr}");
    }
}
