//! `mail-audit:` lines read back as [`Record`]s, so `badclients report` can run over log
//! files and standard input: the daemon's own lines and the older tool's (journal exports).
//!
//! # Which lines
//!
//! A line is an audit line when it holds the marker `mail-audit: ` (the first `mail-audit`
//! of the line followed by `: `). Whatever precedes the marker is a prefix, of which only
//! the start is looked at, for the time: `journalctl -o cat` prints no prefix, the older
//! tool's lines come as `dovecot[1234]: auth-worker(5678): mail-audit: …`, the daemon's
//! own under systemd as `mail-audit[1234]: mail-audit: …`. `mail-audit-maxmind:` and
//! `mail-audit-report:` lines and lines without the marker are [`ParsedLine::NotAudit`];
//! they are counted apart from malformed lines. A `journalctl -o json` line is malformed
//! (its last field would run into the JSON).
//!
//! # Time
//!
//! The time is read from the start of the line, in one of these shapes:
//!
//! | shape | example | time |
//! |---|---|---|
//! | none (`-o cat`, a bare or Dovecot-prefixed line) | `mail-audit: …` | `None` |
//! | RFC 3339, `journalctl -o short-iso[-precise]` | `2026-11-27T12:00:00+0100`, `…:00.123456+01:00`, `…:00Z` | converted to UTC |
//! | `journalctl -o short-full` | `Fri 2026-11-27 12:00:00 UTC` | `UTC`/`GMT`/numeric offsets only |
//! | `journalctl -o short-unix` | `1795780800.123456` | as it is |
//! | syslog, `journalctl` short / `short-precise` | `Nov 27 12:00:00`, `Nov  7 12:00:00.123456` | see below |
//!
//! The syslog shape has no year and no zone. The year is [`Clock::default_year`], or the year
//! before when that puts the time more than one day after [`Clock::now_us`] (a December line
//! read in January). **The wall-clock time is taken as UTC**: a log written in another zone
//! comes out shifted by that zone's offset (export it with `journalctl --utc` or
//! `-o short-iso` to avoid that). A `short-full` time in a zone abbreviation such as `CET`
//! is ambiguous and makes the line malformed, as does a time of one of these shapes with
//! impossible values (month 13, 25 o'clock, 31 April) or before 1970. Dates are computed by
//! hand (proleptic Gregorian calendar), with no date crate.
//!
//! # Fields
//!
//! The text after the marker is split before every `, ` followed by `key=` (a key of
//! `[A-Za-z0-9_.\[\]-]+`). The daemon escapes any such sequence inside a value
//! ([`crate::audit::escape`]), so its lines split exactly; the older tool did not escape,
//! but its values (`as_desc=<VK-AS, RU>`) hold no `, key=`.
//!
//! - `user=<…>`, `service=` and a valid `ip=` are required; `user` may be empty (`<>`).
//! - A value in `<…>` is unbracketed; a value with only one of the brackets (a truncated
//!   line) makes the line malformed. `None` and `<None>` mean unknown; `host=<>` means no
//!   PTR record (`None`).
//! - `asn=AS47764` (or `47764`) is `Some(47764)`, `asn=None` is `None`, anything else makes
//!   the line malformed.
//! - `entity=`, `cloud=`, `lookup_error=` accumulate in order; `entity=None` adds nothing.
//! - `blocked=True` is [`Outcome::Blocked`] with the `matched=` label, or
//!   [`Outcome::WouldBlock`] with `enforced=False`, or [`Outcome::Unverified`] with
//!   `password_checked=False` (whatever `enforced` says); `tempfail=True` is
//!   [`Outcome::TempFail`]; otherwise [`Outcome::Allowed`] (and `matched` is `None`).
//! - A field of the above repeated (other than the lists) makes the line malformed.
//! - Unknown keys (`dnsbl=`, anything newer) are ignored.
//! - `matched_entry` and `geo_cc` are always `None`: the line does not carry them.
//!
//! Values are kept as written, i.e. in the escaped form the daemon writes and the history
//! keeps. The older tool did not escape, so control characters (C0, DEL, C1, U+2028,
//! U+2029) are escaped exactly as [`crate::audit::escape`] does: a [`Record`] never holds
//! a control character. Other characters, including `\`, are left alone.
//!
//! # Reading
//!
//! [`read_lines`] reads lines from any [`BufRead`], invalid UTF-8 lossily, a line longer than
//! [`MAX_LINE_BYTES`] as malformed without keeping more than that many bytes of it.

