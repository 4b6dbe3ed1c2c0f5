//! `mail-audit:` lines read back as records (`badclients report` over log files): the older
//! tool's journal export in `tests/fixtures/auditlog/older-tool.log`.
//!
//! The fixture holds the compatibility contract's five lines (§4, as in
//! `tests/fixtures/contract/audit-lines.txt`) behind the older tool's Dovecot prefix, in
//! syslog and ISO form and bare (`journalctl -o cat`), a few blocked logins,
//! `mail-audit-maxmind:` lines, other Dovecot and Postfix lines, and five malformed lines
//! (no `ip=`, `ip=999.1.1.1`, `asn=ASx`, two cut short). It was exported on 2027-01-01,
//! so the November and December syslog times belong to 2026.

use std::fs;
use std::io::BufReader;
use std::path::PathBuf;

use badclients::auditlog::{parse_line, read_lines, Clock, ParsedLine, ReadStats};
use badclients::decision::Decision;
use badclients::facts::Facts;
use badclients::history::{Outcome, Record};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// 2026-11-27T12:00:00Z, in seconds.
const NOV_27_NOON: u64 = 1_795_780_800;
/// 2027-01-01T00:00:00Z, in seconds.
const JAN_1: u64 = 1_798_761_600;

/// The export was read on 2027-01-01 at 00:30 UTC.
fn clock() -> Clock {
    Clock::at((JAN_1 + 30 * 60) * 1_000_000)
}

fn read_fixture(input: &[u8]) -> (ReadStats, Vec<Record>) {
    let mut records = Vec::new();
    let stats = read_lines(BufReader::new(input), &clock(), |r| records.push(r)).unwrap();
    (stats, records)
}

fn older_tool_log() -> Vec<u8> {
    fs::read(fixture("auditlog/older-tool.log")).unwrap()
}

/// The contract's five lines, with the login each one is about and its facts.
fn contract() -> Vec<(String, &'static str, &'static str, Facts)> {
    let lines = fs::read_to_string(fixture("contract/audit-lines.txt")).unwrap();
    let logins = [
        ("honey-craig", "imap", "vk.json"),
        ("honey", "imap", "reserved.json"),
        ("honey-sugar", "imap", "linode.json"),
        ("honey-gmail-pop", "pop3", "gmail-pop.json"),
        ("honey-gmail-smtp", "smtp", "gmail-smtp.json"),
    ];
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), logins.len());
    lines
        .into_iter()
        .zip(logins)
        .map(|(line, (user, service, file))| {
            let json = fs::read_to_string(fixture(&format!("contract/{file}"))).unwrap();
            let facts: Facts = serde_json::from_str(&json).unwrap();
            (line.to_string(), user, service, facts)
        })
        .collect()
}

#[test]
fn older_tool_export_is_counted_line_by_line() {
    let (stats, records) = read_fixture(&older_tool_log());
    assert_eq!(
        stats,
        ReadStats {
            lines: 26,
            records: 13,
            not_audit: 8,
            malformed: 5,
            first_malformed: vec![
                (14, "missing ip=".to_string()),
                (16, "invalid ip=999.1.1.1".to_string()),
                (18, "invalid asn=ASx".to_string()),
                (
                    22,
                    "unbalanced <…> in as_desc=<AKAMAI-LINODE-AP Akam".to_string()
                ),
                (24, "invalid ip=209.85.2".to_string()),
            ],
        }
    );
    assert_eq!(records.len(), 13);
}

#[test]
fn older_tool_export_records_in_order() {
    let (_, records) = read_fixture(&older_tool_log());
    let nov = |s: u64| Some((NOV_27_NOON + s) * 1_000_000);
    let jan = |s: u64| Some((JAN_1 + s) * 1_000_000);
    let blocked = |label: &str| (Outcome::Blocked, Some(label.to_string()));
    let allowed = (Outcome::Allowed, None);
    let want = vec![
        (nov(0), "honey-craig", allowed.clone()),
        (nov(70), "honey", allowed.clone()),
        (nov(140), "honey-sugar", allowed.clone()),
        (nov(210), "honey-gmail-pop", allowed.clone()),
        (nov(280), "honey-gmail-smtp", allowed.clone()),
        (nov(300), "honey-craig", blocked("asn")),
        // 2026-11-27T13:07:00+0100
        (nov(420), "honey-sugar", blocked("entity:linode-mnt")),
        (
            nov(540).map(|t| t + 250_000),
            "honey-gmail-pop",
            allowed.clone(),
        ),
        (None, "honey-gmail-smtp", allowed.clone()),
        (None, "honey", allowed.clone()),
        (None, "honey-craig", allowed.clone()),
        // `Jan  1`: this year, not last year.
        (jan(600), "honey-gmail-pop", allowed),
        (jan(900), "honey-gmail-smtp", blocked("rev_host")),
    ];
    let got: Vec<_> = records
        .iter()
        .map(|r| (r.time_us, r.user.as_str(), (r.outcome, r.matched.clone())))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn older_tool_blocked_line_exactly() {
    let (_, records) = read_fixture(&older_tool_log());
    assert_eq!(
        records[6],
        Record {
            time_us: Some((NOV_27_NOON + 420) * 1_000_000),
            user: "honey-sugar".into(),
            service: "imap".into(),
            ip: "139.162.133.252".parse().unwrap(),
            host: Some("node-eu-0001.email2-cloud.com".into()),
            asn: Some(63949),
            as_cc: Some("NL".into()),
            as_desc: Some("AKAMAI-LINODE-AP Akamai Connected Cloud, SG".into()),
            net_name: Some("EU-LINODE-20141229".into()),
            net_cc: Some("US".into()),
            entities: ["linode-mnt", "ORG-LL72-RIPE", "TA2589-RIPE", "LAS85-RIPE"]
                .map(String::from)
                .to_vec(),
            cloud: Vec::new(),
            geo_cc: None,
            outcome: Outcome::Blocked,
            matched: Some("entity:linode-mnt".into()),
            matched_entry: None,
            lookup_errors: Vec::new(),
        }
    );
    // The reserved address: every unknown value is None, `entity=None` no entity.
    let honey = &records[1];
    assert_eq!(
        honey.ip,
        "172.17.1.204".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!((honey.asn, honey.net_cc.as_deref()), (None, Some("ZZ")));
    assert!(honey.entities.is_empty());
    // The Gmail lines: `net_cc=None`.
    assert_eq!(records[3].net_cc, None);
    assert_eq!(records[3].entities, vec!["GOGL".to_string()]);
}

#[test]
fn contract_lines_read_back_as_their_facts() {
    let log = String::from_utf8(older_tool_log()).unwrap();
    for (line, user, service, facts) in contract() {
        // The fixture carries the contract's line as it is, behind the older tool's prefix.
        assert!(
            log.lines()
                .any(|l| l.ends_with(&format!("auth-worker(5678): {line}"))),
            "{line}"
        );
        let ParsedLine::Record(record) = parse_line(&line, &clock()) else {
            panic!("{line}");
        };
        let want = Record::of_decision(
            0,
            user,
            service,
            &facts,
            &Decision::unlogged_allow(),
            Outcome::Allowed,
        );
        assert_eq!(
            record,
            Record {
                time_us: None,
                ..want
            },
            "{line}"
        );
    }
}

#[test]
fn crlf_export_reads_the_same() {
    let log = String::from_utf8(older_tool_log()).unwrap();
    let crlf = log.replace('\n', "\r\n");
    assert_eq!(read_fixture(crlf.as_bytes()), read_fixture(log.as_bytes()));
}
