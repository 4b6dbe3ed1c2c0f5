//! The codec's round trips and its damaged input; a decision's frame read back as its
//! record.

use super::*;
use crate::decision::{Decision, Hit, Reason, Verdict};
use crate::facts::Facts;
use crate::history::{Outcome, Record};

fn record(i: u64) -> Record {
    Record {
        time_us: Some(1_700_000_000_000_000 + i),
        user: format!("user{}", i % 3),
        service: "imap".into(),
        ip: if i.is_multiple_of(2) {
            "203.0.113.7".parse().unwrap()
        } else {
            "2001:db8::7".parse().unwrap()
        },
        host: (!i.is_multiple_of(4)).then(|| "ec2-3-80-1-2.compute-1.amazonaws.com".into()),
        asn: (!i.is_multiple_of(5)).then_some(16509),
        as_cc: Some("US".into()),
        as_desc: Some("AMAZON-02, US".into()),
        net_name: None,
        net_cc: None,
        entities: vec!["AMAZO-4".into(), "AT-88-Z".into()],
        cloud: vec!["aws:EC2:us-east-1".into()],
        geo_cc: None,
        outcome: Outcome::ALL[(i % 4) as usize],
        matched: (i % 4 == 1).then(|| "asn".into()),
        matched_entry: (i % 4 == 1).then(|| "asn.deny.lst:3: 16509".into()),
        lookup_errors: vec![],
    }
}

fn block_of(base: u64, rows: &[Row]) -> Vec<u8> {
    let mut body = Vec::new();
    for row in rows {
        put_varint(&mut body, row.time_us - base);
        encode_body(&mut body, row);
    }
    block_from_body(rows.len() as u64, &body)
}

#[test]
fn blocks_round_trip_records() {
    let mut strings = Strings::new();
    let mut added = Vec::new();
    let records: Vec<Record> = (0..50).map(record).collect();
    let rows: Vec<Row> = records
        .iter()
        .map(|r| Row::intern(r, &mut strings, &mut added))
        .collect();
    assert_eq!(added.len(), strings.len());
    let base = records[0].time_us.unwrap();
    let block = block_of(base, &rows);
    assert!(block.len() < 50 * 40, "{} bytes", block.len());
    let reloaded = Strings::from_pairs(added);
    let mut reader = BlockReader::new(base, &block).unwrap();
    assert_eq!(reader.remaining(), 50);
    let mut row = Row::default();
    let mut back = Vec::new();
    while reader.next_into(&mut row).unwrap() {
        back.push(row.to_record(&reloaded));
    }
    assert_eq!(back, records);
}

/// A 20 KB user name, a long AS name and 40 entities, interned from a record and from
/// its journal frame: each string is cut to 256 bytes with `…`, the list to 32 items.
#[test]
fn long_strings_and_lists_are_cut_and_the_cut_is_marked() {
    let mut r = record(1);
    r.user = "ü".repeat(10_000);
    r.as_desc = Some(format!("{}, NL", "EXAMPLE-".repeat(100)));
    r.entities = (0..40).map(|i| format!("ENT-{i}")).collect();
    let check = |got: &Record| {
        assert!(got.user.len() <= MAX_STRING_BYTES, "{}", got.user.len());
        assert!(got.user.ends_with('…') && got.user.starts_with("üüü"));
        let desc = got.as_desc.as_deref().unwrap();
        assert!(
            desc.len() <= MAX_STRING_BYTES && desc.ends_with('…'),
            "{desc}"
        );
        assert_eq!(got.entities.len(), MAX_LIST_ITEMS);
        assert_eq!(got.entities[30], "ENT-30");
        assert_eq!(got.entities[31], "… 9 more");
        assert_eq!(got.service, r.service);
    };
    let mut strings = Strings::new();
    let mut added = Vec::new();
    let row = Row::intern(&r, &mut strings, &mut added);
    check(&row.to_record(&strings));

    let mut frame = Vec::new();
    encode_record(&mut frame, &r);
    let mut view = RecordRef::default();
    decode_record_ref(&frame, &mut view).unwrap();
    let mut row = Row::default();
    let mut strings = Strings::new();
    row.intern_ref(&view, &mut strings, &mut added);
    check(&row.to_record(&strings));
    // Short strings stay as they are.
    assert_eq!(capped("a.example"), "a.example");
    assert_eq!(capped(&"x".repeat(256)).len(), 256);
}