use std::io::{BufRead, ErrorKind};
use std::net::IpAddr;

use super::time::{civil_from_days, days_from_civil};
use super::{Outcome, Record};
use crate::audit::escape;
use crate::decision::Verdict;
use crate::facts::Asn;

/// The longest line [`read_lines`] reads (without its line break); longer ones are malformed.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How many malformed lines [`ReadStats::first_malformed`] keeps.
pub const MAX_MALFORMED_KEPT: usize = 10;

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
        Clock::at(super::now_us())
    }

    /// A clock stopped at `now_us`, with that instant's UTC year as the default year.
    pub fn at(now_us: u64) -> Clock {
        let days = (now_us / DAY_US) as i64;
        let (year, _, _) = civil_from_days(days);
        Clock {
            default_year: i32::try_from(year).unwrap_or(i32::MAX),
            now_us,
        }
    }
}

/// One line, read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per line and taken apart at once; a box would cost an allocation"
)]
pub enum ParsedLine {
    /// An audit line.
    Record(Record),
    /// Not an audit line (no `mail-audit: `, or a `mail-audit-maxmind:`/`-report:` line).
    NotAudit,
    /// An audit line that cannot be read, and why (free of control characters).
    Malformed(String),
}

/// Reads one line (a trailing `\n` or `\r\n` is ignored). See the module documentation.
pub fn parse_line(line: &str, clock: &Clock) -> ParsedLine {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let Some((prefix, fields)) = find_marker(line) else {
        return ParsedLine::NotAudit;
    };
    match parse_audit(prefix, fields, clock) {
        Ok(record) => ParsedLine::Record(record),
        Err(reason) => ParsedLine::Malformed(reason),
    }
}

/// What [`read_lines`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Every line, audit or not (`records + not_audit + malformed`).
    pub lines: u64,
    pub records: u64,
    pub not_audit: u64,
    pub malformed: u64,
    /// The first [`MAX_MALFORMED_KEPT`] malformed lines: 1-based line number and reason.
    pub first_malformed: Vec<(u64, String)>,
}

/// A read that failed part way.
#[derive(Debug, thiserror::Error)]
#[error("reading line {line}: {source}")]
pub struct ReadError {
    /// The 1-based number of the line being read.
    pub line: u64,
    pub source: std::io::Error,
}

/// Reads every line of `reader`, hands each record to `on_record` in order and counts the
/// rest. Invalid UTF-8 is read lossily; a line longer than [`MAX_LINE_BYTES`] is malformed
/// (and not kept in memory). Only an I/O error stops the read.
pub fn read_lines<R: BufRead>(
    mut reader: R,
    clock: &Clock,
    mut on_record: impl FnMut(Record),
) -> Result<ReadStats, ReadError> {
    let mut stats = ReadStats::default();
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ReadError {
                    line: stats.lines + 1,
                    source,
                })
            }
        };
        if chunk.is_empty() {
            if !line.is_empty() || too_long {
                stats.take(&line, too_long, clock, &mut on_record);
            }
            return Ok(stats);
        }
        let (part, used, ends_line) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        if !too_long {
            if line.len() + part.len() > MAX_LINE_BYTES {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(part);
            }
        }
        reader.consume(used);
        if ends_line {
            stats.take(&line, too_long, clock, &mut on_record);
            line.clear();
            too_long = false;
        }
    }
}

