//! Bounded memory (issue 11, item 5): 200k distinct client IPs through the cache tiers keep
//! every memory table and every table of the cache file at the cap; pruning by TTL empties
//! memory and file; the file levels off when entries keep coming and going.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use badclients::cache::now_unix;
use badclients::cache::store::CacheStore;
use badclients::cache::{Stored, Table};
use badclients::lookup::tiers::{Tiers, Ttls};
use ipnet::IpNet;

const CAP: usize = 2_000;

fn ttls(secs: u64) -> Ttls {
    Ttls {
        positive: Duration::from_secs(secs),
        negative: Duration::from_secs(secs),
        stale: Duration::from_secs(secs),
    }
}

fn open(path: &Path) -> CacheStore {
    CacheStore::open(path).expect("open the cache file").0
}

/// The `n`th distinct address (10.0.0.0 upwards).
fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

fn entries(sizes: &[badclients::lookup::tiers::TableSize], table: &str) -> usize {
    sizes
        .iter()
        .find(|t| t.table == table)
        .map(|t| t.entries)
        .unwrap_or_else(|| panic!("no table {table} in {sizes:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_thousand_distinct_ips_stay_at_the_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    let tiers = Tiers::memory_capped(ttls(3600), CAP).with_store(open(&path));
    for n in 0..200_000u32 {
        let ip = ip(n);
        tiers.put_ptr(
            ip,
            Tiers::entry(Some(format!("host-{n}.example")), Duration::from_secs(600)),
        );
        tiers.put_origin(
            IpNet::from(ip),
            Tiers::entry(None, Duration::from_secs(300)),
        );
        if n % 2_048 == 0 {
            // Lets the store writer keep up, as lookups paced by the network would.
            assert!(tiers.flush(Duration::from_secs(120)).await, "writer stuck");
        }
        assert!(
            tiers.ptr.len() <= CAP && tiers.origin.len() <= CAP,
            "at {n}"
        );
    }
    assert!(tiers.flush(Duration::from_secs(120)).await);
    // At the cap, not far below it: the newest entries are kept.
    assert!(tiers.ptr.len() > CAP * 9 / 10, "{}", tiers.ptr.len());
    let newest = tiers.ptr.get(&ip(199_999)).expect("the newest PTR is kept");
    assert_eq!(newest.value.as_deref(), Some("host-199999.example"));
    assert!(tiers.ptr.get(&ip(0)).is_none(), "the oldest PTR went");
    let sizes = tokio::task::spawn_blocking(move || tiers.sizes().expect("sizes"))
        .await
        .expect("sizes task");
    for table in ["ptr", "origin"] {
        let rows = entries(&sizes.store, table);
        assert!(
            rows <= CAP && rows > CAP / 2,
            "{table}: {rows} rows in the file"
        );
        assert!(entries(&sizes.memory, table) <= CAP);
    }
    assert_eq!(sizes.max_entries, CAP);
    assert!(sizes.file_bytes.is_some_and(|b| b > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_removes_expired_entries_from_memory_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    // Every TTL 5 s, as in the issue.
    let tiers = Tiers::memory_capped(ttls(5), CAP).with_store(open(&path));
    for n in 0..500u32 {
        tiers.put_ptr(ip(n), Tiers::entry(None, Duration::from_secs(5)));
        tiers.put_origin(
            IpNet::from(ip(n)),
            Tiers::entry(None, Duration::from_secs(5)),
        );
    }
    tiers.put_as_name(
        "AS1".parse().expect("AS"),
        Tiers::entry(None, Duration::from_secs(5)),
    );
    assert!(tiers.flush(Duration::from_secs(60)).await);
    let now = now_unix();
    // Still servable (fresh or stale): nothing goes. Clocks are passed in, never waited for.
    assert_eq!(tiers.prune_memory(now + 5), 0);
    assert_eq!(tiers.prune_store(now + 5).expect("prune"), 0);
    assert_eq!(tiers.ptr.len(), 500);
    // Past the stale lifetime (5 s fresh + 5 s stale): everything goes, from both tiers.
    let later = now + 60;
    assert_eq!(tiers.prune_memory(later), 1_001);
    assert_eq!(tiers.prune_store(later).expect("prune"), 1_001);
    assert!(tiers.ptr.is_empty() && tiers.origin.is_empty() && tiers.as_name.is_empty());
    let store = tiers.store().expect("a store");
    for (table, rows) in store.stats().expect("stats") {
        assert_eq!(rows, 0, "{}", table.name());
    }
}

#[test]
fn the_file_is_capped_and_levels_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    let store = open(&path);
    let value = format!("{{\"name\":\"{}\"}}", "x".repeat(200));
    let mut sizes = Vec::new();
    let mut n = 0u32;
    for _round in 0..8 {
        for _batch in 0..10 {
            let now = now_unix();
            let items: Vec<(Table, String, Stored)> = (0..500)
                .map(|_| {
                    n += 1;
                    let entry = Stored {
                        value: value.clone(),
                        stored_at: now,
                        expires_at: now + u64::from(n),
                    };
                    (Table::Rdap, format!("{}/32", ip(n)), entry)
                })
                .collect();
            store.put_many_capped(&items, CAP).expect("write");
            let rows = store.stats().expect("stats")[2].1;
            assert!(rows <= CAP, "{rows} rows after a batch");
        }
        sizes.push(store.file_size().expect("file size"));
    }
    // 40,000 distinct keys went through a table of 2,000: the file stops growing once the
    // freed pages are reused (allow one growth step of slack after the third round).
    let settled = sizes[2];
    assert!(
        sizes[7] <= settled * 2,
        "the file kept growing: {sizes:?} bytes per round"
    );
    // The rows that stay are the ones that expire last.
    let kept = store.load_all(Table::Rdap);
    let oldest_kept = kept.iter().map(|(_, e)| e.expires_at).min().expect("rows");
    assert!(kept.len() <= CAP);
    assert!(
        oldest_kept > now_unix() + u64::from(n) - 2 * CAP as u64,
        "{oldest_kept}"
    );
    assert_eq!(
        store.cap_rows(CAP).expect("cap"),
        0,
        "within the cap already"
    );
    assert!(store.cap_rows(100).expect("cap") >= kept.len() - 100);
    assert!(store.stats().expect("stats")[2].1 <= 100);
}
