//! How long a rate-limited registry wants us to wait: the `Retry-After` header (seconds or
//! an HTTP-date, RFC 9110 §10.2.3), with a default when absent or unreadable and bounds
//! so that neither zero nor a year comes out. The calendar is jiff's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The wait when a rate limit names none (or one that cannot be read).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The shortest wait: a 429 with `Retry-After: 0` still pauses that registry briefly.
pub const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The longest wait honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait asked for by a `Retry-After` value received at `now`, within
/// [`MIN_RETRY_AFTER`]..=[`MAX_RETRY_AFTER`].
pub(super) fn retry_after(value: Option<&str>, now: SystemTime) -> Duration {
    let wanted = value
        .and_then(|v| parse_retry_after(v.trim(), now))
        .unwrap_or(DEFAULT_RETRY_AFTER);
    wanted.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER)
}

fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An HTTP-date in any of the three forms recipients must accept:
/// `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`,
/// `Sun Nov  6 08:49:37 1994`.
pub(super) fn parse_http_date(text: &str) -> Option<SystemTime> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let (year, month, day, time) = match words.as_slice() {
        [weekday, day, month, year, time, "GMT"] if is_weekday(weekday, true) => (
            number(year, 4)?,
            month_number(month)?,
            number(day, 2)?,
            *time,
        ),
        [weekday, date, time, "GMT"] if is_weekday(weekday, true) => {
            let mut parts = date.split('-');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            let yy = number(year, 2)?;
            let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
            (year, month_number(month)?, number(day, 2)?, *time)
        }
        [weekday, month, day, time, year] if is_weekday(weekday, false) => {
            let day = if day.len() == 1 {
                number(&format!("0{day}"), 2)?
            } else {
                number(day, 2)?
            };
            (number(year, 4)?, month_number(month)?, day, *time)
        }
        _ => return None,
    };
    let (hour, minute, second) = clock(time)?;
    if second > 60 {
        return None;
    }
    let small = |n: u32| i8::try_from(n).ok();
    // A leap second (`:60`) is read as the second before it.
    let at = jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        small(month)?,
        small(day)?,
        small(hour)?,
        small(minute)?,
        small(second.min(59))?,
        0,
    )
    .ok()?;
    let seconds = jiff::tz::Offset::UTC.to_timestamp(at).ok()?.as_second();
    UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(seconds).ok()?))
}

fn is_weekday(word: &str, with_comma: bool) -> bool {
    let name = if with_comma {
        match word.strip_suffix(',') {
            Some(name) => name,
            None => return false,
        }
    } else {
        word
    };
    name.len() >= 3 && name.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Exactly `digits` ASCII digits.
fn number(text: &str, digits: usize) -> Option<u32> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS
        .iter()
        .position(|m| *m == name)
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// `HH:MM:SS`.
fn clock(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split(':');
    let hms = (
        number(parts.next()?, 2)?,
        number(parts.next()?, 2)?,
        number(parts.next()?, 2)?,
    );
    parts.next().is_none().then_some(hms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn reads_the_three_http_date_forms() {
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(text), Some(at(784_111_777)), "{text}");
        }
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(at(0))
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(at(1_835_481_599))
        );
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "06 Nov 1994 08:49:37 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn seconds_dates_default_and_bounds() {
        let now = at(784_111_777);
        assert_eq!(retry_after(Some("120"), now), Duration::from_secs(120));
        assert_eq!(retry_after(Some(" 7 "), now), Duration::from_secs(7));
        assert_eq!(retry_after(None, now), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(Some("soon"), now), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(Some("-5"), now), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(Some("0"), now), MIN_RETRY_AFTER);
        assert_eq!(retry_after(Some("86400"), now), MAX_RETRY_AFTER);
        assert_eq!(
            retry_after(Some("99999999999999999999999"), now),
            MAX_RETRY_AFTER
        );
        assert_eq!(
            retry_after(Some("Sun, 06 Nov 1994 08:51:07 GMT"), now),
            Duration::from_secs(90)
        );
        // A date in the past: the shortest wait.
        assert_eq!(
            retry_after(Some("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            MIN_RETRY_AFTER
        );
    }
}
