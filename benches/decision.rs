//! One decision against large lists, and loading those lists.
//!
//! Lists: 100,000 real CIDRs (the Azure, AWS, Google Cloud, Oracle, Linode and
//! DigitalOcean feeds in tests/fixtures/cloud, filled up with prefixes of the IP→ASN
//! table in tests/fixtures/asn), 10,000 rev_host patterns, 10,000 ASNs, 1,000 entities.
//!
//! Run: `cargo bench --bench decision`

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use badclients::decision::Policy;
use badclients::facts::{Asn, Facts};
use badclients::lists::ListSet;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ipnet::Ipv4Subnets;

const CIDRS: usize = 100_000;
const PATTERNS: usize = 10_000;
const ASNS: usize = 10_000;
const ENTITIES: usize = 1_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn json(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join(path)).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn strings_at(v: &serde_json::Value, pointer: &[&str], out: &mut BTreeSet<String>) {
    match (v, pointer.split_first()) {
        (serde_json::Value::Array(items), _) => {
            items.iter().for_each(|i| strings_at(i, pointer, out));
        }
        (serde_json::Value::String(s), None) => {
            out.insert(s.clone());
        }
        (serde_json::Value::Object(o), Some((key, rest))) => {
            if let Some(child) = o.get(*key) {
                strings_at(child, rest, out);
            }
        }
        _ => {}
    }
}

/// 100,000 distinct real prefixes.
fn real_cidrs() -> Vec<String> {
    let mut set = BTreeSet::new();
    let azure = json("cloud/azure-ServiceTags_Public.json");
    strings_at(
        &azure["values"],
        &["properties", "addressPrefixes"],
        &mut set,
    );
    let aws = json("cloud/aws-ip-ranges.json");
    strings_at(&aws["prefixes"], &["ip_prefix"], &mut set);
    strings_at(&aws["ipv6_prefixes"], &["ipv6_prefix"], &mut set);
    let gcp = json("cloud/gcp-cloud.json");
    strings_at(&gcp["prefixes"], &["ipv4Prefix"], &mut set);
    strings_at(&gcp["prefixes"], &["ipv6Prefix"], &mut set);
    for csv in ["cloud/linode-geofeed.csv", "cloud/digitalocean.csv"] {
        let text = std::fs::read_to_string(fixtures().join(csv)).expect("fixture");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some(p) = line.split(',').next().filter(|p| p.contains('/')) {
                set.insert(p.to_string());
            }
        }
    }
    let gz = std::fs::File::open(fixtures().join("asn/asn-ipv4.csv.gz")).expect("fixture");
    let reader = BufReader::new(flate2::read::GzDecoder::new(gz));
    for line in reader.lines() {
        if set.len() >= CIDRS {
            break;
        }
        let line = line.expect("gzip");
        let mut f = line.split(',');
        let (Some(a), Some(b)) = (f.next(), f.next()) else {
            continue;
        };
        if let (Ok(a), Ok(b)) = (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>()) {
            set.extend(Ipv4Subnets::new(a, b, 0).map(|n| n.to_string()));
        }
    }
    set.into_iter().take(CIDRS).collect()
}

fn write_lists(dir: &Path) {
    let cidrs = real_cidrs();
    assert_eq!(cidrs.len(), CIDRS);
    std::fs::write(dir.join("ip_net.deny.lst"), cidrs.join("\n")).expect("write");
    let shapes = [
        "mail%-[%w%-]+%.host{i}%.example%.com",
        "%d+%-%d+%-%d+%-%d+%.dyn{i}%.example%.net",
        "ec2%-%d+%-%d+%-%d+%-%d+%.compute{i}%.amazonaws%.com",
        "node%-eu%-%d+%.cloud{i}%.example%.org",
        "'static{i}.Provider.example",
    ];
    let patterns: Vec<String> = (0..PATTERNS)
        .map(|i| shapes[i % shapes.len()].replace("{i}", &i.to_string()))
        .collect();
    std::fs::write(dir.join("rev_host.deny.lst"), patterns.join("\n")).expect("write");
    let asns: Vec<String> = (0..ASNS).map(|i| format!("AS{}", 100_000 + i)).collect();
    std::fs::write(dir.join("asn.deny.lst"), asns.join("\n")).expect("write");
    let entities: Vec<String> = (0..ENTITIES).map(|i| format!("ORG-X{i}-RIPE")).collect();
    std::fs::write(dir.join("entity.deny.lst"), entities.join("\n")).expect("write");
}

