//! Times as the history shows and takes them: UTC `YYYY-MM-DD HH:MM`, and `--since` values
//! (`24h`, `7d`, `2026-11-01`, `2026-11-01T12:00`). The calendar is jiff's.

use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use jiff::{Timestamp, ToSpan};

/// The UTC date and time of microseconds since the epoch; `None` after the year 9999.
pub fn utc(us: u64) -> Option<DateTime> {
    let t = Timestamp::from_microsecond(i64::try_from(us).ok()?).ok()?;
    Some(Offset::UTC.to_datetime(t))
}

/// `YYYY-MM-DD HH:MM` (UTC) of microseconds since the epoch; `-` for 0 (and for a time
/// after the year 9999, which no clock or log gives).
pub fn format_minute(us: u64) -> String {
    match utc(us).filter(|_| us != 0) {
        Some(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        ),
        None => "-".into(),
    }
}

/// Why a `--since` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a span like 24h, 7d, 90m, 2w or a date like 2026-11-01 or 2026-11-01T12:00 (UTC)")]
pub struct SinceError(pub String);

/// The start time (µs) that `value` names, relative to `now_us` for spans.
pub fn parse_since(value: &str, now_us: u64) -> Result<u64, SinceError> {
    let err = || SinceError(value.to_string());
    let v = value.trim();
    let is_span = v.len() > 1 && v[..v.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if let Some(unit) = v
        .chars()
        .last()
        .filter(|c| is_span && c.is_ascii_alphabetic())
    {
        let number: u64 = v[..v.len() - 1].parse().map_err(|_| err())?;
        let secs = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(err()),
        };
        return Ok(now_us.saturating_sub(number.saturating_mul(secs).saturating_mul(1_000_000)));
    }
    let (date, clock) = match v.split_once(['T', ' ']) {
        Some((d, c)) => (d, Some(c)),
        None => (v, None),
    };
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(err());
    };
    let y: i16 = y.parse().map_err(|_| err())?;
    let m: i8 = m.parse().map_err(|_| err())?;
    let d: i8 = d.parse().map_err(|_| err())?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(err());
    }
    // A day past the month's end runs on into the next month (2025-02-31 is 3 March), as
    // it always has.
    let day = Date::new(y, m, 1)
        .and_then(|first| first.checked_add(i64::from(d - 1).days()))
        .map_err(|_| err())?;
    let midnight = Offset::UTC
        .to_timestamp(day.at(0, 0, 0, 0))
        .map_err(|_| err())?;
    let mut secs = midnight.as_second();
    if let Some(clock) = clock {
        let clock = clock.trim_end_matches('Z');
        let mut hm = clock.split(':');
        let h: i64 = hm.next().and_then(|h| h.parse().ok()).ok_or_else(err)?;
        let min: i64 = hm
            .next()
            .map_or(Some(0), |m| m.parse().ok())
            .ok_or_else(err)?;
        let s: i64 = hm
            .next()
            .map_or(Some(0), |s| s.parse().ok())
            .ok_or_else(err)?;
        if h > 23 || min > 59 || s > 60 {
            return Err(err());
        }
        secs += h * 3600 + min * 60 + s;
    }
    Ok(secs as u64 * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for date in ["1970-01-02", "2000-02-29", "2026-11-27", "2100-03-01"] {
            let us = parse_since(date, 0).unwrap();
            assert_eq!(format_minute(us), format!("{date} 00:00"));
        }
        assert_eq!(
            parse_since("2026-11-27", 0),
            Ok(20_784 * 86_400 * 1_000_000)
        );
        assert_eq!(format_minute(1_764_245_400 * 1_000_000), "2025-11-27 12:10");
        assert_eq!(format_minute(0), "-");
        assert_eq!(format_minute(u64::MAX), "-");
        // Days past the month's end run on, as before.
        assert_eq!(parse_since("2025-02-31", 0), parse_since("2025-03-03", 0));
    }

    #[test]
    fn since_values() {
        let now = 1_764_245_400 * 1_000_000;
        assert_eq!(parse_since("24h", now), Ok(now - 86_400_000_000));
        assert_eq!(parse_since("7d", now), Ok(now - 7 * 86_400_000_000));
        assert_eq!(
            parse_since("2025-11-27", now),
            Ok(1_764_201_600 * 1_000_000)
        );
        assert_eq!(parse_since("2025-11-27T12:10", now), Ok(now));
        assert_eq!(parse_since("2025-11-27 12:10:00Z", now), Ok(now));
        for bad in [
            "",
            "7x",
            "h",
            "2025-13-01",
            "2025-11",
            "yesterday",
            "2025-11-27T25:00",
        ] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
