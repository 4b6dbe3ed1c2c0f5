//! Memory with every cloud feed of tests/fixtures/cloud and a GeoIP City + ASN database
//! loaded (Linux: VmRSS from /proc/self/status).
//!
//! Run: `cargo run --release --example feeds_rss`

use std::path::Path;

use badclients::cloud::{CloudRanges, Provider, ProviderFeed};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let before = rss_kib();
    let mut ranges = CloudRanges::new();
    for (provider, file) in [
        (Provider::Aws, "cloud/aws-ip-ranges.json"),
        (Provider::Gcp, "cloud/gcp-cloud.json"),
        (Provider::Azure, "cloud/azure-ServiceTags_Public.json"),
        (Provider::M365, "cloud/m365-endpoints.json"),
        (Provider::Linode, "cloud/linode-geofeed.csv"),
        (Provider::Oracle, "cloud/oracle-cloud-ip-ranges.json"),
        (Provider::DigitalOcean, "cloud/digitalocean.csv"),
    ] {
        let bytes = std::fs::read(fixtures.join(file)).expect("feed");
        ranges.extend(provider.parse(&bytes).expect("valid feed"));
    }
    let geoip = badclients::geoip::GeoIp::open(
        Some(&fixtures.join("mmdb/GeoIP2-City-Test.mmdb")),
        Some(&fixtures.join("mmdb/GeoLite2-ASN-Test.mmdb")),
    )
    .expect("GeoIP");
    let after = rss_kib();
    println!(
        "{} prefixes from 7 feeds + GeoIP test databases: RSS {} MiB (+{} MiB for the feeds and databases)",
        ranges.len(),
        after / 1024,
        after.saturating_sub(before) / 1024
    );
    std::hint::black_box((&ranges, &geoip));
}
