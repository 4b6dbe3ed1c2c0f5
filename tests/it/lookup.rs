//! Lookups over real DNS and HTTP on loopback, against the fakes of `testworld` (with Redis:
//! `tests/redis/lookup.rs`).

mod world;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use badclients::app::lookup as build;
use badclients::config::Config;
use badclients::lookup::{Lookup, Provenance, Source};
use testkit::{badclients, badclients_async, stdout, ListDir};
use testworld::{
    contract_world, Fault, RdapFault, Reply, RrType, RunningWorld, World, Zone, CONTRACT_LOGINS,
};
use world::{config_file, config_for, contract};

async fn lookup(config: &Config) -> Lookup {
    build(config).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_five_contract_logins_byte_for_byte_through_the_binary() {
    let world = contract().await;
    let dir = ListDir::new();
    let cfg = config_file(&world, &dir, "");
    for login in CONTRACT_LOGINS {
        let ip = login.ip.to_string();
        let out = tokio::task::spawn_blocking({
            let (cfg, dir) = (cfg.clone(), dir.path().to_path_buf());
            move || {
                badclients(
                    &[
                        "check",
                        &ip,
                        "--user",
                        login.user,
                        "--service",
                        login.service,
                        "--config",
                        cfg.to_str().unwrap(),
                    ],
                    &dir,
                )
            }
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(stdout(&out), format!("{}\n", login.audit_line));
    }
    // The reserved address was not looked up upstream (only its PTR).
    let reserved = &CONTRACT_LOGINS[1];
    assert_eq!(
        world.dns.queries_for(&reserved.origin_name(), RrType::Txt),
        0
    );
    assert_eq!(world.dns.queries_for(&reserved.ptr_name(), RrType::Ptr), 1);
    assert_eq!(
        world.rdap.last_accept().as_deref(),
        Some("application/rdap+json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ip_in_the_same_network_costs_no_origin_or_rdap_query() {
    let world = contract().await;
    let l = lookup(&config_for(&world, 1000)).await;
    let first = l.facts("209.85.218.15".parse().unwrap()).await;
    assert!(
        first.facts.lookup_errors.is_empty(),
        "{:?}",
        first.facts.lookup_errors
    );
    assert_eq!(l.upstream_queries(Source::Origin), 1);
    assert_eq!(l.upstream_queries(Source::Rdap), 1);
    let second = l.facts("209.85.218.53".parse().unwrap()).await;
    assert_eq!(l.upstream_queries(Source::Origin), 1);
    assert_eq!(l.upstream_queries(Source::Rdap), 1);
    assert_eq!(l.upstream_queries(Source::AsName), 1);
    assert_eq!(second.facts.net_name.as_deref(), Some("GOOGLE"));
    assert_eq!(
        second.facts.host.as_deref(),
        Some("mail-ej1-f53.google.com")
    );
    let origin = second
        .sources
        .iter()
        .find(|s| s.source == Source::Origin)
        .unwrap();
    assert_eq!(origin.provenance, Provenance::Cache);
    // Another address inside 209.85.128.0/17 but outside the /24: still cached.
    l.facts("209.85.129.1".parse().unwrap()).await;
    assert_eq!(l.upstream_queries(Source::Origin), 1);
    assert_eq!(l.upstream_queries(Source::Rdap), 1);
}

/// One source's fault: the lookup ends within the deadline plus a margin, the other
/// facts are there, the failure is named, and nothing wrong is cached.
async fn fault_case(
    name: &str,
    inject: impl FnOnce(&RunningWorld),
    heal: impl FnOnce(&RunningWorld),
    want_error: &str,
) {
    let world = contract().await;
    let deadline = 400;
    let l = lookup(&config_for(&world, deadline)).await;
    let ip: IpAddr = "176.112.169.218".parse().unwrap();
    inject(&world);
    let started = Instant::now();
    let r = l.facts(ip).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(deadline + 250),
        "{name}: took {took:?}"
    );
    assert!(
        r.facts.lookup_errors.iter().any(|e| e == want_error),
        "{name}: {:?}",
        r.facts.lookup_errors
    );
    // The healthy sources still answered.
    if !want_error.starts_with("ptr") {
        assert_eq!(r.facts.host.as_deref(), Some("rimap26.i.mail.ru"), "{name}");
    }
    heal(&world);
    // Wait for a late answer (if any) to land, then ask again: the truth, not a cached error.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = l.facts(ip).await;
    assert!(
        again.facts.lookup_errors.is_empty(),
        "{name}: {:?}",
        again.facts.lookup_errors
    );
    assert_eq!(again.facts.net_name.as_deref(), Some("VK-FRONT"), "{name}");
    assert_eq!(again.facts.as_desc.as_deref(), Some("VK-AS, RU"), "{name}");
}

const ORIGIN: &str = "218.169.112.176.origin.asn.cymru.com.";
const AS_NAME: &str = "AS47764.asn.cymru.com.";
const RDAP_PATH: &str = "/ripe/ip/176.112.169.218";

fn rdap_ok(w: &RunningWorld) {
    let body = testworld::contract_rdap_body("176.112.169.218".parse().unwrap()).unwrap();
    w.rdap.route(RDAP_PATH, Reply::json_value(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_faults_cost_at_most_the_deadline() {
    for (fault, kind) in [
        (Fault::Timeout, "timeout"),
        (Fault::ServFail, "failed"),
        (Fault::Garbage, "failed"),
        (Fault::Delay(Duration::from_secs(3)), "timeout"),
    ] {
        let f = fault;
        fault_case(
            &format!("origin {fault:?}"),
            move |w| w.dns.set_fault(ORIGIN, f),
            |w| w.dns.clear_fault(ORIGIN),
            &format!("origin:{kind}"),
        )
        .await;
        let f = fault;
        fault_case(
            &format!("as name {fault:?}"),
            move |w| w.dns.set_fault(AS_NAME, f),
            |w| w.dns.clear_fault(AS_NAME),
            &format!("as_name:{kind}"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_txt_is_an_error_for_that_source_only() {
    fault_case(
        "garbage origin TXT",
        |w| {
            w.dns.update(|z: &mut Zone| {
                z.txt(ORIGIN, &["garbage"]);
            })
        },
        |w| {
            w.dns.update(|z: &mut Zone| {
                z.txt(
                    ORIGIN,
                    &["47764 | 176.112.168.0/21 | RU | ripencc | 2010-10-13"],
                );
            })
        },
        "origin:malformed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdap_faults_cost_at_most_the_deadline() {
    for (fault, kind) in [
        (RdapFault::Status(500), "http_status"),
        (RdapFault::Hang, "timeout"),
        (RdapFault::Truncated, "transport"),
        (RdapFault::Oversized(5 << 20), "too_large"),
        (RdapFault::RedirectLoop, "redirects"),
        (RdapFault::NotJson, "bad_json"),
    ] {
        let f = fault.clone();
        fault_case(
            &format!("rdap {fault:?}"),
            move |w| w.rdap.route(RDAP_PATH, Reply::fault(f)),
            rdap_ok,
            &format!("rdap:{kind}"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_backs_off_the_registry_and_serves_stale() {
    let world = contract().await;
    let mut cfg = config_for(&world, 500);
    cfg.cache.ttl_secs = 0; // every entry is stale at once
    let l = lookup(&cfg).await;
    let vk: IpAddr = "176.112.169.218".parse().unwrap();
    let first = l.facts(vk).await;
    assert_eq!(first.facts.net_name.as_deref(), Some("VK-FRONT"));
    world.rdap.route(
        RDAP_PATH,
        Reply::fault(RdapFault::RateLimited {
            retry_after_secs: 120,
        }),
    );
    // Stale entries are served at once; the refresh in the background meets the 429.
    let second = l.facts(vk).await;
    assert_eq!(second.facts.net_name.as_deref(), Some("VK-FRONT"));
    let rdap = second
        .sources
        .iter()
        .find(|s| s.source == Source::Rdap)
        .unwrap();
    assert_eq!(rdap.provenance, Provenance::Stale);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let requests = world.rdap.total_requests();
    assert!(requests >= 2, "the background refresh met the 429");
    // Another RIPE network (IANA's bootstrap names RIPE for 176/8): no request while
    // backing off, and the error says why.
    let other = l.facts("176.112.200.1".parse().unwrap()).await;
    assert!(
        other
            .facts
            .lookup_errors
            .iter()
            .any(|e| e == "rdap:backoff"),
        "{:?}",
        other.facts.lookup_errors
    );
    assert_eq!(world.rdap.requests_for("/ripe/ip/176.112.200.1"), 0);
    assert_eq!(world.rdap.total_requests(), requests);
    // The other sources still answered.
    assert_eq!(other.facts.as_desc, None);
    assert!(other
        .facts
        .lookup_errors
        .iter()
        .all(|e| !e.to_string().starts_with("ptr")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_of_one_network_are_merged() {
    // 1,000 distinct IPs over 10 /24 networks, all asked before any answer arrives.
    let mut zone = Zone::new();
    let routes = {
        let mut r = testworld::Routes::new();
        for n in 0..10u8 {
            let net: IpAddr = format!("176.112.{n}.0").parse().unwrap();
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
            r.route_prefix(&format!("/ripe/ip/176.112.{n}."), Reply::json_value(&body));
        }
        r
    };
    zone.cymru_asn(47764, "47764 | RU | ripencc | 2010-10-13 | VK-AS, RU");
    zone.set_latency(Duration::from_millis(50));
    let world = World { zone, rdap: routes }.start().await.unwrap();
    // The deadline is far beyond the fake's latency: this test is about merging, and on a
    // busy machine 1,000 lookups may take seconds to be scheduled.
    let l = lookup(&config_for(&world, 30_000)).await;
    let mut tasks = Vec::new();
    for n in 0..10u8 {
        for h in 0..100u8 {
            let l = l.clone();
            let ip: IpAddr = format!("176.112.{n}.{h}").parse().unwrap();
            tasks.push(tokio::spawn(async move { l.facts(ip).await }));
        }
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert!(
            r.facts.lookup_errors.is_empty(),
            "{:?}",
            r.facts.lookup_errors
        );
        assert!(r.facts.net_name.as_deref().unwrap().starts_with("NET-"));
    }
    let origin_queries = world
        .dns
        .counters()
        .names()
        .iter()
        .filter(|n| n.ends_with("origin.asn.cymru.com."))
        .count();
    assert!(
        l.upstream_queries(Source::Origin) <= 10,
        "{}",
        l.upstream_queries(Source::Origin)
    );
    assert!(origin_queries <= 10, "{origin_queries}");
    assert!(
        world.rdap.total_requests() <= 10,
        "{}",
        world.rdap.total_requests()
    );
    assert_eq!(l.upstream_queries(Source::AsName), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_what_was_learned() {
    let world = contract().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_for(&world, 1000);
    cfg.cache.memory_only = false;
    cfg.cache.path = Some(dir.path().join("cache.redb"));
    {
        let l = lookup(&cfg).await;
        l.facts("176.112.169.218".parse().unwrap()).await;
        // Let the background writer store it.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    world.dns.reset_counters();
    world.rdap.reset_counters();
    // The first instance's background writer holds the file until it sees the lookup gone
    // (a moment after the drop); a restarted process opens it once that is over.
    let deadline = Instant::now() + Duration::from_secs(5);
    let l = loop {
        match build(&cfg).await {
            Ok((l, ..)) => break l,
            Err(err) if Instant::now() < deadline && format!("{err:?}").contains("AlreadyOpen") => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(err) => panic!("{err:?}"),
        }
    };
    let r = l.facts("176.112.169.218".parse().unwrap()).await;
    assert_eq!(r.facts.net_name.as_deref(), Some("VK-FRONT"));
    assert_eq!(r.facts.as_desc.as_deref(), Some("VK-AS, RU"));
    assert_eq!(world.dns.total_queries(), 0);
    assert_eq!(world.rdap.total_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_lookup_end_to_end() {
    let mut world = contract_world();
    let ip: IpAddr = "2001:4860:4860::8888".parse().unwrap();
    world
        .zone
        .cymru_origin(ip, "15169 | 2001:4860::/32 | US | arin | 2005-03-14");
    world.zone.ptr(ip, "dns.google");
    let body = testworld::fixtures::rdap_json("arin-2001_4860_4860__8888.json").unwrap();
    world
        .rdap
        .route("/arin/ip/2001:4860:4860::8888", Reply::json_value(&body));
    let world = world.start().await.unwrap();
    let l = lookup(&config_for(&world, 1000)).await;
    let r = l.facts(ip).await;
    assert!(
        r.facts.lookup_errors.is_empty(),
        "{:?}",
        r.facts.lookup_errors
    );
    assert_eq!(r.facts.host.as_deref(), Some("dns.google"));
    assert_eq!(r.facts.asn.map(|a| a.0), Some(15169));
    assert_eq!(r.facts.as_desc.as_deref(), Some("GOOGLE, US"));
    assert_eq!(r.facts.net_name.as_deref(), Some("GOOGLE-IPV6"));
    assert_eq!(r.facts.net_cc, None);
    assert_eq!(r.facts.entities, vec!["GOGL", "ZG39-ARIN"]);
    // Another address in the same /32 network: cached.
    l.facts("2001:4860:4860::8844".parse().unwrap()).await;
    assert_eq!(l.upstream_queries(Source::Origin), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_cache_file_is_moved_aside_and_rebuilt() {
    let world = contract().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.redb");
    std::fs::write(&path, b"this is not a redb file, it is garbage").unwrap();
    let mut cfg = config_for(&world, 1000);
    cfg.cache.memory_only = false;
    cfg.cache.path = Some(path.clone());
    let (l, warnings) = build(&cfg).await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(".corrupt-"), "{warnings:?}");
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .count();
    assert_eq!(aside, 1);
    let r = l.facts("176.112.169.218".parse().unwrap()).await;
    assert_eq!(r.facts.net_name.as_deref(), Some("VK-FRONT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_stats_and_purge_through_the_binary() {
    let world = contract().await;
    let dir = ListDir::new();
    let cfg = config_file(&world, &dir, "");
    let c = cfg.to_str().unwrap().to_string();
    let out = badclients_async(
        &["lookup", "176.112.169.218", "209.85.218.15", "--config", &c],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("176.112.169.218: host=rimap26.i.mail.ru, asn=AS47764"),
        "{text}"
    );
    assert!(text.contains("rdap: upstream"), "{text}");
    let out = badclients_async(&["cache", "stats", "--config", &c], dir.path()).await;
    let stats = stdout(&out);
    assert!(stats.contains("origin   2 entries"), "{stats}");
    assert!(stats.contains("ptr      2 entries"), "{stats}");
    let out = badclients_async(
        &["cache", "purge", "--ip", "176.112.169.218", "--config", &c],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // origin, rdap and ptr of that address.
    assert!(
        stdout(&out).starts_with("removed 3 entries"),
        "{}",
        stdout(&out)
    );
    let out = badclients_async(&["cache", "stats", "--config", &c], dir.path()).await;
    assert!(
        stdout(&out).contains("origin   1 entries"),
        "{}",
        stdout(&out)
    );
    // The purged address is asked again; the other one comes from the cache file.
    world.dns.reset_counters();
    let out = badclients_async(
        &["lookup", "176.112.169.218", "209.85.218.15", "--config", &c],
        dir.path(),
    )
    .await;
    assert!(stdout(&out).contains("origin: cache"), "{}", stdout(&out));
    assert_eq!(
        world
            .dns
            .queries_for("218.169.112.176.origin.asn.cymru.com.", RrType::Txt),
        1
    );
    assert_eq!(
        world
            .dns
            .queries_for("15.218.85.209.origin.asn.cymru.com.", RrType::Txt),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asn_table_for_names_keeps_team_cymru_for_the_origin_in_one_round_trip() {
    let world = contract().await;
    let mut cfg = config_for(&world, 1000);
    // The table knows AS47764 by a name of its own, from a range far from the login's:
    // names are found by AS number. It has no range of Google's AS15169.
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("ip2asn-v4.tsv");
    std::fs::write(
        &table,
        "10.0.0.0\t10.0.0.255\t47764\tRU\tVK-FROM-THE-TABLE\n",
    )
    .unwrap();
    cfg.lookup.asn_table = vec![table];
    cfg.lookup.asn_table_use = badclients::config::AsnTableUse::AsNames;
    let l = lookup(&cfg).await;
    let r = l.facts("176.112.169.218".parse().unwrap()).await;
    // The origin is Team Cymru's (asked live), the name the table's.
    assert_eq!(r.facts.asn.map(|a| a.0), Some(47764));
    assert_eq!(r.facts.as_cc.as_deref(), Some("RU"));
    assert_eq!(r.facts.as_desc.as_deref(), Some("VK-FROM-THE-TABLE"));
    let provenance = |source| {
        r.sources
            .iter()
            .find(|s| s.source == source)
            .map(|s| s.provenance)
    };
    assert_eq!(provenance(Source::AsName), Some(Provenance::Table));
    assert_ne!(provenance(Source::Origin), Some(Provenance::Table));
    assert_eq!(l.upstream_queries(Source::Origin), 1);
    assert_eq!(l.upstream_queries(Source::AsName), 0);
    assert_eq!(
        world.dns.queries_for("AS47764.asn.cymru.com.", RrType::Txt),
        0
    );
    // An AS the table does not name is named by Team Cymru, as without a table.
    let r = l.facts("209.85.218.15".parse().unwrap()).await;
    assert_eq!(r.facts.asn.map(|a| a.0), Some(15169));
    assert!(r.facts.as_desc.is_some(), "{:?}", r.facts);
    assert_eq!(l.upstream_queries(Source::AsName), 1);
    assert_eq!(
        world.dns.queries_for("AS15169.asn.cymru.com.", RrType::Txt),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_asn_table_replaces_team_cymru() {
    let world = contract().await;
    let mut cfg = config_for(&world, 1000);
    cfg.lookup.asn_table = vec![
        testkit::fixture("asn/asn-ipv4.csv.gz"),
        testkit::fixture("asn/asn-ipv6.csv.gz"),
    ];
    let l = lookup(&cfg).await;
    // The VK address: AS from the table, network from RDAP, host from DNS.
    let r = l.facts("176.112.169.218".parse().unwrap()).await;
    assert_eq!(r.facts.asn.map(|a| a.0), Some(47764));
    assert!(r.facts.as_desc.is_some());
    assert_eq!(r.facts.net_name.as_deref(), Some("VK-FRONT"));
    assert_eq!(r.facts.host.as_deref(), Some("rimap26.i.mail.ru"));
    let r = l.facts("1.0.0.1".parse().unwrap()).await;
    assert_eq!(r.facts.asn.map(|a| a.0), Some(13335));
    assert_eq!(r.facts.as_desc.as_deref(), Some("Cloudflare, Inc."));
    // The answer says where it came from: the table, not the cache (as it said before).
    for source in [Source::Origin, Source::AsName] {
        let report = r.sources.iter().find(|s| s.source == source).unwrap();
        assert_eq!(report.provenance, Provenance::Table, "{report:?}");
    }
    // Team Cymru was never asked.
    assert_eq!(l.upstream_queries(Source::Origin), 0);
    assert_eq!(l.upstream_queries(Source::AsName), 0);
    let cymru = world
        .dns
        .counters()
        .names()
        .into_iter()
        .filter(|n| n.contains("cymru"))
        .count();
    assert_eq!(cymru, 0);
    // A broken table is an error at start, naming the file.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("empty.tsv");
    std::fs::write(&bad, "").unwrap();
    cfg.lookup.asn_table = vec![bad];
    let err = match build(&cfg).await {
        Ok(_) => panic!("an empty table must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("empty.tsv") || err.contains("no usable"),
        "{err}"
    );
}
