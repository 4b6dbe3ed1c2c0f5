//! The prefix of an audit line — whatever precedes the `mail-audit: ` marker — and the
//! time at its start: RFC 3339 (`journalctl -o short-iso`), `short-full`, `short-unix`
//! or a syslog time without a year (read against a [`Clock`]). The shapes are recognised
//! here; the calendar (days in a month, leap years, offsets) is jiff's. See the table in
//! [the module documentation](super).

use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::Timestamp;

use crate::audit::read::snippet;

const MICROS: u64 = 1_000_000;
const DAY_US: u64 = 86_400 * MICROS;

/// What a syslog time without a year is read against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The year of a syslog time (`Nov 27 12:00:00`), unless that puts it more than one day
    /// after `now_us`; then the year before.
    pub default_year: i32,
    /// Now, in microseconds since the Unix epoch.
    pub now_us: u64,
}

impl Clock {
    /// The system clock: this (UTC) year, now.
    pub fn now() -> Clock {
        Clock::at(crate::history::now_us())
    }

    /// A clock stopped at `now_us`, with that instant's UTC year as the default year.
    pub fn at(now_us: u64) -> Clock {
        let year = i64::try_from(now_us)
            .ok()
            .and_then(|us| Timestamp::from_microsecond(us).ok())
            .map_or(i32::MAX, |t| i32::from(Offset::UTC.to_datetime(t).year()));
        Clock {
            default_year: year,
            now_us,
        }
    }
}

/// Refuses a prefix that opens a JSON journal export (`journalctl -o json`): its last field
/// would run into the JSON.
pub(super) fn refuse_json(prefix: &str) -> Result<(), String> {
    if prefix.trim_start().starts_with('{') {
        return Err(
            "a JSON journal export (journalctl -o json) is not read: use -o short-iso or -o cat"
                .to_string(),
        );
    }
    Ok(())
}

/// A time as written, before it is checked and converted.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
    /// East of UTC, in seconds.
    offset_s: i64,
}

/// The time at the start of `prefix`: `Ok(None)` when it starts with none of the shapes of
/// the module documentation, an error when it has one of them with impossible values.
pub(super) fn parse_time(prefix: &str, clock: &Clock) -> Result<Option<u64>, String> {
    let s = prefix.as_bytes();
    if let Some(stamp) = iso(s)? {
        return stamp.to_us().map(Some);
    }
    if let Some(stamp) = short_full(s)? {
        return stamp.to_us().map(Some);
    }
    if let Some(t) = short_unix(s)? {
        return Ok(Some(t));
    }
    if let Some(stamp) = syslog(s) {
        return stamp.in_year_before(clock).map(Some);
    }
    Ok(None)
}

impl Stamp {
    /// Microseconds since the epoch, UTC: the calendar checked and converted by jiff. A
    /// leap second (`:60`) is the next minute's first second.
    fn to_us(self) -> Result<u64, String> {
        let bad = || {
            format!(
                "invalid time {:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                self.year, self.month, self.day, self.hour, self.minute, self.second
            )
        };
        let leap = self.second == 60;
        let small = |v: u32| i8::try_from(v).map_err(|_| bad());
        let datetime = DateTime::new(
            i16::try_from(self.year).map_err(|_| bad())?,
            small(self.month)?,
            small(self.day)?,
            small(self.hour)?,
            small(self.minute)?,
            small(if leap { 59 } else { self.second })?,
            0,
        )
        .map_err(|_| bad())?;
        let offset = i32::try_from(self.offset_s)
            .ok()
            .and_then(|s| Offset::from_seconds(s).ok())
            .ok_or_else(bad)?;
        let secs = offset
            .to_timestamp(datetime)
            .map_err(|_| bad())?
            .as_second()
            + i64::from(leap);
        let secs = u64::try_from(secs).map_err(|_| format!("{} is before 1970", bad()))?;
        Ok(secs * MICROS + u64::from(self.micros))
    }

    /// A syslog time: in the clock's default year, or the year before when that is more
    /// than one day in the future (or has no such day, 29 February).
    fn in_year_before(self, clock: &Clock) -> Result<u64, String> {
        let year = i64::from(clock.default_year);
        match (Stamp { year, ..self }).to_us() {
            Ok(t) if t <= clock.now_us.saturating_add(DAY_US) => Ok(t),
            this_year => (Stamp {
                year: year - 1,
                ..self
            })
            .to_us()
            .or(this_year),
        }
    }
}