impl ReadStats {
    fn take(
        &mut self,
        line: &[u8],
        too_long: bool,
        clock: &Clock,
        on_record: &mut impl FnMut(Record),
    ) {
        self.lines += 1;
        let parsed = if too_long {
            ParsedLine::Malformed(format!("line longer than {MAX_LINE_BYTES} bytes"))
        } else {
            parse_line(&String::from_utf8_lossy(line), clock)
        };
        match parsed {
            ParsedLine::Record(record) => {
                self.records += 1;
                on_record(record);
            }
            ParsedLine::NotAudit => self.not_audit += 1,
            ParsedLine::Malformed(reason) => {
                self.malformed += 1;
                if self.first_malformed.len() < MAX_MALFORMED_KEPT {
                    self.first_malformed.push((self.lines, reason));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The marker and the fields.

const MARKER: &str = "mail-audit";

/// The prefix before the marker and the text after `mail-audit: `, or `None` when the line
/// is not an audit line.
fn find_marker(line: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(pos) = line[from..].find(MARKER) {
        let at = from + pos;
        let after = &line[at + MARKER.len()..];
        if let Some(fields) = after.strip_prefix(": ") {
            return Some((&line[..at], fields));
        }
        if is_sibling_marker(after) {
            // `mail-audit-maxmind:`, `mail-audit-report:`: another kind of line.
            return None;
        }
        // `mail-audit[1234]:` (the journal's identifier), a host name, …
        from = at + MARKER.len();
    }
    None
}

/// Whether `after` (the text after `mail-audit`) is `-word:`.
fn is_sibling_marker(after: &str) -> bool {
    let Some(rest) = after.strip_prefix('-') else {
        return false;
    };
    let n = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        .count();
    n > 0 && rest.as_bytes().get(n) == Some(&b':')
}

fn is_key_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']' | b'-')
}

/// The length of the key when `s` starts with `key=`.
fn key_len(s: &str) -> Option<usize> {
    let n = s.bytes().take_while(is_key_byte).count();
    (n > 0 && s.as_bytes().get(n) == Some(&b'=')).then_some(n)
}

/// Splits before every `, key=`.
fn split_fields(text: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut from = 0;
    while let Some(pos) = text[from..].find(", ") {
        let at = from + pos;
        if key_len(&text[at + 2..]).is_some() {
            fields.push(&text[start..at]);
            start = at + 2;
        }
        from = at + 1;
    }
    fields.push(&text[start..]);
    fields
}

/// The fields the record is made of, as written.
#[derive(Default)]
struct RawFields<'a> {
    user: Option<&'a str>,
    service: Option<&'a str>,
    ip: Option<&'a str>,
    host: Option<&'a str>,
    asn: Option<&'a str>,
    as_cc: Option<&'a str>,
    as_desc: Option<&'a str>,
    net_name: Option<&'a str>,
    net_cc: Option<&'a str>,
    blocked: Option<&'a str>,
    matched: Option<&'a str>,
    enforced: Option<&'a str>,
    password_checked: Option<&'a str>,
    tempfail: Option<&'a str>,
    entities: Vec<&'a str>,
    cloud: Vec<&'a str>,
    lookup_errors: Vec<&'a str>,
}

impl<'a> RawFields<'a> {
    fn collect(text: &'a str) -> Result<RawFields<'a>, String> {
        let mut raw = RawFields::default();
        for field in split_fields(text) {
            let Some(n) = key_len(field) else {
                return Err(format!(
                    "expected key=value after \"mail-audit: \", found {}",
                    snippet(field)
                ));
            };
            let (key, value) = (&field[..n], &field[n + 1..]);
            let slot = match key {
                "user" => &mut raw.user,
                "service" => &mut raw.service,
                "ip" => &mut raw.ip,
                "host" => &mut raw.host,
                "asn" => &mut raw.asn,
                "as_cc" => &mut raw.as_cc,
                "as_desc" => &mut raw.as_desc,
                "net_name" => &mut raw.net_name,
                "net_cc" => &mut raw.net_cc,
                "blocked" => &mut raw.blocked,
                "matched" => &mut raw.matched,
                "enforced" => &mut raw.enforced,
                "password_checked" => &mut raw.password_checked,
                "tempfail" => &mut raw.tempfail,
                "entity" => {
                    raw.entities.push(value);
                    continue;
                }
                "cloud" => {
                    raw.cloud.push(value);
                    continue;
                }
                "lookup_error" => {
                    raw.lookup_errors.push(value);
                    continue;
                }
                // Forward compatible: fields of newer versions (`dnsbl=`, …).
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("repeated field {key}="));
            }
            *slot = Some(value);
        }
        Ok(raw)
    }
}

fn parse_audit(prefix: &str, fields: &str, clock: &Clock) -> Result<Record, String> {
    if prefix.trim_start().starts_with('{') {
        return Err(
            "a JSON journal export (journalctl -o json) is not read: use -o short-iso or -o cat"
                .to_string(),
        );
    }
    let time_us = parse_time(prefix, clock)?;
    let raw = RawFields::collect(fields)?;

    let user = sanitise(unbracket("user", raw.user.ok_or("missing user=")?)?);
    let service = sanitise(unbracket(
        "service",
        raw.service.ok_or("missing service=")?,
    )?);
    if service.is_empty() {
        return Err("empty service=".to_string());
    }
    let ip_text = unbracket("ip", raw.ip.ok_or("missing ip=")?)?;
    let ip: IpAddr = ip_text
        .parse()
        .map_err(|_| format!("invalid ip={}", snippet(ip_text)))?;
    let host = match raw.host {
        Some("<>") => None,
        Some(v) => optional("host", v)?,
        None => None,
    };
    let asn = match raw.asn.map(|v| unbracket("asn", v)).transpose()? {
        None | Some("None") => None,
        Some(v) => Some(
            v.parse::<Asn>()
                .map_err(|_| format!("invalid asn={}", snippet(v)))?
                .0,
        ),
    };
    let opt = |key: &str, v: Option<&str>| v.map(|v| optional(key, v)).transpose();
    let list = |key: &str, values: &[&str]| -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            out.extend(optional(key, v)?);
        }
        Ok(out)
    };