fn facts(ip: &str, host: &str) -> Facts {
    Facts {
        host: Some(host.into()),
        asn: Some(Asn(47764)),
        as_cc: Some("RU".into()),
        as_desc: Some("VK-AS, RU".into()),
        net_name: Some("VK-FRONT".into()),
        net_cc: Some("RU".into()),
        entities: [
            "EY1327-RIPE",
            "ORG-LLCn4-RIPE",
            "RIPE-NCC-END-MNT",
            "VKCOMPANY-MNT",
            "VKNC",
        ]
        .map(String::from)
        .to_vec(),
        ..Facts::unknown(ip.parse::<IpAddr>().expect("ip"))
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_lists(dir.path());

    let mut group = c.benchmark_group("lists");
    group.sample_size(10);
    group.bench_function("load_100k_cidrs_10k_patterns_10k_asns_1k_entities", |b| {
        b.iter(|| {
            let (set, report) = ListSet::load(dir.path());
            assert_eq!(report.errors(), 0);
            black_box(set)
        })
    });
    group.finish();

    let (lists, report) = ListSet::load(dir.path());
    assert_eq!(report.errors(), 0, "{:?}", report.diagnostics.first());
    let policy = Policy {
        lists,
        ..Policy::default()
    };
    let cases = [
        // Passes every list without a match: the most work a decision does.
        ("no_match", facts("176.112.169.218", "rimap26.i.mail.ru")),
        ("no_match_ipv6", facts("2a02:6b8::1", "mail.example.org")),
        (
            "rev_host_hit",
            facts("176.112.169.218", "ec2-1-2-3-4.compute9997.amazonaws.com"),
        ),
        ("ip_net_hit", facts("13.64.0.1", "a.example")),
        ("entity_hit", {
            let mut f = facts("176.112.169.218", "a.example");
            f.entities.push("ORG-X999-RIPE".into());
            f
        }),
    ];
    let mut group = c.benchmark_group("decide");
    for (name, f) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(policy.decide("user", "imap", f)))
        });
    }
    group.finish();
}

/// Every fixture feed, parsed into one `CloudRanges`.
fn all_feeds() -> badclients::cloud::CloudRanges {
    use badclients::cloud::{Provider, ProviderFeed};
    let feeds = [
        (Provider::Aws, "cloud/aws-ip-ranges.json"),
        (Provider::Gcp, "cloud/gcp-cloud.json"),
        (Provider::Azure, "cloud/azure-ServiceTags_Public.json"),
        (Provider::M365, "cloud/m365-endpoints.json"),
        (Provider::Linode, "cloud/linode-geofeed.csv"),
        (Provider::Oracle, "cloud/oracle-cloud-ip-ranges.json"),
        (Provider::DigitalOcean, "cloud/digitalocean.csv"),
    ];
    let mut ranges = badclients::cloud::CloudRanges::new();
    for (provider, file) in feeds {
        let bytes = std::fs::read(fixtures().join(file)).expect("feed");
        ranges.extend(provider.parse(&bytes).expect("a valid feed"));
    }
    ranges
}

/// Issue 5: the local sources (every cloud feed, a GeoIP City and ASN database) plus the
/// decision against the big lists, as the daemon does for each login.
fn bench_with_feeds(c: &mut Criterion) {
    let mut group = c.benchmark_group("feeds");
    group.sample_size(10);
    group.bench_function("load_all_cloud_feeds", |b| {
        b.iter(|| black_box(all_feeds()))
    });
    group.finish();

    let dir = tempfile::tempdir().expect("tempdir");
    write_lists(dir.path());
    std::fs::write(
        dir.path().join("cloud.deny.lst"),
        "aws:EC2:.*\nm365:.*\ngcp:.*\n",
    )
    .expect("write");
    let (lists, _) = ListSet::load(dir.path());
    let policy = Policy {
        lists,
        ..Policy::default()
    };
    let cloud = all_feeds();
    let geoip = badclients::geoip::GeoIp::open(
        Some(&fixtures().join("mmdb/GeoIP2-City-Test.mmdb")),
        Some(&fixtures().join("mmdb/GeoLite2-ASN-Test.mmdb")),
    )
    .expect("GeoIP test databases");
    let mut group = c.benchmark_group("decide_with_feeds_and_geoip");
    for (name, ip) in [
        ("ec2_hit", "15.181.232.10"),
        ("geoip_london_no_match", "81.2.69.142"),
        ("azure_ipv4_no_list_match", "4.145.74.53"),
    ] {
        let base = facts(ip, "host.example.net");
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut f = base.clone();
                f.cloud = cloud.lookup(f.ip.reported()).into_iter().cloned().collect();
                f.maxmind = geoip.lookup(f.ip.reported()).ok().flatten();
                black_box(policy.decide("user", "imap", &f))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_with_feeds);
criterion_main!(benches);
