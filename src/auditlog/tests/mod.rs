//! The audit-line reader on known lines: fields, outcomes, escaping, round trips with the
//! writer; `time.rs` the prefixes' times, `reader.rs` reading files.

mod reader;
mod time;

use std::net::IpAddr;

use super::*;
use crate::audit::read::sanitise;
use crate::audit::{escape, AuditLine};
use crate::decision::{Decision, Hit, Reason, Verdict};
use crate::facts::{Asn, CloudProvider, CloudTag, Facts, LookupError};
use crate::history::{Outcome, Record};

const CRAIG: &str = "mail-audit: user=<honey-craig>, service=imap, ip=176.112.169.218, \
    host=rimap26.i.mail.ru, asn=AS47764, as_cc=RU, as_desc=<VK-AS, RU>, \
    net_name=<VK-FRONT>, net_cc=RU, entity=EY1327-RIPE, entity=ORG-LLCn4-RIPE, \
    entity=RIPE-NCC-END-MNT, entity=VKCOMPANY-MNT, entity=VKNC, entity=MAIL-RU";

const HONEY: &str = "mail-audit: user=<honey>, service=imap, ip=172.17.1.204, \
    host=dhcp204.internal, asn=None, as_cc=ZZ, as_desc=<IANA-RESERVED>, \
    net_name=<Private-Use Networks>, net_cc=ZZ, entity=None";

const MICROS: u64 = 1_000_000;

/// Microseconds since the epoch of a UTC time.
fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> u64 {
    let t = jiff::civil::date(y, mo, d).at(h, mi, s, 0);
    let t = jiff::tz::Offset::UTC
        .to_timestamp(t)
        .expect("a time jiff can hold");
    u64::try_from(t.as_microsecond()).expect("after 1970")
}

/// 2026-11-27 12:30:00 UTC.
fn clock() -> Clock {
    Clock::at(utc(2026, 11, 27, 12, 30, 0))
}

fn record(line: &str) -> Record {
    record_at(line, &clock())
}

fn record_at(line: &str, clock: &Clock) -> Record {
    match parse_line(line, clock) {
        ParsedLine::Record(r) => r,
        other => panic!("{line:?}: {other:?}"),
    }
}

