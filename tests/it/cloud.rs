//! Cloud provider feeds: every fixture feed parses, hand-checked addresses map to the right
//! tags, bad feeds are rejected without touching the stored one, the store survives a
//! reload, and downloads are capped and work end to end against a loopback server.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use badclients::cloud::{download, CloudError, CloudRanges, FeedStore, Provider, ProviderFeed};
use testworld::rdap::{RdapFault, Reply};
use testworld::FakeRdap;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cloud")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const FEEDS: [(Provider, &str); 8] = [
    (Provider::Aws, "aws-ip-ranges.json"),
    (Provider::Gcp, "gcp-cloud.json"),
    (Provider::Azure, "azure-ServiceTags_Public.json"),
    (Provider::M365, "m365-endpoints.json"),
    (Provider::Linode, "linode-geofeed.csv"),
    (Provider::Oracle, "oracle-cloud-ip-ranges.json"),
    (Provider::DigitalOcean, "digitalocean.csv"),
    (Provider::Gcp, "goog.json"),
];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tags(ranges: &CloudRanges, addr: &str) -> Vec<String> {
    ranges
        .lookup(ip(addr))
        .into_iter()
        .map(ToString::to_string)
        .collect()
}

fn all_fixture_ranges() -> CloudRanges {
    let mut ranges = CloudRanges::new();
    for (provider, file) in FEEDS {
        ranges.extend(provider.parse(&fixture(file)).unwrap());
    }
    ranges
}

#[test]
fn every_fixture_feed_parses_with_the_documented_count() {
    // Counts from the fixture README / counted independently with Python.
    let expected = [
        (Provider::Aws, "aws-ip-ranges.json", 8971 + 4373),
        (Provider::Gcp, "gcp-cloud.json", 782),
        (Provider::Azure, "azure-ServiceTags_Public.json", 90_493),
        (Provider::M365, "m365-endpoints.json", 36),
        (Provider::Linode, "linode-geofeed.csv", 4552),
        (Provider::Oracle, "oracle-cloud-ip-ranges.json", 944),
        (Provider::DigitalOcean, "digitalocean.csv", 1182),
        (Provider::Gcp, "goog.json", 6),
    ];
    for (provider, file, count) in expected {
        let entries = provider.parse(&fixture(file)).unwrap();
        assert_eq!(entries.len(), count, "{file}");
        assert!(
            entries.iter().all(|(_, t)| t.provider() == provider),
            "{file}"
        );
        assert!(
            entries.iter().all(|(n, _)| n.trunc() == *n),
            "{file}: host bits left"
        );
    }
}

fn m365_only() -> CloudRanges {
    let mut ranges = CloudRanges::new();
    ranges.extend(
        Provider::M365
            .parse(&fixture("m365-endpoints.json"))
            .unwrap(),
    );
    ranges
}

