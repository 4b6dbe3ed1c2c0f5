//! The times at the start of a line: syslog (with the year inferred), RFC 3339,
//! `short-full`, `short-unix`, and impossible ones.

use super::*;

#[test]
fn journal_identifier_mail_audit_is_not_the_marker() {
    let line = format!("Nov 27 12:00:00 mx1 mail-audit[77]: {CRAIG}");
    let r = record(&line);
    assert_eq!(r.time_us, Some(utc(2026, 11, 27, 12, 0, 0)));
    assert_eq!(r.user, "honey-craig");
    // A host named like the marker is not the marker either.
    let line = format!("Nov 27 12:00:00 mail-audit-1 mail-audit.example dovecot: {CRAIG}");
    assert_eq!(record(&line).user, "honey-craig");
}

#[test]
fn syslog_time_takes_the_default_year_as_utc() {
    let line = format!("Nov 27 12:00:00 mx1 dovecot[1234]: auth-worker(5678): {CRAIG}");
    let r = record(&line);
    assert_eq!(r.time_us, Some(utc(2026, 11, 27, 12, 0, 0)));
    assert_eq!(Record { time_us: None, ..r }, craig());
    // Space-padded and zero-padded days, fractions (short-precise).
    for (stamp, want) in [
        ("Nov  7 01:02:03", utc(2026, 11, 7, 1, 2, 3)),
        ("Nov 07 01:02:03", utc(2026, 11, 7, 1, 2, 3)),
        ("Nov 7 01:02:03", utc(2026, 11, 7, 1, 2, 3)),
        (
            "Nov 27 12:00:00.123456",
            utc(2026, 11, 27, 12, 0, 0) + 123_456,
        ),
        ("Nov 27 12:00:00.5", utc(2026, 11, 27, 12, 0, 0) + 500_000),
    ] {
        let line = format!("{stamp} mx1 dovecot[1]: {HONEY}");
        assert_eq!(record(&line).time_us, Some(want), "{stamp}");
    }
}

#[test]
fn syslog_time_rolls_back_a_year_when_in_the_future() {
    // Read on 2027-01-01 00:30 UTC: December was last year, January this year.
    let clock = Clock::at(utc(2027, 1, 1, 0, 30, 0));
    assert_eq!(clock.default_year, 2027);
    let dec = record_at(&format!("Dec 31 23:59:59 mx1 x: {HONEY}"), &clock);
    assert_eq!(dec.time_us, Some(utc(2026, 12, 31, 23, 59, 59)));
    let jan = record_at(&format!("Jan  1 00:10:00 mx1 x: {HONEY}"), &clock);
    assert_eq!(jan.time_us, Some(utc(2027, 1, 1, 0, 10, 0)));
    // Up to one day ahead (a clock skew, a zone east of UTC) stays in this year.
    let jan2 = record_at(&format!("Jan  2 00:29:00 mx1 x: {HONEY}"), &clock);
    assert_eq!(jan2.time_us, Some(utc(2027, 1, 2, 0, 29, 0)));
    let jan3 = record_at(&format!("Jan  2 00:31:00 mx1 x: {HONEY}"), &clock);
    assert_eq!(jan3.time_us, Some(utc(2026, 1, 2, 0, 31, 0)));
    // 29 February in a year without one: the year before, if it had one.
    let clock = Clock {
        default_year: 2025,
        now_us: utc(2025, 3, 10, 0, 0, 0),
    };
    let feb = record_at(&format!("Feb 29 10:00:00 mx1 x: {HONEY}"), &clock);
    assert_eq!(feb.time_us, Some(utc(2024, 2, 29, 10, 0, 0)));
    let clock = Clock {
        default_year: 2026,
        now_us: utc(2026, 3, 10, 0, 0, 0),
    };
    let r = parse_line(&format!("Feb 29 10:00:00 mx1 x: {HONEY}"), &clock);
    assert!(
        matches!(&r, ParsedLine::Malformed(m) if m.contains("invalid time")),
        "{r:?}"
    );
}

#[test]
fn iso_times_are_converted_to_utc() {
    let noon = utc(2026, 11, 27, 12, 0, 0);
    for (stamp, want) in [
        ("2026-11-27T13:00:00+0100", noon),
        ("2026-11-27T13:00:00+01:00", noon),
        ("2026-11-27T13:00:00+01", noon),
        ("2026-11-27T12:00:00Z", noon),
        ("2026-11-27t12:00:00z", noon),
        ("2026-11-27T07:30:00-04:30", noon),
        ("2026-11-27T13:00:00.123456+01:00", noon + 123_456),
        ("2026-11-27T12:00:00.123456789Z", noon + 123_456),
        ("2026-11-27T12:00:00.1Z", noon + 100_000),
        ("2026-11-28T00:30:00+12:30", noon),
        ("2027-01-01T00:30:00+0100", utc(2026, 12, 31, 23, 30, 0)),
    ] {
        let line = format!("{stamp} mx1 dovecot[1]: auth-worker(2): {CRAIG}");
        let r = record(&line);
        assert_eq!(r.time_us, Some(want), "{stamp}");
        assert_eq!(Record { time_us: None, ..r }, craig());
    }
}

