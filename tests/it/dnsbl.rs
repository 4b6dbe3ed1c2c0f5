//! DNS blocklists against the fake DNS server: listed, not listed, weights, return codes,
//! a zone that times out, IPv6.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use badclients::app::lookup as build;
use badclients::config::{Config, LoadedConfig};
use badclients::decision::Verdict;
use badclients::dnsbl::{query_name, DnsblZone};
use testworld::{FakeDns, Fault, Zone};

fn zone(name: &str, weight: f64, codes: &[&str]) -> DnsblZone {
    DnsblZone {
        zone: name.into(),
        weight,
        codes: codes.iter().map(|c| c.parse().unwrap()).collect(),
    }
}

const LISTED: &str = "192.88.100.1";
const LISTED_V6: &str = "2a00:1450:4001::25";
const CLEAN: &str = "8.8.4.4";
const HALF: &str = "9.9.9.9";

async fn world() -> FakeDns {
    let mut z = Zone::new();
    let a = |ip: &str, zone: &str| query_name(ip.parse::<IpAddr>().unwrap(), zone);
    z.a(&a(LISTED, "a.example"), "127.0.0.2".parse().unwrap());
    z.a(&a(LISTED, "codes.example"), "127.0.0.2".parse().unwrap());
    z.a(&a(LISTED_V6, "a.example"), "127.0.0.3".parse().unwrap());
    z.a(&a(HALF, "b.example"), "127.0.0.2".parse().unwrap());
    z.a(&a(HALF, "d.example"), "127.0.0.5".parse().unwrap());
    z.set_fault_under("slow.example.", Fault::Timeout);
    FakeDns::start(z).await.unwrap()
}

fn config(dns: &FakeDns, zones: Vec<DnsblZone>) -> Config {
    let mut c = Config::default();
    c.lookup.dns_servers = vec![dns.addr()];
    c.lookup.deadline_ms = 400;
    // RDAP is not the point here: point it at a closed port so it fails fast.
    for r in ["arin", "ripencc", "apnic", "lacnic", "afrinic"] {
        c.rdap
            .base_urls
            .insert(r.into(), "http://127.0.0.1:9/".into());
    }
    c.cache.memory_only = true;
    c.dnsbl = zones;
    c
}

async fn decide(c: &Config, ip: &str) -> (Verdict, Option<String>, Vec<String>, Vec<String>) {
    let (lookup, _) = build(c).await.unwrap();
    let r = lookup.facts(ip.parse().unwrap()).await;
    let loaded = LoadedConfig {
        config: Config {
            list_path: std::env::temp_dir(),
            ..c.clone()
        },
        path: None,
    };
    let (policy, _) = badclients::app::policy(&loaded, None).unwrap();
    let d = policy.decide("u", "imap", &r.facts);
    (
        d.verdict,
        d.hit().map(|h| h.label.clone()),
        r.facts.dnsbl.iter().map(ToString::to_string).collect(),
        r.facts
            .lookup_errors
            .iter()
            .map(ToString::to_string)
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_address_is_blocked_and_the_fact_recorded() {
    let dns = world().await;
    let c = config(&dns, vec![zone("a.example", 1.0, &[])]);
    let (verdict, matched, facts, _) = decide(&c, LISTED).await;
    assert_eq!(verdict, Verdict::Block);
    assert_eq!(matched.as_deref(), Some("dnsbl:a.example"));
    assert_eq!(facts, vec!["a.example:127.0.0.2"]);
    let (verdict, _, facts, _) = decide(&c, CLEAN).await;
    assert_eq!(verdict, Verdict::Allow);
    assert!(facts.is_empty());
    let (verdict, matched, facts, _) = decide(&c, LISTED_V6).await;
    assert_eq!(verdict, Verdict::Block);
    assert_eq!(matched.as_deref(), Some("dnsbl:a.example"));
    assert_eq!(facts, vec!["a.example:127.0.0.3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_add_up_to_the_threshold() {
    let dns = world().await;
    let zones = vec![zone("b.example", 0.5, &[]), zone("d.example", 0.6, &[])];
    let mut c = config(&dns, zones);
    c.dnsbl_threshold = 1.0;
    let (verdict, matched, facts, _) = decide(&c, HALF).await;
    assert_eq!(facts, vec!["b.example:127.0.0.2", "d.example:127.0.0.5"]);
    assert_eq!(verdict, Verdict::Block);
    assert_eq!(
        matched.as_deref(),
        Some("dnsbl:d.example"),
        "the heaviest zone names it"
    );
    c.dnsbl_threshold = 1.5;
    let (verdict, _, facts, _) = decide(&c, HALF).await;
    assert_eq!(verdict, Verdict::Allow, "1.1 < 1.5");
    assert_eq!(facts.len(), 2, "the facts are kept either way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_return_codes_count() {
    let dns = world().await;
    let c = config(&dns, vec![zone("codes.example", 1.0, &["127.0.0.4"])]);
    let (verdict, _, facts, _) = decide(&c, LISTED).await;
    assert_eq!(facts, vec!["codes.example:127.0.0.2"]);
    assert_eq!(verdict, Verdict::Allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_that_times_out_is_an_error_for_that_zone_only() {
    let dns = world().await;
    let c = config(
        &dns,
        vec![zone("slow.example", 1.0, &[]), zone("a.example", 1.0, &[])],
    );
    let started = Instant::now();
    let (verdict, matched, facts, errors) = decide(&c, LISTED).await;
    assert!(
        started.elapsed() < Duration::from_millis(400 + 400),
        "{:?}",
        started.elapsed()
    );
    assert!(
        errors.contains(&"dnsbl.slow.example:timeout".to_string()),
        "{errors:?}"
    );
    assert_eq!(facts, vec!["a.example:127.0.0.2"]);
    assert_eq!(verdict, Verdict::Block);
    assert_eq!(matched.as_deref(), Some("dnsbl:a.example"));
}