#[test]
fn hand_checked_addresses_map_to_their_tags() {
    let r = all_fixture_ranges();
    // AWS: 15.181.232.0/21 is listed as AMAZON and as EC2 in us-east-1.
    assert_eq!(
        tags(&r, "15.181.232.10"),
        ["aws:AMAZON:us-east-1", "aws:EC2:us-east-1"]
    );
    assert_eq!(
        tags(&r, "2600:1f69:7400::1"),
        ["aws:AMAZON:mx-central-1", "aws:EC2:mx-central-1"]
    );
    // GCP.
    assert_eq!(tags(&r, "34.35.0.1"), ["gcp:Google Cloud:africa-south1"]);
    assert_eq!(
        tags(&r, "2600:1900:8000::1"),
        ["gcp:Google Cloud:africa-south1"]
    );
    // Azure: the regional tag and the global AzureCloud share 4.175.0.0/16.
    let t = tags(&r, "4.175.1.1");
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(t.contains(&"azure:AzureCloud.westeurope".to_owned()));
    assert!(t.contains(&"azure:AzureCloud".to_owned()));
    // 4.145.74.52/30 is ActionGroup; wider AzureCloud prefixes cover it, listed after.
    let t = tags(&r, "4.145.74.53");
    assert_eq!(t.len(), 4, "{t:?}");
    assert!(t[..2].contains(&"azure:ActionGroup".to_owned()), "{t:?}");
    assert!(t[..2].contains(&"azure:ActionGroup.SoutheastAsia".to_owned()));
    assert!(t[2..].contains(&"azure:AzureCloud.southeastasia".to_owned()));
    assert!(t[2..].contains(&"azure:AzureCloud".to_owned()));
    // Microsoft 365 (hand-written fixture; 40.92.0.0/15 listed twice under Exchange).
    // Azure publishes the same Exchange Online Protection range as a service tag.
    let t = tags(&r, "40.92.1.1");
    assert!(t.contains(&"m365:Exchange".to_owned()), "{t:?}");
    assert!(
        t.contains(&"azure:EOPExternalPublishedIPs".to_owned()),
        "{t:?}"
    );
    let m365 = m365_only();
    assert_eq!(tags(&m365, "40.92.1.1"), ["m365:Exchange"]);
    assert_eq!(tags(&m365, "52.112.3.4"), ["m365:Skype"]);
    assert_eq!(tags(&m365, "2603:1006:2000::5"), ["m365:Common"]);
    assert_eq!(tags(&m365, "2603:1006::1"), ["m365:Exchange"]);
    // Linode geofeed.
    assert_eq!(tags(&r, "2600:3c00::1"), ["linode:US:Richardson"]);
    assert_eq!(tags(&r, "2600:3c0f:2::1"), ["linode:US:Richardson"]);
    assert_eq!(tags(&r, "72.14.177.9"), ["linode:US:Richardson"]);
    // Oracle.
    assert_eq!(tags(&r, "129.80.0.1"), ["oracle:OCI:us-ashburn-1"]);
    assert_eq!(
        tags(&r, "134.70.24.7"),
        [
            "oracle:OSN:us-ashburn-1",
            "oracle:OBJECT_STORAGE:us-ashburn-1"
        ]
    );
    // DigitalOcean.
    assert_eq!(tags(&r, "5.101.96.1"), ["digitalocean:NL:Amsterdam"]);
    assert_eq!(tags(&r, "24.144.80.1"), ["digitalocean:US:Santa Clara"]);
    // goog.json: service and scope absent.
    assert_eq!(tags(&r, "8.8.8.8"), ["gcp:Google"]);
    // Not in any feed.
    assert!(tags(&r, "192.0.2.1").is_empty());
    assert!(!r.contains(ip("192.0.2.1")));
    assert!(r.contains(ip("8.8.8.8")));
}

#[test]
fn ipv4_mapped_ipv6_is_looked_up_as_ipv4() {
    let r = all_fixture_ranges();
    assert_eq!(
        tags(&r, "::ffff:15.181.232.10"),
        ["aws:AMAZON:us-east-1", "aws:EC2:us-east-1"]
    );
}

#[test]
fn most_specific_prefix_comes_first() {
    let mut r = CloudRanges::new();
    let feed = br#"{"prefixes":[
        {"ip_prefix":"10.0.0.0/8","service":"AMAZON","region":"r"},
        {"ip_prefix":"10.1.0.0/16","service":"EC2","region":"r"},
        {"ip_prefix":"10.1.2.3/24","service":"S3","region":"r"}]}"#;
    r.extend(Provider::Aws.parse(feed).unwrap());
    assert_eq!(
        tags(&r, "10.1.2.200"),
        ["aws:S3:r", "aws:EC2:r", "aws:AMAZON:r"]
    );
    assert_eq!(tags(&r, "10.2.0.1"), ["aws:AMAZON:r"]);
    // 10.1.2.3/24 was masked to 10.1.2.0/24.
    assert_eq!(r.len(), 3);
}

