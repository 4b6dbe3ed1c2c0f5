//! Lookups against the fakes of `testworld` that share their cache through a real
//! `redis-server` (moved here from `tests/it/lookup.rs`, whose configuration helpers they use).

use std::time::{Duration, Instant};

use badclients::app::lookup as build;
use testkit::{badclients, ListDir};

#[path = "../it/lookup/world.rs"]
mod world;

use world::{config_file, config_for, contract};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_cache_through_redis() {
    let redis = testkit::redis::RedisServer::start();
    two_processes_share(&format!("redis_url = \"{}\"\n", redis.url())).await;
}

/// Two `badclients lookup` processes, each with memory only plus the shared Redis that the
/// `[cache]` keys `cache_keys` name: the second answers from what the first learned and asks
/// no upstream (DNS, RDAP) at all.
pub(crate) async fn two_processes_share(cache_keys: &str) {
    let world = contract().await;
    let dir = ListDir::new();
    let extra = "";
    let cfg = config_file(&world, &dir, extra);
    // Each node keeps its own memory only; what they share is Redis.
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replace(
        "[cache]\npath = \"cache.redb\"\n",
        &format!("[cache]\nmemory_only = true\n{cache_keys}"),
    );
    std::fs::write(&cfg, text).unwrap();
    let run = |cfg: std::path::PathBuf, cwd: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            badclients(
                &[
                    "lookup",
                    "176.112.169.218",
                    "--config",
                    cfg.to_str().unwrap(),
                    "--json",
                ],
                &cwd,
            )
        })
    };
    let first = run(cfg.clone(), dir.path().to_path_buf()).await.unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert!(
        !String::from_utf8_lossy(&first.stderr).contains("unreachable"),
        "{first:?}"
    );
    assert!(world.dns.total_queries() > 0);
    // The first node's writes to Redis run in the background; it waits for them at exit.
    world.dns.reset_counters();
    world.rdap.reset_counters();
    let second = run(cfg.clone(), dir.path().to_path_buf()).await.unwrap();
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let v: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(v[0]["facts"]["net_name"], "VK-FRONT");
    assert_eq!(v[0]["facts"]["as_desc"], "VK-AS, RU");
    assert_eq!(v[0]["facts"]["host"], "rimap26.i.mail.ru");
    assert_eq!(world.dns.total_queries(), 0, "the second node asked DNS");
    assert_eq!(world.rdap.total_requests(), 0, "the second node asked RDAP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_still_decided_when_redis_dies() {
    let mut redis = testkit::redis::RedisServer::start();
    let world = contract().await;
    let mut cfg = config_for(&world, 1000);
    cfg.cache.redis_url = Some(redis.url());
    cfg.cache.redis_timeout_ms = 200;
    let (l, warnings) = build(&cfg).await.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let r = l.facts("176.112.169.218".parse().unwrap()).await;
    assert!(r.facts.lookup_errors.is_empty());
    redis.kill();
    for ip in ["139.162.133.252", "209.85.218.15", "209.85.218.53"] {
        let started = Instant::now();
        let r = l.facts(ip.parse().unwrap()).await;
        assert!(
            r.facts.lookup_errors.is_empty(),
            "{ip}: {:?}",
            r.facts.lookup_errors
        );
        assert!(r.facts.net_name.is_some(), "{ip}");
        assert!(
            started.elapsed() < Duration::from_millis(1000 + 250),
            "{ip}"
        );
    }
    // A Redis that is down at start is a warning, not a failure.
    let (l, warnings) = build(&cfg).await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(l
        .facts("176.112.169.218".parse().unwrap())
        .await
        .facts
        .net_name
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_down_at_start_is_used_once_it_answers() {
    let mut redis = testkit::redis::RedisServer::start();
    redis.kill();
    let world = contract().await;
    let mut cfg = config_for(&world, 1000);
    cfg.cache.memory_only = true;
    cfg.cache.redis_url = Some(redis.url());
    let (lookup, warnings) = build(&cfg).await.expect("the lookup starts without Redis");
    assert!(
        warnings.iter().any(|w| w.contains("unreachable")),
        "{warnings:?}"
    );
    assert!(lookup.degraded().iter().any(|d| d.contains("Redis")));
    assert!(!lookup.tiers().has_redis());
    redis.restart();
    // Tried again every 5 s: give it the retry and room for a loaded machine.
    let until = Instant::now() + Duration::from_secs(30);
    while !lookup.tiers().has_redis() {
        assert!(
            Instant::now() < until,
            "Redis was not picked up after it came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(lookup.degraded().is_empty(), "{:?}", lookup.degraded());
    // From now on what this node learns is shared.
    let r = lookup.facts("176.112.169.218".parse().unwrap()).await;
    assert!(
        r.facts.lookup_errors.is_empty(),
        "{:?}",
        r.facts.lookup_errors
    );
    assert!(lookup.tiers().flush(Duration::from_secs(10)).await);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("badclients:v1:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        keys.iter().any(|k| k.contains(":origin:")),
        "the lookup's answers reached Redis: {keys:?}"
    );
}
