//! GeoIP through the daemon: the maxmind/ lists and geo_cc block the right logins, the
//! `mail-audit-maxmind:` line is written, a swapped database file is picked up without a
//! restart, and a broken database is a clear error at start.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use testkit::daemon::{parse_http, Daemon, DaemonConfig, FakeInternet, API_KEY};

fn mmdb(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mmdb")
        .join(name)
}

/// London in MaxMind's City test database.
const LONDON_IP: &str = "81.2.69.142";
const LONDON_ID: u32 = 2643743;
/// Boxford, England in the same database.
const BOXFORD_IP: &str = "2.125.160.216";

fn allow(d: &Daemon, ip: &str) -> String {
    let body = format!(r#"{{"remote":"{ip}","protocol":"imap","login":"carol","user":"carol"}}"#);
    let req = format!(
        "POST /?command=allow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(("127.0.0.1", d.http_port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_http(&raw).body
}

fn daemon_with_geoip(internet: &FakeInternet, city: &Path, lists: &[(&str, &str)]) -> Daemon {
    let mut config = DaemonConfig::new(internet).extra(&format!(
        "[geoip]\ncity = \"{}\"\nasn = \"{}\"\ncheck_secs = 1\n",
        city.display(),
        mmdb("GeoLite2-ASN-Test.mmdb").display()
    ));
    for (file, content) in lists {
        config = config.list(file, content);
    }
    config.start()
}

#[test]
fn maxmind_lists_block_the_right_ips_and_a_swapped_database_is_picked_up() {
    let internet = FakeInternet::start();
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("GeoIP2-City.mmdb");
    std::fs::copy(mmdb("GeoIP2-City-Test.mmdb"), &city).unwrap();
    let d = daemon_with_geoip(
        &internet,
        &city,
        &[(
            "maxmind/geo_loc.deny.lst",
            &format!("{LONDON_ID}  # London\n"),
        )],
    );
    assert!(
        allow(&d, LONDON_IP).contains("\"status\":-1"),
        "London is listed"
    );
    assert_eq!(allow(&d, BOXFORD_IP), "{\"status\":0}");
    let blocked = d
        .wait_for(Duration::from_secs(3), |l| {
            l.contains(LONDON_IP) && l.contains("blocked=True")
        })
        .expect("the audit line");
    assert!(
        blocked.ends_with(", blocked=True, matched=maxmind:geoloc_city"),
        "{blocked}"
    );
    let geo = d
        .wait_for(Duration::from_secs(3), |l| {
            l.starts_with("mail-audit-maxmind:") && l.contains(LONDON_IP)
        })
        .expect("the mail-audit-maxmind line");
    assert!(geo.contains(&format!("city=<London/{LONDON_ID}>")), "{geo}");
    assert!(geo.contains("country=<GB/"), "{geo}");

    // geoipupdate replaces the file atomically: a Country database has no city, so the
    // London city entry no longer matches.
    let next = dir.path().join("next.mmdb");
    std::fs::copy(mmdb("GeoIP2-Country-Test.mmdb"), &next).unwrap();
    std::fs::rename(&next, &city).unwrap();
    let picked_up = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        allow(&d, LONDON_IP) == "{\"status\":0}"
    });
    assert!(
        picked_up,
        "the new database was not picked up; stderr:\n{}",
        d.stderr()
    );
    // A corrupt replacement keeps the working database, with a warning.
    std::fs::write(&next, b"not a database").unwrap();
    std::fs::rename(&next, &city).unwrap();
    let warned = d.wait_for(Duration::from_secs(5), |l| l.contains("stays in use"));
    assert!(warned.is_some(), "{}", d.stderr());
    assert_eq!(allow(&d, BOXFORD_IP), "{\"status\":0}");
}

#[test]
fn geo_cc_uses_the_maxmind_country() {
    let internet = FakeInternet::start();
    let d = daemon_with_geoip(
        &internet,
        &mmdb("GeoIP2-City-Test.mmdb"),
        &[("geo_cc.deny.lst", "GB\n")],
    );
    let line_for = |ip: &str| {
        allow(&d, ip);
        d.wait_for(Duration::from_secs(3), |l| {
            l.starts_with("mail-audit:") && l.contains(&format!("ip={ip},"))
        })
        .expect("audit line")
    };
    assert!(line_for(LONDON_IP).ends_with("matched=geo_cc"));
    // 202.196.224.1 is in the Philippines in the test database.
    assert!(!line_for("202.196.224.1").contains("blocked=True"));
}

#[test]
fn a_broken_database_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("badclients.toml");
    for broken in [
        "MaxMind-DB-test-broken-pointers-24.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "does-not-exist.mmdb",
    ] {
        std::fs::write(
            &cfg,
            format!(
                "[geoip]\ncity = \"{}\"\n[cache]\nmemory_only = true\n[lookup]\ndns_servers = [\"127.0.0.1:9\"]\n",
                mmdb(broken).display()
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_badclients"))
            .args(["lookup", "1.2.3.4", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{broken}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(broken), "{broken}: {err}");
    }
}
