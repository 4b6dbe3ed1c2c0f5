//! GeoIP against MaxMind's test databases (`tests/fixtures/mmdb/`, expected values from
//! `source-data/*.json` there) and one real ip-location-db file (`tests/fixtures/mmdb-real/`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use badclients::facts::{Asn, GeoFacts, Location, Place};
use badclients::geoip::{maxmind_audit_line, GeoIp, GeoIpError, GeoIpSource};

fn mmdb(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mmdb")
        .join(name)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn place(id: u32, code: Option<&str>, name: Option<&str>) -> Option<Place> {
    Some(Place {
        geoname_id: Some(id),
        code: code.map(str::to_string),
        name: name.map(str::to_string),
    })
}

fn city_and_asn() -> GeoIp {
    GeoIp::open(
        Some(&mmdb("GeoIP2-City-Test.mmdb")),
        Some(&mmdb("GeoLite2-ASN-Test.mmdb")),
    )
    .unwrap()
}

#[test]
fn city_record_boxford_has_every_fact_in_order() {
    let g = city_and_asn();
    let f = g.lookup(ip("2.125.160.216")).unwrap().unwrap();
    let expected = GeoFacts {
        asn: None,
        as_org: None,
        city: place(2655045, None, Some("Boxford")),
        subdivisions: vec![
            place(6269131, Some("ENG"), Some("England")).unwrap(),
            place(3333217, Some("WBK"), Some("West Berkshire")).unwrap(),
        ],
        country: place(2635167, Some("GB"), Some("United Kingdom")),
        continent: place(6255148, Some("EU"), Some("Europe")),
        registered_country: place(3017382, Some("FR"), Some("France")),
        represented_country: None,
        location: Some(Location {
            latitude: 51.75,
            longitude: -1.25,
            accuracy_radius: Some(100),
        }),
    };
    assert_eq!(f, expected);
}

#[test]
fn london_and_ipv4_mapped_ipv6_give_the_same_record() {
    let g = city_and_asn();
    let f = g.lookup(ip("81.2.69.142")).unwrap().unwrap();
    assert_eq!(f.city, place(2643743, None, Some("London")));
    assert_eq!(
        f.country.as_ref().and_then(|c| c.code.as_deref()),
        Some("GB")
    );
    assert_eq!(
        f.registered_country
            .as_ref()
            .and_then(|c| c.code.as_deref()),
        Some("US")
    );
    assert_eq!(
        f.location.as_ref().and_then(|l| l.accuracy_radius),
        Some(10)
    );
    assert_eq!(g.lookup(ip("::ffff:81.2.69.142")).unwrap(), Some(f));
}

#[test]
fn represented_country_is_read() {
    let g = city_and_asn();
    let f = g.lookup(ip("202.196.224.1")).unwrap().unwrap();
    assert_eq!(
        f.represented_country,
        place(6252001, Some("US"), Some("United States"))
    );
    assert_eq!(
        f.country.as_ref().and_then(|c| c.code.as_deref()),
        Some("PH")
    );
    assert_eq!(f.city, None);
}

#[test]
fn asn_database_gives_number_and_organisation() {
    let g = GeoIp::open(None, Some(&mmdb("GeoLite2-ASN-Test.mmdb"))).unwrap();
    let f = g.lookup(ip("1.128.0.0")).unwrap().unwrap();
    assert_eq!(f.asn, Some(Asn(1221)));
    assert_eq!(f.as_org.as_deref(), Some("Telstra Pty Ltd"));
    assert_eq!(f.country, None);
    // A network with a number but no organisation.
    let f = g.lookup(ip("12.81.96.1")).unwrap().unwrap();
    assert_eq!((f.asn, f.as_org), (Some(Asn(7018)), None));
}

#[test]
fn unknown_ip_is_none_in_both_databases() {
    let g = city_and_asn();
    assert_eq!(g.lookup(ip("192.0.2.1")).unwrap(), None);
    assert_eq!(g.lookup(ip("2001:db8::1")).unwrap(), None);
    let empty = GeoIp::open(None, None).unwrap();
    assert_eq!(empty.lookup(ip("81.2.69.142")).unwrap(), None);
}

#[test]
fn country_and_geolite_databases_work_as_the_city_database() {
    for name in [
        "GeoIP2-Country-Test.mmdb",
        "GeoLite2-Country-Test.mmdb",
        "GeoLite2-City-Test.mmdb",
    ] {
        let g = GeoIp::open(Some(&mmdb(name)), None).unwrap();
        let f = g
            .lookup(ip("81.2.69.142"))
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: 81.2.69.142 not found"));
        assert_eq!(
            f.country,
            place(2635167, Some("GB"), Some("United Kingdom")),
            "{name}"
        );
        assert_eq!(
            f.continent,
            place(6255148, Some("EU"), Some("Europe")),
            "{name}"
        );
    }
}

#[test]
fn ipv6_address_in_ipv4_only_database_is_none() {
    let g = GeoIp::open(Some(&mmdb("MaxMind-DB-test-ipv4-24.mmdb")), None).unwrap();
    assert_eq!(g.lookup(ip("2001:db8::1")).unwrap(), None);
}

#[test]
fn top_level_country_code_is_the_fallback_country() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mmdb-real/iptoasn-country-20260617.mmdb");
    let g = GeoIp::open(Some(&path), None).unwrap();
    let f = g.lookup(ip("176.112.169.218")).unwrap().unwrap();
    assert_eq!(
        f.country,
        Some(Place {
            geoname_id: None,
            code: Some("RU".into()),
            name: None
        })
    );
    let f = g.lookup(ip("8.8.8.8")).unwrap().unwrap();
    assert_eq!(f.country.and_then(|c| c.code).as_deref(), Some("US"));
}