fn malformed(line: &str) -> String {
    match parse_line(line, &clock()) {
        ParsedLine::Malformed(reason) => reason,
        other => panic!("{line:?}: {other:?}"),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn craig() -> Record {
    Record {
        time_us: None,
        user: "honey-craig".into(),
        service: "imap".into(),
        ip: "176.112.169.218".parse().unwrap(),
        host: Some("rimap26.i.mail.ru".into()),
        asn: Some(47764),
        as_cc: Some("RU".into()),
        as_desc: Some("VK-AS, RU".into()),
        net_name: Some("VK-FRONT".into()),
        net_cc: Some("RU".into()),
        entities: strings(&[
            "EY1327-RIPE",
            "ORG-LLCn4-RIPE",
            "RIPE-NCC-END-MNT",
            "VKCOMPANY-MNT",
            "VKNC",
            "MAIL-RU",
        ]),
        cloud: Vec::new(),
        geo_cc: None,
        outcome: Outcome::Allowed,
        matched: None,
        matched_entry: None,
        lookup_errors: Vec::new(),
    }
}

#[test]
fn bare_line_has_no_time() {
    assert_eq!(record(CRAIG), craig());
}

#[test]
fn dovecot_prefix_is_skipped() {
    let line = format!("dovecot[1234]: auth-worker(5678): {CRAIG}");
    assert_eq!(record(&line), craig());
}

#[test]
fn unknown_values_are_none() {
    let r = record(HONEY);
    assert_eq!(r.host.as_deref(), Some("dhcp204.internal"));
    assert_eq!(r.asn, None);
    assert_eq!(r.as_cc.as_deref(), Some("ZZ"));
    assert_eq!(r.as_desc.as_deref(), Some("IANA-RESERVED"));
    assert_eq!(r.net_name.as_deref(), Some("Private-Use Networks"));
    assert!(r.entities.is_empty());

    let r = record(
        "mail-audit: user=<u>, service=imap, ip=52.97.246.245, host=<>, asn=None, \
         as_cc=None, as_desc=<None>, net_name=None, net_cc=<None>, entity=None",
    );
    assert_eq!(
        (r.host, r.asn, r.as_cc, r.as_desc, r.net_name, r.net_cc),
        (None, None, None, None, None, None)
    );
    assert!(r.entities.is_empty());
    // A line with only the required fields.
    let r = record("mail-audit: user=<u>, service=pop3, ip=2001:db8::1");
    assert_eq!(r.ip, "2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!((r.host, r.asn, r.outcome), (None, None, Outcome::Allowed));
    // An empty user is a user; the user name None is a name.
    assert_eq!(
        record("mail-audit: user=<>, service=imap, ip=1.2.3.4").user,
        ""
    );
    assert_eq!(
        record("mail-audit: user=<None>, service=imap, ip=1.2.3.4").user,
        "None"
    );
    assert_eq!(
        record("mail-audit: user=bare, service=imap, ip=1.2.3.4").user,
        "bare"
    );
}

#[test]
fn asn_forms() {
    let asn = |v: &str| {
        record(&format!(
            "mail-audit: user=<u>, service=s, ip=1.2.3.4, asn={v}"
        ))
        .asn
    };
    assert_eq!(asn("AS47764"), Some(47764));
    assert_eq!(asn("as15169"), Some(15169));
    assert_eq!(asn("63949"), Some(63949));
    assert_eq!(asn("AS4294967295"), Some(u32::MAX));
    assert_eq!(asn("None"), None);
    assert_eq!(asn("<None>"), None);
    for bad in ["ASx", "AS", "", "AS-1", "AS4294967296", "AS 1", "AS+1"] {
        let reason = malformed(&format!(
            "mail-audit: user=<u>, service=s, ip=1.2.3.4, asn={bad}"
        ));
        assert!(reason.starts_with("invalid asn="), "{bad}: {reason}");
    }
}

#[test]
fn lists_accumulate_in_order() {
    let r = record(
        "mail-audit: user=<u>, service=imap, ip=3.3.3.3, host=ec2-3-3-3-3.compute-1.amazonaws.com, \
         entity=B, entity=A, cloud=aws:EC2:us-east-1, cloud=aws:AMAZON:us-east-1, \
         entity=C, dnsbl=zen.example.org:127.0.0.2, lookup_error=rdap:timeout, \
         lookup_error=dns:servfail",
    );
    assert_eq!(r.entities, strings(&["B", "A", "C"]));
    assert_eq!(
        r.cloud,
        strings(&["aws:EC2:us-east-1", "aws:AMAZON:us-east-1"])
    );
    assert_eq!(r.lookup_errors, strings(&["rdap:timeout", "dns:servfail"]));
}

#[test]
fn unknown_keys_are_ignored() {
    let line = format!("{CRAIG}, dnsbl=zen:127.0.0.2, future_key=<a, b>, x.y[0]=1");
    assert_eq!(record(&line), craig());
}

#[test]
fn outcomes() {
    let outcome = |tail: &str| {
        let r = record(&format!("{CRAIG}{tail}"));
        (r.outcome, r.matched)
    };
    assert_eq!(outcome(""), (Outcome::Allowed, None));
    assert_eq!(
        outcome(", blocked=True, matched=asn"),
        (Outcome::Blocked, Some("asn".into()))
    );
    assert_eq!(
        outcome(", blocked=True, matched=entity:MAIL-RU, enforced=True"),
        (Outcome::Blocked, Some("entity:MAIL-RU".into()))
    );
    assert_eq!(
        outcome(", blocked=True, matched=ip_net, enforced=False"),
        (Outcome::WouldBlock, Some("ip_net".into()))
    );
    assert_eq!(outcome(", tempfail=True"), (Outcome::TempFail, None));
    assert_eq!(
        outcome(", tempfail=True, enforced=False"),
        (Outcome::TempFail, None)
    );
    assert_eq!(outcome(", blocked=False"), (Outcome::Allowed, None));
    // A label without a block says nothing.
    assert_eq!(outcome(", matched=asn"), (Outcome::Allowed, None));
    assert_eq!(outcome(", blocked=True"), (Outcome::Blocked, None));

    let reason = malformed(&format!(
        "{CRAIG}, blocked=True, matched=asn, tempfail=True"
    ));
    assert!(reason.contains("both"), "{reason}");
    let reason = malformed(&format!("{CRAIG}, blocked=yes, matched=asn"));
    assert!(reason.contains("expected True or False"), "{reason}");
}

#[test]
fn forged_looking_values_from_our_writer_stay_in_their_field() {
    // The user `x>, service=imap, ip=1.2.3.4` + line break, as audit.rs writes it.
    let line = "mail-audit: user=<x\\x3e\\x2c service=imap\\x2c ip=1.2.3.4\\x0a>, service=pop3, \
                ip=5.6.7.8, host=<>, asn=None, as_cc=None, as_desc=<a\\x2c blocked=True>, \
                net_name=<None>, net_cc=None, entity=None";
    let r = record(line);
    assert_eq!(r.user, "x\\x3e\\x2c service=imap\\x2c ip=1.2.3.4\\x0a");
    assert_eq!(r.service, "pop3");
    assert_eq!(r.ip, "5.6.7.8".parse::<IpAddr>().unwrap());
    assert_eq!(r.as_desc.as_deref(), Some("a\\x2c blocked=True"));
    assert_eq!(r.outcome, Outcome::Allowed);
    // Values with `, ` but no `key=` after it keep their comma.
    let r = record(
        "mail-audit: user=<a, b>, service=imap, ip=1.1.1.1, host=x, y, \
         as_desc=<AKAMAI-LINODE-AP Akamai Connected Cloud, SG>",
    );
    assert_eq!(r.user, "a, b");
    assert_eq!(r.host.as_deref(), Some("x, y"));
    assert_eq!(
        r.as_desc.as_deref(),
        Some("AKAMAI-LINODE-AP Akamai Connected Cloud, SG")
    );
}

#[test]
fn control_characters_of_unescaped_lines_are_escaped() {
    let line = "mail-audit: user=<a\rb\x1b[31m\u{85}\u{2028}>, service=imap\x7f, ip=1.2.3.4, \
                host=h\u{2029}, as_desc=<tab\there>, entity=E\u{0}, cloud=c\u{9f}, matched=m\x01, \
                blocked=True, lookup_error=e\u{1}";
    let r = record(line);
    assert_eq!(r.user, "a\\x0db\\x1b[31m\\u{0085}\\u{2028}");
    assert_eq!(r.service, "imap\\x7f");
    assert_eq!(r.host.as_deref(), Some("h\\u{2029}"));
    assert_eq!(r.as_desc.as_deref(), Some("tab\\x09here"));
    assert_eq!(r.entities, strings(&["E\\x00"]));
    assert_eq!(r.cloud, strings(&["c\\u{009f}"]));
    assert_eq!(r.matched.as_deref(), Some("m\\x01"));
    assert_eq!(r.lookup_errors, strings(&["e\\x01"]));
    // Everything else is kept as written, backslashes included.
    assert_eq!(
        record("mail-audit: user=<a\\b<c>, service=s, ip=1.2.3.4").user,
        "a\\b<c"
    );
    // The same escapes as the writer's.
    for c in [
        '\0', '\n', '\x1f', '\x7f', '\u{80}', '\u{9f}', '\u{2028}', '\u{2029}',
    ] {
        assert_eq!(sanitise(&c.to_string()), escape(&c.to_string()));
    }
}

#[test]
fn crlf_and_bom_are_ignored() {
    assert_eq!(record(&format!("\u{feff}{CRAIG}\r\n")), craig());
    assert_eq!(record(&format!("{CRAIG}\r")), craig());
}

#[test]
fn other_lines_are_not_audit_lines() {
    for line in [
        "",
        "\r",
        "-- Journal begins at Sun 2026-11-01 00:00:02 UTC. --",
        "Nov 27 12:00:00 mx1 dovecot[1]: imap-login: Login: user=<honey>, method=PLAIN, rip=1.2.3.4",
        "mail-audit-maxmind: user=<u>, service=s, ip=1.2.3.4, asn=AS1, country=<RU/2017370>",
        "Nov 27 12:00:00 mx1 dovecot[1]: auth-worker(2): mail-audit-maxmind: user=<mail-audit: x>",
        "mail-audit-report: user=<u>, service=imap, ip=1.2.3.4, result=ok",
        "mail-audit:user=<u>, service=imap, ip=1.2.3.4",
        "mail-audit[12]: started",
        "MAIL-AUDIT: user=<u>, service=imap, ip=1.2.3.4",
    ] {
        assert_eq!(parse_line(line, &clock()), ParsedLine::NotAudit, "{line:?}");
    }
}

#[test]
fn malformed_lines_say_why() {
    for (line, why) in [
        ("mail-audit: ", "expected key=value"),
        ("mail-audit: hello world", "expected key=value"),
        ("mail-audit: service=imap, ip=1.2.3.4", "missing user="),
        ("mail-audit: user=<u>, ip=1.2.3.4", "missing service="),
        (
            "mail-audit: user=<u>, service=, ip=1.2.3.4",
            "empty service=",
        ),
        ("mail-audit: user=<u>, service=imap, host=<>", "missing ip="),
        (
            "mail-audit: user=<u>, service=imap, ip=999.1.1.1",
            "invalid ip=999.1.1.1",
        ),
        ("mail-audit: user=<u>, service=imap, ip=", "invalid ip="),
        (
            "mail-audit: user=<u>, service=imap, ip=1.2.3.4, as_desc=<VK-AS, R",
            "unbalanced",
        ),
        (
            "mail-audit: user=<u, service=imap, ip=1.2.3.4",
            "unbalanced",
        ),
        (
            "mail-audit: user=<u>, service=imap, ip=1.2.3.4, host=x>",
            "unbalanced",
        ),
        (
            "mail-audit: user=<u>, service=imap, ip=1.2.3.4, user=<v>",
            "repeated field user=",
        ),
        (
            "mail-audit: user=<u>, service=imap, ip=1.2.3.4, ip=5.6.7.8",
            "repeated field ip=",
        ),
        (
            r#"{"MESSAGE":"mail-audit: user=<u>, service=imap, ip=1.2.3.4"}"#,
            "JSON",
        ),
    ] {
        let reason = malformed(line);
        assert!(reason.contains(why), "{line:?}: {reason}");
    }
    // Reasons quote at most 40 characters, escaped.
    let long = format!(
        "mail-audit: user=<u>, service=imap, ip=\n{}",
        "9".repeat(100)
    );
    let reason = malformed(&long);
    assert!(reason.starts_with("invalid ip=\\x0a999"), "{reason}");
    assert!(reason.ends_with('…') && reason.len() < 80, "{reason}");
}

fn roundtrip_facts() -> Facts {
    Facts {
        host: Some("evil\u{85}host, asn=AS1".into()),
        asn: Some(Asn(47764)),
        as_cc: Some("RU".into()),
        as_desc: Some("VK-AS, RU".into()),
        net_name: Some("<VK-FRONT>, entity=X".into()),
        net_cc: Some("".into()),
        entities: strings(&["EY1327-RIPE", "MAIL-RU", "a,entity=b\\"]),
        cloud: vec![
            CloudTag::new(CloudProvider::Aws, "EC2", Some("us-east-1")),
            CloudTag::new(CloudProvider::Gcp, "x, y", None),
        ],
        dnsbl: vec!["zen.example.org:127.0.0.2".parse().unwrap()],
        lookup_errors: vec![
            LookupError::new("rdap", "timeout"),
            LookupError::new("dns", "servfail\r\n"),
        ],
        ..Facts::unknown("2a00:1450:4001:82b::200e".parse().unwrap())
    }
}

#[test]
fn our_audit_lines_round_trip() {
    let hit = |label: &str| Hit {
        label: label.into(),
        file: Some("/etc/badclients/lists/entity.deny.lst".into()),
        line: Some(3),
        entry: "MAIL-RU".into(),
    };
    let decisions = [
        (Verdict::Block, Reason::Listed(hit("entity:MAIL-RU"))),
        (Verdict::Block, Reason::Listed(hit("asn, blocked=False"))),
        (Verdict::Block, Reason::DisabledService(hit("service"))),
        (Verdict::Allow, Reason::NoMatch),
        (Verdict::Allow, Reason::AllowedUser(hit("user"))),
        (Verdict::TempFail, Reason::LookupFailed),
    ];
    let users = [
        "honey-craig",
        "x>, service=imap, ip=1.2.3.4\n",
        "müller\u{2028}, tempfail=True",
        "",
    ];
    let all_facts = [
        roundtrip_facts(),
        Facts::unknown("176.112.169.218".parse().unwrap()),
        Facts {
            host: Some("".into()),
            entities: strings(&["ONE"]),
            ..Facts::unknown("::ffff:1.2.3.4".parse().unwrap())
        },
    ];
    let mut n = 0;
    for facts in &all_facts {
        for (verdict, reason) in &decisions {
            for user in users {
                for (enforced, password_checked) in [(true, true), (false, true), (true, false)] {
                    let decision = Decision {
                        verdict: *verdict,
                        reason: reason.clone(),
                        log: true,
                        pattern_failures: Vec::new(),
                    };
                    let line = AuditLine {
                        user,
                        service: "imap",
                        facts,
                        decision: &decision,
                        enforced,
                        password_checked,
                    }
                    .to_string();
                    let outcome = Outcome::of(decision.verdict, enforced, password_checked);
                    let want = Record {
                        time_us: None,
                        matched_entry: None,
                        geo_cc: None,
                        ..Record::of_decision(0, user, "imap", facts, &decision, outcome)
                    };
                    assert_eq!(record(&line), want, "{line}");
                    let prefixed = format!("2026-11-27T12:00:00Z mx1 mail-audit[9]: {line}");
                    assert_eq!(
                        record(&prefixed),
                        Record {
                            time_us: Some(utc(2026, 11, 27, 12, 0, 0)),
                            ..want
                        }
                    );
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 3 * 6 * 4 * 3);
}