    let blocked = flag("blocked", raw.blocked, false)?;
    let tempfail = flag("tempfail", raw.tempfail, false)?;
    let enforced = flag("enforced", raw.enforced, true)?;
    let password_checked = flag("password_checked", raw.password_checked, true)?;
    let (outcome, matched) = match (blocked, tempfail) {
        (true, true) => return Err("both blocked=True and tempfail=True".to_string()),
        (true, false) => {
            let outcome = Outcome::of(Verdict::Block, enforced, password_checked);
            (outcome, opt("matched", raw.matched)?.flatten())
        }
        (false, true) => (Outcome::TempFail, None),
        (false, false) => (Outcome::Allowed, None),
    };

    Ok(Record {
        time_us,
        user,
        service,
        ip,
        host,
        asn,
        as_cc: opt("as_cc", raw.as_cc)?.flatten(),
        as_desc: opt("as_desc", raw.as_desc)?.flatten(),
        net_name: opt("net_name", raw.net_name)?.flatten(),
        net_cc: opt("net_cc", raw.net_cc)?.flatten(),
        entities: list("entity", &raw.entities)?,
        cloud: list("cloud", &raw.cloud)?,
        geo_cc: None,
        outcome,
        matched,
        matched_entry: None,
        lookup_errors: list("lookup_error", &raw.lookup_errors)?,
    })
}

/// `True`/`False` (any case); `default` when the field is absent.
fn flag(key: &str, value: Option<&str>, default: bool) -> Result<bool, String> {
    match value {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(format!("{key}={}: expected True or False", snippet(v))),
    }
}

/// The value without its `<…>`; a value with only one of the brackets is an error.
fn unbracket<'a>(key: &str, value: &'a str) -> Result<&'a str, String> {
    match (value.strip_prefix('<'), value.ends_with('>')) {
        (Some(inner), true) if !inner.is_empty() => Ok(&inner[..inner.len() - 1]),
        (None, false) => Ok(value),
        _ => Err(format!("unbalanced <…> in {key}={}", snippet(value))),
    }
}

