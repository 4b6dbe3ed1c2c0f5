//! Any bytes as log lines: reading `mail-audit:` lines never panics, a record never holds a
//! control character (the older tool's unescaped values are escaped on the way in), and a
//! single line reads the same through `parse_line` and `read_lines`.
#![no_main]

use badclients::auditlog::{
    is_control, parse_line, read_lines, Clock, ParsedLine, MAX_LINE_BYTES,
};
use badclients::history::Record;
use libfuzzer_sys::fuzz_target;

fn clean(s: &str) -> bool {
    !s.chars().any(is_control)
}

fn check(r: &Record) {
    for s in r.values() {
        assert!(clean(s), "control character in {s:?}");
    }
    assert!(r.geo_cc.is_none() && r.matched_entry.is_none());
    assert!(r.matched.is_none() || r.outcome.matched_a_list());
}

fuzz_target!(|data: &[u8]| {
    // 2026-11-27T12:00:00Z: `Dec 31` lines belong to 2025, `Nov 28` to this year.
    let clock = Clock::at(1_795_780_800_000_000);
    let parsed = parse_line(&String::from_utf8_lossy(data), &clock);
    match &parsed {
        ParsedLine::Record(r) => check(r),
        ParsedLine::Malformed(reason) => assert!(clean(reason), "{reason:?}"),
        ParsedLine::NotAudit => {}
    }

    // The same bytes as a file.
    let mut records = Vec::new();
    let stats = read_lines(data, &clock, |r| {
        check(&r);
        records.push(r);
    })
    .expect("reading a slice cannot fail");
    assert_eq!(
        stats.lines,
        stats.records + stats.not_audit + stats.malformed
    );
    assert_eq!(stats.records, records.len() as u64);
    for (_, reason) in &stats.first_malformed {
        assert!(clean(reason), "{reason:?}");
    }
    if !data.is_empty() && !data.contains(&b'\n') && data.len() <= MAX_LINE_BYTES {
        assert_eq!(stats.lines, 1);
        match parsed {
            ParsedLine::Record(r) => assert_eq!(records, [r]),
            ParsedLine::NotAudit => assert_eq!(stats.not_audit, 1),
            ParsedLine::Malformed(reason) => {
                assert_eq!(stats.first_malformed, [(1, reason)])
            }
        }
    }
});
