//! One line read: the marker found, the prefix's time and the body's fields put together
//! into the history's [`Record`] (or why the line is no audit line, or malformed).

use super::prefix::{self, Clock};
use crate::audit::read::{self as body, AuditFields};
use crate::history::record::{Outcome, Record};

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

/// Reads one line (a trailing `\n` or `\r\n` is ignored). See [the module documentation](super).
pub fn parse_line(line: &str, clock: &Clock) -> ParsedLine {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let Some((prefix, body)) = body::split_line(line) else {
        return ParsedLine::NotAudit;
    };
    match parse_audit(prefix, body, clock) {
        Ok(record) => ParsedLine::Record(record),
        Err(reason) => ParsedLine::Malformed(reason),
    }
}

/// The record of an audit line: its time from the prefix (which is read first: a bad time
/// is the reason given even when the body is bad too), the rest from the body.
fn parse_audit(prefix: &str, body: &str, clock: &Clock) -> Result<Record, String> {
    prefix::refuse_json(prefix)?;
    let time_us = prefix::parse_time(prefix, clock)?;
    let fields = body::parse_body(body)?;
    Ok(record(time_us, fields))
}

/// The history's record of a line's fields: the outcome from the verdict and the mode, no
/// GeoIP country and no list entry (the line carries neither).
fn record(time_us: Option<u64>, f: AuditFields) -> Record {
    Record {
        time_us,
        user: f.user,
        service: f.service,
        ip: f.ip,
        host: f.host,
        asn: f.asn,
        as_cc: f.as_cc,
        as_desc: f.as_desc,
        net_name: f.net_name,
        net_cc: f.net_cc,
        entities: f.entities,
        cloud: f.cloud,
        geo_cc: None,
        outcome: Outcome::of(f.verdict, f.enforced, f.password_checked),
        matched: f.matched,
        matched_entry: None,
        lookup_errors: f.lookup_errors,
    }
}