#[test]
fn loading_all_fixture_feeds_is_fast() {
    let feeds: Vec<(Provider, Vec<u8>)> = FEEDS.iter().map(|(p, f)| (*p, fixture(f))).collect();
    let start = Instant::now();
    let mut ranges = CloudRanges::new();
    for (provider, bytes) in &feeds {
        ranges.extend(provider.parse(bytes).unwrap());
    }
    let elapsed = start.elapsed();
    eprintln!(
        "parsed and indexed {} distinct prefixes in {elapsed:?}",
        ranges.len()
    );
    assert!(ranges.len() > 50_000, "{}", ranges.len());
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn bad_feeds_are_rejected() {
    let html = b"<!DOCTYPE html><html><body>Please log in to the hotel Wi-Fi</body></html>";
    for provider in Provider::ALL {
        for bad in [&html[..], b"", b"   \n", b"{\"prefixes\": [", b"[]", b"{}"] {
            assert!(
                provider.parse(bad).is_err(),
                "{provider} accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
    let truncated = fixture("aws-ip-ranges.json");
    assert!(matches!(
        Provider::Aws.parse(&truncated[..truncated.len() / 2]),
        Err(CloudError::Json { .. })
    ));
    // A bad prefix anywhere rejects the whole feed.
    let csv = b"# comment\n192.0.2.0/24,US,US-CA,,\nnot-a-prefix,US,,,\n";
    assert!(matches!(
        Provider::Linode.parse(csv),
        Err(CloudError::BadPrefix { ref what, .. }) if what == "line 3"
    ));
    // Comments only is empty.
    assert!(matches!(
        Provider::DigitalOcean.parse(b"# nothing\n"),
        Err(CloudError::Empty { .. })
    ));
}

#[test]
fn store_keeps_the_old_feed_when_a_new_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = FeedStore::new(dir.path());
    let good = fixture("gcp-cloud.json");

    // Nothing stored yet: rejected, and says so.
    let err = store.update(Provider::Gcp, b"", "file:empty").unwrap_err();
    assert!(
        err.to_string().contains("no feed was stored before"),
        "{err}"
    );
    assert!(!store.feed_path(Provider::Gcp).exists());

    let meta = store
        .update(
            Provider::Gcp,
            &good,
            "https://www.gstatic.com/ipranges/cloud.json",
        )
        .unwrap();
    assert_eq!(meta.prefixes, 782);
    assert_eq!(meta.bytes, good.len());
    assert_eq!(meta.sha256.len(), 64);

    for bad in [
        &b"<html>captive portal</html>"[..],
        b"",
        &good[..good.len() - 10],
    ] {
        let err = store.update(Provider::Gcp, bad, "file:bad").unwrap_err();
        assert!(matches!(err, CloudError::Rejected { .. }), "{err}");
        assert!(err.to_string().contains("previous feed is kept"), "{err}");
        assert_eq!(std::fs::read(store.feed_path(Provider::Gcp)).unwrap(), good);
        assert_eq!(store.meta(Provider::Gcp).unwrap().unwrap(), meta);
    }
    // No temp files left behind.
    let names: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["gcp.json", "gcp.meta.json"], "{names:?}");
}

#[test]
fn store_survives_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = FeedStore::new(dir.path());
        store
            .update(Provider::Aws, &fixture("aws-ip-ranges.json"), "file:aws")
            .unwrap();
        store
            .update(
                Provider::Linode,
                &fixture("linode-geofeed.csv"),
                "https://geoip.linode.com/",
            )
            .unwrap();
    }
    let (ranges, warnings) = FeedStore::new(dir.path()).load_all();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(ranges.providers(), [Provider::Aws, Provider::Linode]);
    assert_eq!(
        tags(&ranges, "15.181.232.10"),
        ["aws:AMAZON:us-east-1", "aws:EC2:us-east-1"]
    );
    assert_eq!(tags(&ranges, "2600:3c00::1"), ["linode:US:Richardson"]);

    let store = FeedStore::new(dir.path());
    let status = store.status();
    assert_eq!(status.len(), 2);
    assert_eq!(status[0].provider, Provider::Aws);
    assert_eq!(status[0].prefixes, 8971 + 4373);
    assert_eq!(status[0].source, "file:aws");
    assert!(status[0].age < Duration::from_secs(60));
    assert_eq!(status[1].provider, Provider::Linode);
    assert_eq!(status[1].bytes, fixture("linode-geofeed.csv").len());

    // A stored feed damaged on disk is a warning, the others still load.
    std::fs::write(store.feed_path(Provider::Linode), b"garbage\n").unwrap();
    let (ranges, warnings) = store.load_all();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].provider, Provider::Linode);
    assert!(warnings[0]
        .to_string()
        .starts_with("linode feed not loaded"));
    assert_eq!(ranges.providers(), [Provider::Aws]);
}

