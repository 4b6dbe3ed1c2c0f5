//! Load script for the lookups, against the `testworld` fakes on loopback (50 ms latency):
//!
//! 1. a burst of 1,000 lookups for 1,000 distinct IPs in 10 /24 networks, all started
//!    before any answer arrives: how many origin and RDAP queries reach the fakes;
//! 2. warm lookups from 64 concurrent tasks: lookups per second.
//!
//! Run: `cargo run --release --example lookup_load`

use std::net::IpAddr;
use std::time::{Duration, Instant};

use badclients::app::lookup as build;
use badclients::config::Config;
use badclients::lookup::Source;
use testworld::{Reply, Routes, World, Zone};

const LATENCY: Duration = Duration::from_millis(50);

fn world() -> World {
    let mut zone = Zone::new();
    let mut routes = Routes::new();
    for n in 0..10u8 {
        let net: IpAddr = format!("176.112.{n}.0").parse().expect("ip");
        zone.cymru_origin_net(
            net,
            24,
            &format!("47764 | 176.112.{n}.0/24 | RU | ripencc | 2010-10-13"),
        );
        zone.ptr_net(net, 24, "host.example");
        let body = serde_json::json!({
            "objectClassName": "ip network", "handle": format!("NET-{n}"),
            "startAddress": format!("176.112.{n}.0"), "endAddress": format!("176.112.{n}.255"),
            "ipVersion": "v4", "name": format!("NET-{n}"), "country": "RU", "entities": []
        });
        routes.route_prefix(
            &format!("/ripe/ip/176.112.{n}."),
            Reply::json_value(&body).with_fault(testworld::RdapFault::Delay(LATENCY)),
        );
    }
    zone.cymru_asn(47764, "47764 | RU | ripencc | 2010-10-13 | VK-AS, RU");
    zone.set_latency(LATENCY);
    World { zone, rdap: routes }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let world = world().start().await.expect("world");
    let mut config = Config::default();
    config.lookup.dns_servers = vec![world.dns.addr()];
    config.lookup.deadline_ms = 2000;
    config
        .rdap
        .base_urls
        .insert("ripencc".into(), format!("{}ripe/", world.rdap.base_url()));
    config.cache.memory_only = true;
    let lookup = build(&config).await.expect("lookup").0;

    let ips: Vec<IpAddr> = (0..10u8)
        .flat_map(|n| (0..100u8).map(move |h| format!("176.112.{n}.{h}").parse().expect("ip")))
        .collect();
    let started = Instant::now();
    let tasks: Vec<_> = ips
        .iter()
        .map(|ip| {
            let (l, ip) = (lookup.clone(), *ip);
            tokio::spawn(async move { l.facts(ip).await })
        })
        .collect();
    let mut errors = 0;
    for t in tasks {
        errors += t.await.expect("task").facts.lookup_errors.len();
    }
    println!(
        "burst: 1000 lookups (10 /24 networks) in {:.1} ms; origin queries {}, RDAP requests {}, \
         AS-name queries {}, PTR queries {}; lookup errors {errors}",
        started.elapsed().as_secs_f64() * 1e3,
        lookup.upstream_queries(Source::Origin),
        world.rdap.total_requests(),
        lookup.upstream_queries(Source::AsName),
        lookup.upstream_queries(Source::Ptr),
    );

    let per_task = 20_000;
    let tasks = 64;
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (l, ips) = (lookup.clone(), ips.clone());
            tokio::spawn(async move {
                for i in 0..per_task {
                    let ip = ips[(t * 7 + i) % ips.len()];
                    std::hint::black_box(l.facts(ip).await);
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    let took = started.elapsed();
    let n = (tasks * per_task) as f64;
    println!(
        "warm: {} lookups from {tasks} tasks in {:.2} s = {:.0} lookups/s",
        tasks * per_task,
        took.as_secs_f64(),
        n / took.as_secs_f64()
    );
}