#[test]
fn records_round_trip_on_their_own() {
    for i in 0..50 {
        let mut r = record(i);
        if i == 7 {
            r.time_us = None;
            r.lookup_errors = vec!["rdap:timeout".into(), "ptr:servfail".into()];
        }
        let mut out = Vec::new();
        encode_record(&mut out, &r);
        assert_eq!(decode_record(&out), Ok(r.clone()));
        for cut in 0..out.len() {
            assert!(decode_record(&out[..cut]).is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn damaged_blocks_are_errors_not_panics() {
    let mut strings = Strings::new();
    let rows: Vec<Row> = (0..5)
        .map(|i| Row::intern(&record(i), &mut strings, &mut Vec::new()))
        .collect();
    let block = block_of(0, &rows);
    let mut row = Row::default();
    for cut in 0..block.len() {
        let Ok(mut reader) = BlockReader::new(0, &block[..cut]) else {
            continue;
        };
        let mut result = Ok(true);
        while let Ok(true) = result {
            result = reader.next_into(&mut row);
        }
        assert!(result.is_err(), "cut at {cut} read as complete");
    }
    assert_eq!(
        BlockReader::new(0, &[9, 0]).err(),
        Some(DecodeError::Version(9))
    );
}

/// What [`crate::audit::escape`] writes as an escape: C0, DEL, C1, U+2028, U+2029.
fn is_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// The row `frame` (a payload) is stored as, with strings interned into `strings`.
fn row_of(frame: &[u8], strings: &mut Strings) -> Row {
    let mut view = RecordRef::default();
    decode_record_ref(frame, &mut view).unwrap();
    let mut row = Row::default();
    row.intern_ref(&view, strings, &mut Vec::new());
    row
}

#[test]
fn a_decision_is_stored_as_its_record_is() {
    let mut facts = Facts::unknown("2001:db8::1".parse().unwrap());
    facts.host = Some("evil>, asn=AS1\nmail-audit: x".into());
    facts.asn = Some(crate::facts::Asn(64496));
    facts.as_desc = Some("VK-AS, RU".into());
    facts.entities = vec!["A<B".into(), "MAIL-RU".into()];
    facts.cloud = vec!["aws:EC2:us-east-1".parse().unwrap()];
    facts.lookup_errors = vec!["rdap:timeout".parse().unwrap()];
    let blocked = Decision {
        verdict: Verdict::Block,
        reason: Reason::Listed(Hit {
            label: "rev_host".into(),
            file: Some("/etc/badclients/lists/rev_host.deny.lst".into()),
            line: Some(7),
            entry: "evil%>.*".into(),
        }),
        log: true,
        pattern_failures: Vec::new(),
    };
    for (decision, enforced, checked) in [
        (blocked.clone(), false, true),
        (blocked, true, false),
        (Decision::unlogged_allow(), true, true),
    ] {
        let outcome = Outcome::of(decision.verdict, enforced, checked);
        for user in ["plain", "x>, service=imap\r\n", "müller\u{2028}"] {
            let record = Record::of_decision(42, user, "imap", &facts, &decision, outcome);
            // Its values are escaped, the host's newline included.
            assert!(record.values().all(|v| !v.chars().any(is_control)));
            assert!(record
                .values()
                .any(|v| v.starts_with("evil\\x3e\\x2c asn=AS1\\x0a")));
            let mut via_record = Vec::new();
            encode_record(&mut via_record, &record);
            let mut direct = Vec::new();
            encode_decision(&mut direct, 42, user, "imap", &facts, &decision, outcome);
            // The decision's frame holds raw strings, escaped when read back.
            assert_ne!(direct, via_record, "{user:?}");
            assert_eq!(decode_record(&direct), Ok(record.clone()));
            assert_eq!(decode_record(&via_record), Ok(record));
            let mut strings = Strings::new();
            assert_eq!(
                row_of(&direct, &mut strings),
                row_of(&via_record, &mut strings),
                "{user:?}"
            );
        }
    }
}