#[test]
fn missing_state_dir_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ranges, warnings) = FeedStore::new(&dir.path().join("nope")).load_all();
    assert!(ranges.is_empty());
    assert!(warnings.is_empty());
    assert!(FeedStore::new(&dir.path().join("nope")).status().is_empty());
}

#[test]
fn default_urls() {
    assert_eq!(
        Provider::Aws.default_url("x").unwrap(),
        "https://ip-ranges.amazonaws.com/ip-ranges.json"
    );
    let id = badclients::cloud::client_request_id(b"mail.example.org");
    assert_eq!(id.len(), 36);
    assert_eq!(
        id,
        badclients::cloud::client_request_id(b"mail.example.org")
    );
    assert_ne!(
        id,
        badclients::cloud::client_request_id(b"other.example.org")
    );
    assert_eq!(
        Provider::M365.default_url(&id).unwrap(),
        format!("https://endpoints.office.com/endpoints/worldwide?clientrequestid={id}")
    );
    let err = Provider::Azure.default_url("x").unwrap_err();
    assert!(err.to_string().contains("--from-file"), "{err}");
    for p in Provider::ALL {
        assert_eq!(p.name().parse::<Provider>().unwrap(), p);
    }
    assert!("nimbus".parse::<Provider>().is_err());
}

#[tokio::test]
async fn download_from_a_loopback_server_end_to_end() {
    let fake = FakeRdap::start().await.unwrap();
    let aws = fixture("aws-ip-ranges.json");
    let csv = fixture("digitalocean.csv");
    fake.route(
        "/aws.json",
        Reply::json(aws.clone()).with_content_type("application/json"),
    );
    fake.route(
        "/do.csv",
        Reply::json(csv.clone()).with_content_type("text/csv"),
    );
    fake.route("/gone", Reply::json(b"{}".to_vec()).with_status(404));
    fake.route("/huge", Reply::fault(RdapFault::Oversized(3_000_000)));
    fake.route(
        "/huge-declared",
        Reply::fault(RdapFault::OversizedDeclared(3_000_000)),
    );
    fake.route("/slow", Reply::fault(RdapFault::Hang));
    let t = Duration::from_secs(10);

    let body = download(&fake.url("/aws.json"), 8 << 20, t).await.unwrap();
    assert_eq!(body, aws);
    let body = download(&fake.url("/do.csv"), 8 << 20, t).await.unwrap();
    assert_eq!(body, csv);

    // Downloaded, stored, loaded.
    let dir = tempfile::tempdir().unwrap();
    let store = FeedStore::new(dir.path());
    store
        .update(Provider::DigitalOcean, &body, &fake.url("/do.csv"))
        .unwrap();
    let (ranges, _) = store.load_all();
    assert_eq!(tags(&ranges, "5.101.96.1"), ["digitalocean:NL:Amsterdam"]);

    // The cap: just below the fixture's size fails, exactly its size passes.
    let err = download(&fake.url("/aws.json"), aws.len() - 1, t)
        .await
        .unwrap_err();
    assert!(matches!(err, CloudError::TooLarge { .. }), "{err}");
    assert!(download(&fake.url("/aws.json"), aws.len(), t).await.is_ok());
    for path in ["/huge", "/huge-declared"] {
        let err = download(&fake.url(path), 1 << 20, t).await.unwrap_err();
        assert!(
            matches!(
                err,
                CloudError::TooLarge {
                    max_bytes: 1_048_576,
                    ..
                }
            ),
            "{path}: {err}"
        );
    }
    let err = download(&fake.url("/gone"), 1 << 20, t).await.unwrap_err();
    assert!(
        matches!(err, CloudError::Status { status: 404, .. }),
        "{err}"
    );
    let err = download(&fake.url("/slow"), 1 << 20, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, CloudError::Timeout { .. }), "{err}");
}
