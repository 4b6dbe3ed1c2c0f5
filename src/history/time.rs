//! Times as the history shows and takes them: UTC `YYYY-MM-DD HH:MM`, and `--since` values
//! (`24h`, `7d`, `2026-11-01`, `2026-11-01T12:00`).

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD HH:MM` (UTC) of microseconds since the epoch; `-` for 0.
pub fn format_minute(us: u64) -> String {
    if us == 0 {
        return "-".into();
    }
    let secs = (us / 1_000_000) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
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
    let y: i64 = y.parse().map_err(|_| err())?;
    let m: u32 = m.parse().map_err(|_| err())?;
    let d: u32 = d.parse().map_err(|_| err())?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(err());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
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
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2026, 11, 27), (2100, 3, 1)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(days_from_civil(2026, 11, 27), 20_784);
        assert_eq!(format_minute(1_764_245_400 * 1_000_000), "2025-11-27 12:10");
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