fn open_err(name: &str) -> GeoIpError {
    GeoIp::open(Some(&mmdb(name)), None).unwrap_err()
}

#[test]
fn broken_databases_are_refused_at_open_naming_the_file() {
    for (name, says) in [
        (
            "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
            "search tree extends beyond",
        ),
        (
            "MaxMind-DB-test-broken-pointers-24.mmdb",
            "data pointer resolves to an invalid location",
        ),
        (
            "MaxMind-DB-test-broken-search-tree-24.mmdb",
            "search tree appears to have a cycle",
        ),
    ] {
        let err = open_err(name);
        assert!(matches!(err, GeoIpError::Corrupt { .. }), "{name}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(msg.contains(says), "{msg}");
    }
    // Broken as the ASN database too.
    let err =
        GeoIp::open(None, Some(&mmdb("MaxMind-DB-test-broken-pointers-24.mmdb"))).unwrap_err();
    assert!(err.to_string().contains("broken-pointers"), "{err}");
}

#[test]
fn missing_and_non_mmdb_files_are_clear_errors() {
    let err = open_err("no-such.mmdb");
    assert!(matches!(err, GeoIpError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such.mmdb"), "{err}");

    let err = open_err("README.md");
    assert!(matches!(err, GeoIpError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("README.md"), "{err}");
}

#[test]
fn changed_detects_a_replaced_file_and_reopen_keeps_old_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("city.mmdb");
    std::fs::copy(mmdb("GeoIP2-City-Test.mmdb"), &city).unwrap();
    let loaded = GeoIp::open(Some(&city), None).unwrap();
    let source = loaded.source();
    assert_eq!(
        source,
        GeoIpSource {
            city_path: Some(city.clone()),
            asn_path: None
        }
    );
    assert!(!source.changed(&loaded));

    // Another configured path is a change.
    let other = GeoIpSource {
        city_path: Some(city.clone()),
        asn_path: Some(mmdb("GeoLite2-ASN-Test.mmdb")),
    };
    assert!(other.changed(&loaded));

    // Replace atomically by rename, as geoipupdate does: same content, new inode.
    let tmp = dir.path().join("city.mmdb.tmp");
    std::fs::copy(mmdb("GeoIP2-City-Test.mmdb"), &tmp).unwrap();
    std::fs::rename(&tmp, &city).unwrap();
    assert!(source.changed(&loaded));
    let fresh = loaded.reopen().unwrap();
    assert!(!source.changed(&fresh));
    assert!(fresh.lookup(ip("81.2.69.142")).unwrap().is_some());

    // A corrupt replacement: changed, reopen fails naming it, the old one still works.
    std::fs::copy(mmdb("MaxMind-DB-test-broken-pointers-24.mmdb"), &tmp).unwrap();
    std::fs::rename(&tmp, &city).unwrap();
    assert!(source.changed(&fresh));
    let err = fresh.reopen().unwrap_err();
    assert!(err.to_string().contains("city.mmdb"), "{err}");
    assert!(fresh.lookup(ip("81.2.69.142")).unwrap().is_some());

    // A file that vanished counts as unchanged (the loaded copy stays in use).
    std::fs::remove_file(&city).unwrap();
    assert!(!source.changed(&fresh));
}

#[test]
fn audit_line_for_a_full_record() {
    let g = city_and_asn();
    let f = g.lookup(ip("89.160.20.128")).unwrap().unwrap();
    assert_eq!(
        maxmind_audit_line("honey", "imap", ip("89.160.20.128"), &f),
        "mail-audit-maxmind: user=<honey>, service=imap, ip=89.160.20.128, asn=AS29518, \
         as_org=<Bredband2 AB>, city=<Linköping/2694762>, \
         subdivision[0]=<Östergötland County/2685867>, country=<SE/2661886>, \
         continent=<EU/6255148>, registered_country=<DE/2921044>, lat=58.4167, \
         lon=15.6167, rad=76km"
    );
}

#[test]
fn audit_line_with_two_subdivisions_and_no_asn() {
    let g = city_and_asn();
    let f = g.lookup(ip("2.125.160.216")).unwrap().unwrap();
    assert_eq!(
        maxmind_audit_line("u", "pop3", ip("2.125.160.216"), &f),
        "mail-audit-maxmind: user=<u>, service=pop3, ip=2.125.160.216, \
         city=<Boxford/2655045>, subdivision[0]=<England/6269131>, \
         subdivision[1]=<West Berkshire/3333217>, country=<GB/2635167>, \
         continent=<EU/6255148>, registered_country=<FR/3017382>, lat=51.75, lon=-1.25, \
         rad=100km"
    );
}

#[test]
fn audit_line_for_asn_only_record() {
    let f = GeoFacts {
        asn: Some(Asn(209)),
        ..GeoFacts::default()
    };
    assert_eq!(
        maxmind_audit_line("u", "smtp", ip("216.160.83.56"), &f),
        "mail-audit-maxmind: user=<u>, service=smtp, ip=216.160.83.56, asn=AS209"
    );
}
