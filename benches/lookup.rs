//! Lookups over real DNS and HTTP on loopback against the `testworld` fakes.
//!
//! - `warm`: everything cached (what nearly every login costs);
//! - `cold`: nothing cached, each fake answering after 50 ms;
//! - `cold_known_as`: the network is new but its AS name is cached (the usual case: a
//!   server sees few distinct ASes);
//! - `cold_asn_table_names`: nothing cached, an offline ASN table names the AS
//!   (`asn_table_use = "as_names"`): Team Cymru's origin, PTR and RDAP in one round trip.
//!
//! Run: `cargo bench --bench lookup`

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use badclients::app::lookup as build;
use badclients::config::{AsnTableUse, Config};
use badclients::lookup::Lookup;
use criterion::{criterion_group, criterion_main, Criterion};
use testworld::{contract_rdap_body, contract_world, RdapFault, Reply, RunningWorld};

const LATENCY: Duration = Duration::from_millis(50);
const VK: &str = "176.112.169.218";

fn config_for(world: &RunningWorld) -> Config {
    let mut c = Config::default();
    c.lookup.dns_servers = vec![world.dns.addr()];
    c.lookup.deadline_ms = 1000;
    let base = world.rdap.base_url();
    for (registry, path) in [("arin", "arin"), ("ripencc", "ripe")] {
        c.rdap
            .base_urls
            .insert(registry.into(), format!("{base}{path}/"));
    }
    c.cache.memory_only = true;
    c
}

async fn slow_world() -> RunningWorld {
    let world = contract_world().start().await.expect("world");
    world.dns.set_latency(LATENCY);
    let vk: IpAddr = VK.parse().expect("ip");
    let body = contract_rdap_body(vk).expect("contract body");
    world.rdap.route(
        "/ripe/ip/176.112.169.218",
        Reply::json_value(&body).with_fault(RdapFault::Delay(LATENCY)),
    );
    // A second VK network for the known-AS case.
    world.dns.update(|z| {
        z.cymru_origin(
            "176.112.200.1".parse().expect("ip"),
            "47764 | 176.112.200.0/24 | RU | ripencc | 2010-10-13",
        );
    });
    let mut other = body.clone();
    other["startAddress"] = "176.112.200.0".into();
    other["endAddress"] = "176.112.200.255".into();
    world.rdap.route(
        "/ripe/ip/176.112.200.1",
        Reply::json_value(&other).with_fault(RdapFault::Delay(LATENCY)),
    );
    world
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let world = rt.block_on(slow_world());
    let config = config_for(&world);
    let vk: IpAddr = VK.parse().expect("ip");

    let warm: Lookup = rt.block_on(async {
        let l = build(&config).await.expect("lookup").0;
        let r = l.facts(vk).await;
        assert!(
            r.facts.lookup_errors.is_empty(),
            "{:?}",
            r.facts.lookup_errors
        );
        l
    });
    c.bench_function("lookup/warm", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(warm.facts(vk).await) })
    });

    let mut group = c.benchmark_group("lookup");
    group.sample_size(10);
    // Each iteration needs an empty cache: build a fresh lookup service (not timed).
    group.bench_function("cold_50ms_upstreams", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let l = build(&config).await.expect("lookup").0;
                    let started = Instant::now();
                    let r = l.facts(vk).await;
                    total += started.elapsed();
                    assert!(
                        r.facts.lookup_errors.is_empty(),
                        "{:?}",
                        r.facts.lookup_errors
                    );
                }
                total
            })
        })
    });
    let other: IpAddr = "176.112.200.1".parse().expect("ip");
    group.bench_function("cold_50ms_upstreams_known_as", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let l = build(&config).await.expect("lookup").0;
                    l.facts(vk).await; // learns AS47764's name
                    let started = Instant::now();
                    let r = l.facts(other).await;
                    total += started.elapsed();
                    assert_eq!(r.facts.as_desc.as_deref(), Some("VK-AS, RU"));
                }
                total
            })
        })
    });
    // The table names AS47764 (from a range of its own: names are found by AS number).
    let table_dir = tempfile::tempdir().expect("tempdir");
    let table = table_dir.path().join("ip2asn-v4.tsv");
    std::fs::write(&table, "10.0.0.0\t10.0.0.255\t47764\tRU\tVK-AS, RU\n").expect("table");
    let mut with_table = config.clone();
    with_table.lookup.asn_table = vec![table];
    with_table.lookup.asn_table_use = AsnTableUse::AsNames;
    group.bench_function("cold_50ms_upstreams_asn_table_names", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let l = build(&with_table).await.expect("lookup").0;
                    let started = Instant::now();
                    let r = l.facts(vk).await;
                    total += started.elapsed();
                    assert!(
                        r.facts.lookup_errors.is_empty(),
                        "{:?}",
                        r.facts.lookup_errors
                    );
                    assert_eq!(r.facts.as_desc.as_deref(), Some("VK-AS, RU"));
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