#[test]
fn short_full_and_short_unix_times() {
    let noon = utc(2026, 11, 27, 12, 0, 0);
    for stamp in [
        "Fri 2026-11-27 12:00:00 UTC",
        "Fri 2026-11-27 12:00:00 GMT",
        "Fri 2026-11-27 13:00:00 +0100",
        "Fri 2026-11-27 13:00:00 +01:00",
    ] {
        let line = format!("{stamp} mx1 dovecot[1]: {HONEY}");
        assert_eq!(record(&line).time_us, Some(noon), "{stamp}");
    }
    let line = format!("Fri 2026-11-27 12:00:00.250000 UTC mx1 x: {HONEY}");
    assert_eq!(record(&line).time_us, Some(noon + 250_000));
    let reason = malformed(&format!("Fri 2026-11-27 13:00:00 CET mx1 x: {HONEY}"));
    assert!(
        reason.contains("CET") && reason.contains("--utc"),
        "{reason}"
    );

    let secs = noon / MICROS;
    let line = format!("{secs}.123456 mx1 dovecot[1]: {HONEY}");
    assert_eq!(record(&line).time_us, Some(noon + 123_456));
}

#[test]
fn impossible_times_are_malformed() {
    for stamp in [
        "2026-13-27T12:00:00Z",
        "2026-04-31T12:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T12:60:00Z",
        "2026-11-27T12:00:00+24:00",
        "1969-12-31T23:59:59Z",
        "Nov 32 12:00:00",
        "Nov 00 12:00:00",
        "Nov 27 25:00:00",
        "Fri 2026-02-30 12:00:00 UTC",
        "253402300800.000000",
    ] {
        let reason = malformed(&format!("{stamp} mx1 dovecot[1]: {HONEY}"));
        assert!(reason.contains("time"), "{stamp}: {reason}");
    }
    // A start that has none of the shapes is no time at all.
    for prefix in [
        "[ 1234.567890] mx1 x: ",
        "2026-11-27 12:00:00 ",
        "Nov 27 12:00 x: ",
        "November 27 12:00:00 x: ",
        "12345.6 x: ",
        "2026-11-27T12:00:00 x: ",
    ] {
        assert_eq!(
            record(&format!("{prefix}{HONEY}")).time_us,
            None,
            "{prefix}"
        );
    }
}

#[test]
fn civil_dates() {
    // 2026-11-27T12:00:00Z is 1795780800 (date -u -d @1795780800).
    assert_eq!(utc(2026, 11, 27, 12, 0, 0), 1_795_780_800 * MICROS);
    assert_eq!(utc(1970, 1, 1, 0, 0, 0), 0);
    assert_eq!(utc(2000, 3, 1, 0, 0, 0), 11_017 * 86_400 * MICROS);
    assert_eq!(utc(2026, 11, 27, 0, 0, 0), 20_784 * 86_400 * MICROS);
    // Every day from 1970 to 2200 read from a line is the day before plus 86,400 seconds,
    // the calendar walked here by hand as the oracle.
    let is_leap = |y: u32| y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
    let days_in_month = |y: u32, m: u32| match m {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 31,
    };
    let (mut y, mut m, mut d) = (1970u32, 1u32, 1u32);
    let mut expected = 0u64;
    while y < 2200 {
        let line = format!("{y:04}-{m:02}-{d:02}T00:00:00Z mx1 x: {HONEY}");
        assert_eq!(record(&line).time_us, Some(expected), "{y}-{m}-{d}");
        expected += 86_400 * MICROS;
        (y, m, d) = if d < days_in_month(y, m) {
            (y, m, d + 1)
        } else if m < 12 {
            (y, m + 1, 1)
        } else {
            (y + 1, 1, 1)
        };
    }
    // One past a month's end is no time.
    for (y, m) in [(2026, 2), (2024, 4), (2100, 2), (2000, 12)] {
        let d = days_in_month(y, m) + 1;
        let reason = malformed(&format!("{y:04}-{m:02}-{d:02}T00:00:00Z mx1 x: {HONEY}"));
        assert!(reason.contains("invalid time"), "{reason}");
    }
    assert_eq!(Clock::at(utc(2024, 12, 31, 23, 59, 59)).default_year, 2024);
    assert_eq!(Clock::at(utc(2025, 1, 1, 0, 0, 0)).default_year, 2025);
    assert!(Clock::now().default_year >= 2024);
}