/// An optional value: unbracketed, `None` for `None`, sanitised.
fn optional(key: &str, value: &str) -> Result<Option<String>, String> {
    let v = unbracket(key, value)?;
    Ok((v != "None").then(|| sanitise(v)))
}

/// Whether `c` is a character [`escape`] writes as `\xNN` / `\u{NNNN}`: C0 controls, DEL,
/// C1 controls, U+2028, U+2029. No value of a [`Record`] holds one.
pub fn is_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `value` with only its control characters escaped, exactly as [`escape`] writes them.
fn sanitise(value: &str) -> String {
    if !value.chars().any(is_control) {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if is_control(c) {
            let mut buf = [0u8; 4];
            out.push_str(&escape(c.encode_utf8(&mut buf)));
        } else {
            out.push(c);
        }
    }
    out
}

/// The start of `value` for an error message: at most 40 characters, control characters
/// escaped.
fn snippet(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", sanitise(&value[..i])),
        None => sanitise(value),
    }
}

// ---------------------------------------------------------------------------------------
// Time.

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
fn parse_time(prefix: &str, clock: &Clock) -> Result<Option<u64>, String> {
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
    /// Microseconds since the epoch, UTC.
    fn to_us(self) -> Result<u64, String> {
        let bad = || {
            format!(
                "invalid time {:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                self.year, self.month, self.day, self.hour, self.minute, self.second
            )
        };
        if !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(self.year, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 60
        {
            return Err(bad());
        }
        let secs = days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - self.offset_s;
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

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Read};

    use super::*;
    use crate::audit::AuditLine;
    use crate::decision::{Decision, Hit, Reason, Verdict};
    use crate::facts::{CloudProvider, CloudTag, Facts, LookupError};

    const CRAIG: &str = "mail-audit: user=<honey-craig>, service=imap, ip=176.112.169.218, \
        host=rimap26.i.mail.ru, asn=AS47764, as_cc=RU, as_desc=<VK-AS, RU>, \
        net_name=<VK-FRONT>, net_cc=RU, entity=EY1327-RIPE, entity=ORG-LLCn4-RIPE, \
        entity=RIPE-NCC-END-MNT, entity=VKCOMPANY-MNT, entity=VKNC, entity=MAIL-RU";

    const HONEY: &str = "mail-audit: user=<honey>, service=imap, ip=172.17.1.204, \
        host=dhcp204.internal, asn=None, as_cc=ZZ, as_desc=<IANA-RESERVED>, \
        net_name=<Private-Use Networks>, net_cc=ZZ, entity=None";

    /// Microseconds since the epoch of a UTC time.
    fn utc(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> u64 {
        let days = days_from_civil(y, mo, d);
        (days * 86_400 + i64::from(h * 3600 + mi * 60 + s)) as u64 * MICROS
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
        let line =
            "mail-audit: user=<x\\x3e\\x2c service=imap\\x2c ip=1.2.3.4\\x0a>, service=pop3, \
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
                    for (enforced, password_checked) in [(true, true), (false, true), (true, false)]
                    {
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

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2026, 11, 27), 20_784);
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        // 2026-11-27T12:00:00Z is 1795780800 (date -u -d @1795780800).
        assert_eq!(utc(2026, 11, 27, 12, 0, 0), 1_795_780_800 * MICROS);
        let mut expected = (1600, 1, 1);
        for days in days_from_civil(1600, 1, 1)..days_from_civil(2500, 1, 1) {
            let date = civil_from_days(days);
            assert_eq!(date, expected);
            assert_eq!(days_from_civil(date.0, date.1, date.2), days);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
        assert_eq!(Clock::at(utc(2024, 12, 31, 23, 59, 59)).default_year, 2024);
        assert_eq!(Clock::at(utc(2025, 1, 1, 0, 0, 0)).default_year, 2025);
        assert!(Clock::now().default_year >= 2024);
    }

    fn read(input: &[u8]) -> (ReadStats, Vec<Record>) {
        let mut records = Vec::new();
        // A tiny buffer, so lines span several reads.
        let reader = BufReader::with_capacity(7, input);
        let stats = read_lines(reader, &clock(), |r| records.push(r)).unwrap();
        (stats, records)
    }

    #[test]
    fn reader_counts_every_kind_of_line() {
        let input = format!(
            "-- Journal begins --\n{CRAIG}\r\n\nmail-audit-maxmind: user=<u>\n\
             mail-audit: user=<u>, service=imap, ip=999.1.1.1\n{HONEY}"
        );
        let (stats, records) = read(input.as_bytes());
        assert_eq!(
            stats,
            ReadStats {
                lines: 6,
                records: 2,
                not_audit: 3,
                malformed: 1,
                first_malformed: vec![(5, "invalid ip=999.1.1.1".to_string())],
            }
        );
        assert_eq!(records[0], craig());
        assert_eq!(records[1].user, "honey");
        assert_eq!(read(b"").0, ReadStats::default());
        assert_eq!(read(b"\n").0.lines, 1);
    }

    #[test]
    fn reader_reads_invalid_utf8_lossily() {
        let mut input = b"mail-audit: user=<caf\xe9\xff>, service=imap, ip=1.2.3.4\n".to_vec();
        input.extend_from_slice(b"\xff\xfe garbage\n");
        let (stats, records) = read(&input);
        assert_eq!((stats.records, stats.not_audit), (1, 1));
        assert_eq!(records[0].user, "caf\u{fffd}\u{fffd}");
    }

    #[test]
    fn reader_caps_long_lines() {
        let long = format!("{CRAIG}, entity={}", "A".repeat(MAX_LINE_BYTES));
        // Exactly MAX_LINE_BYTES long: still read.
        let head = "mail-audit: user=<u>, service=imap, ip=1.2.3.4, entity=";
        let fits = format!("{head}{}", "B".repeat(MAX_LINE_BYTES - head.len()));
        assert_eq!(fits.len(), MAX_LINE_BYTES);
        let input = format!("{long}\n{CRAIG}\n{fits}\n{fits}B");
        let (stats, records) = read(input.as_bytes());
        assert_eq!((stats.lines, stats.records, stats.malformed), (4, 2, 2));
        let too_long = "line longer than 65536 bytes".to_string();
        assert_eq!(
            stats.first_malformed,
            vec![(1, too_long.clone()), (4, too_long)]
        );
        assert_eq!(records[0], craig());
        assert_eq!(records[1].entities[0].len(), MAX_LINE_BYTES - head.len());
    }

    #[test]
    fn reader_keeps_the_first_ten_malformed_lines() {
        let input: String = (0..25)
            .map(|i| format!("mail-audit: user=<u{i}>, service=imap\n{HONEY}\n"))
            .collect();
        let (stats, records) = read(input.as_bytes());
        assert_eq!((stats.lines, stats.records, stats.malformed), (50, 25, 25));
        assert_eq!(records.len(), 25);
        assert_eq!(stats.first_malformed.len(), MAX_MALFORMED_KEPT);
        assert_eq!(stats.first_malformed[9], (19, "missing ip=".to_string()));
    }

    #[test]
    fn reader_reports_io_errors_with_the_line() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let data = format!("{HONEY}\n{HONEY}\npartial");
                if self.0 >= data.len() {
                    return Err(std::io::Error::other("disk on fire"));
                }
                let n = buf.len().min(data.len() - self.0);
                buf[..n].copy_from_slice(&data.as_bytes()[self.0..self.0 + n]);
                self.0 += n;
                Ok(n)
            }
        }
        let mut seen = 0;
        let err = read_lines(BufReader::new(Failing(0)), &clock(), |_| seen += 1).unwrap_err();
        assert_eq!(seen, 2);
        assert_eq!(err.line, 3);
        assert_eq!(err.to_string(), "reading line 3: disk on fire");
    }
}