/// A cursor over the start of a line.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8]) -> Cursor<'a> {
        Cursor { s, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek() == Some(b)).then(|| self.i += 1)
    }

    fn eat_any(&mut self, set: &[u8]) -> Option<u8> {
        let b = self.peek().filter(|b| set.contains(b))?;
        self.i += 1;
        Some(b)
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let d = self.s.get(self.i..self.i + n)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(d.iter().fold(0, |v, b| v * 10 + u32::from(b - b'0')))
    }

    /// Between `min` and `max` ASCII digits: the value and the count.
    fn digit_run(&mut self, min: usize, max: usize) -> Option<(u64, usize)> {
        let n = self.s[self.i..]
            .iter()
            .take(max + 1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min || n > max {
            return None;
        }
        let v = self.s[self.i..self.i + n]
            .iter()
            .fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
        self.i += n;
        Some((v, n))
    }

    /// An optional fraction of a second (`.123456`, 1 to 9 digits), in microseconds.
    fn fraction(&mut self) -> Option<u32> {
        if self.eat(b'.').is_none() {
            return Some(0);
        }
        let (v, n) = self.digit_run(1, 9)?;
        let micros = if n <= 6 {
            v * 10u64.pow((6 - n) as u32)
        } else {
            v / 10u64.pow((n - 6) as u32)
        };
        u32::try_from(micros).ok()
    }

    /// `HH:MM:SS[.fraction]`.
    fn clock_time(&mut self) -> Option<(u32, u32, u32, u32)> {
        let hour = self.digits(2)?;
        self.eat(b':')?;
        let minute = self.digits(2)?;
        self.eat(b':')?;
        let second = self.digits(2)?;
        let micros = self.fraction()?;
        Some((hour, minute, second, micros))
    }

    /// `YYYY-MM-DD`.
    fn date(&mut self) -> Option<(i64, u32, u32)> {
        let year = self.digits(4)?;
        self.eat(b'-')?;
        let month = self.digits(2)?;
        self.eat(b'-')?;
        let day = self.digits(2)?;
        Some((i64::from(year), month, day))
    }

    /// `±HH`, `±HHMM` or `±HH:MM`, in seconds east of UTC; `None` when the cursor is not at
    /// one.
    fn numeric_offset(&mut self) -> Option<Result<i64, String>> {
        let sign = match self.eat_any(b"+-")? {
            b'-' => -1,
            _ => 1,
        };
        let hours = self.digits(2)?;
        let colon = self.eat(b':').is_some();
        let minutes = match self.digits(2) {
            Some(m) => m,
            None if colon => return None,
            None => 0,
        };
        if hours > 23 || minutes > 59 {
            return Some(Err(format!(
                "invalid time zone offset {}{hours:02}:{minutes:02}",
                if sign < 0 { '-' } else { '+' }
            )));
        }
        Some(Ok(sign * i64::from(hours * 3600 + minutes * 60)))
    }

    /// At the end of the prefix or before white space.
    fn at_word_end(&self) -> bool {
        self.peek().is_none_or(|b| b.is_ascii_whitespace())
    }
}

/// RFC 3339 / `journalctl -o short-iso`: `2026-11-27T12:00:00[.123456](Z|+0100|+01:00)`.
fn iso(s: &[u8]) -> Result<Option<Stamp>, String> {
    let mut c = Cursor::new(s);
    let Some((year, month, day)) = c.date() else {
        return Ok(None);
    };
    if c.eat_any(b"Tt").is_none() {
        return Ok(None);
    }
    let Some((hour, minute, second, micros)) = c.clock_time() else {
        return Ok(None);
    };
    let offset_s = if c.eat_any(b"Zz").is_some() {
        0
    } else {
        match c.numeric_offset() {
            Some(offset) => offset?,
            None => return Ok(None),
        }
    };
    if !c.at_word_end() {
        return Ok(None);
    }
    Ok(Some(Stamp {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros,
        offset_s,
    }))
}

const WEEKDAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `journalctl -o short-full`: `Fri 2026-11-27 12:00:00[.123456] UTC` (or a numeric offset).
fn short_full(s: &[u8]) -> Result<Option<Stamp>, String> {
    if s.len() < 4 || !WEEKDAYS.contains(&&s[..3]) || s[3] != b' ' {
        return Ok(None);
    }
    let mut c = Cursor::new(&s[4..]);
    let Some((year, month, day)) = c.date() else {
        return Ok(None);
    };
    if c.eat(b' ').is_none() {
        return Ok(None);
    }
    let Some((hour, minute, second, micros)) = c.clock_time() else {
        return Ok(None);
    };
    if c.eat(b' ').is_none() {
        return Ok(None);
    }
    let zone_start = c.i;
    let offset_s = match c.numeric_offset() {
        Some(offset) if c.at_word_end() => offset?,
        _ => {
            c.i = zone_start;
            while !c.at_word_end() {
                c.i += 1;
            }
            let zone = &c.s[zone_start..c.i];
            if zone.is_empty() {
                return Ok(None);
            }
            if !matches!(zone, b"UTC" | b"GMT" | b"UT" | b"Z") {
                return Err(format!(
                    "time zone {} is ambiguous: export with journalctl --utc or -o short-iso",
                    snippet(&String::from_utf8_lossy(zone))
                ));
            }
            0
        }
    };
    Ok(Some(Stamp {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros,
        offset_s,
    }))
}

/// `journalctl -o short-unix`: `1795780800.123456` (at least 9 digits of seconds).
fn short_unix(s: &[u8]) -> Result<Option<u64>, String> {
    let mut c = Cursor::new(s);
    let Some((secs, _)) = c.digit_run(9, 12) else {
        return Ok(None);
    };
    if c.peek() != Some(b'.') {
        return Ok(None);
    }
    let Some(micros) = c.fraction() else {
        return Ok(None);
    };
    if !c.at_word_end() {
        return Ok(None);
    }
    // Beyond the year 9999 no other shape reaches: no time a log holds.
    let in_range = i64::try_from(secs).is_ok_and(|s| Timestamp::from_second(s).is_ok());
    if !in_range {
        return Err(format!("invalid time {secs}: after the year 9999"));
    }
    Ok(Some(secs * MICROS + u64::from(micros)))
}

/// Syslog and `journalctl` short: `Nov 27 12:00:00[.123456]`, `Nov  7 …`, `Nov 07 …`; the
/// year is left at 0.
fn syslog(s: &[u8]) -> Option<Stamp> {
    let month = MONTHS.iter().position(|m| s.get(..3) == Some(*m))?;
    let mut c = Cursor::new(s);
    c.i = 3;
    c.eat(b' ')?;
    let _ = c.eat(b' ');
    let (day, _) = c.digit_run(1, 2)?;
    c.eat(b' ')?;
    let (hour, minute, second, micros) = c.clock_time()?;
    if !c.at_word_end() {
        return None;
    }
    Some(Stamp {
        year: 0,
        month: month as u32 + 1,
        day: day as u32,
        hour,
        minute,
        second,
        micros,
        offset_s: 0,
    })
}
