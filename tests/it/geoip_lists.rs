//! Each maxmind/ list type (and geo_cc, and asn.deny.lst with the MaxMind ASN) against
//! MaxMind's own test databases: it blocks the address it names, with its label, and not
//! the others.

use std::net::IpAddr;
use std::path::PathBuf;

use badclients::decision::{Policy, Verdict};
use badclients::facts::Facts;
use badclients::geoip::GeoIp;
use badclients::lists::ListSet;
use testkit::ListDir;

fn mmdb(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mmdb")
        .join(name)
}

/// Boxford, England (subdivisions England and West Berkshire), 51.75,-1.25 ±100 km.
const BOXFORD: &str = "2.125.160.216";
/// London.
const LONDON: &str = "81.2.69.142";
/// Linköping, Sweden; AS29518 "Bredband2 AB" in the ASN test database.
const SWEDEN: &str = "89.160.20.128";

fn matched(dir: &ListDir, geoip: &GeoIp, ip: &str) -> Option<String> {
    let (lists, report) = ListSet::load(dir.path());
    assert_eq!(report.errors(), 0, "{:?}", report.diagnostics);
    let policy = Policy {
        lists,
        ..Policy::default()
    };
    let ip: IpAddr = ip.parse().unwrap();
    let mut facts = Facts::unknown(ip);
    facts.maxmind = geoip.lookup(ip).unwrap();
    let d = policy.decide("u", "imap", &facts);
    (d.verdict == Verdict::Block).then(|| d.hit().unwrap().label.clone())
}

#[test]
fn every_maxmind_list_type_blocks_its_address_and_only_it() {
    let geoip = GeoIp::open(
        Some(&mmdb("GeoIP2-City-Test.mmdb")),
        Some(&mmdb("GeoLite2-ASN-Test.mmdb")),
    )
    .unwrap();
    let cases: [(&str, &str, &str, &str); 7] = [
        (
            "maxmind/as_org.deny.lst",
            "Bredband2 AB\n",
            SWEDEN,
            "maxmind:as_org",
        ),
        ("asn.deny.lst", "AS29518\n", SWEDEN, "asn"),
        (
            "maxmind/geo_loc.deny.lst",
            "2655045  # Boxford\n",
            BOXFORD,
            "maxmind:geoloc_city",
        ),
        (
            "maxmind/geo_loc.deny.lst",
            "3333217  # West Berkshire\n",
            BOXFORD,
            "maxmind:geoloc_subdiv",
        ),
        (
            "maxmind/geo_loc.deny.lst",
            "2661886  # Sweden\n",
            SWEDEN,
            "maxmind:geoloc_country",
        ),
        (
            "maxmind/coords.deny.lst",
            "51.75,-1.25,10,0.5\n",
            BOXFORD,
            "maxmind:geoloc:51.750000,-1.250000,10,0.500000",
        ),
        ("geo_cc.deny.lst", "SE\n", SWEDEN, "geo_cc"),
    ];
    for (file, content, ip, label) in cases {
        let dir = ListDir::new().with(file, content);
        assert_eq!(
            matched(&dir, &geoip, ip).as_deref(),
            Some(label),
            "{file} {content:?} {ip}"
        );
        for other in [BOXFORD, LONDON, SWEDEN].into_iter().filter(|o| *o != ip) {
            assert_eq!(
                matched(&dir, &geoip, other),
                None,
                "{file} {content:?} must not block {other}"
            );
        }
    }
}
