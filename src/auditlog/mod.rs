//! `mail-audit:` lines read back as [`Record`](crate::history::Record)s, so `badclients report` can run over log
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
//! impossible values (month 13, 25 o'clock, 31 April), before 1970 or after 9999. The
//! calendar is jiff's.
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
//! - `blocked=True` is [`Outcome::Blocked`](crate::history::Outcome::Blocked) with the `matched=` label, or
//!   [`Outcome::WouldBlock`](crate::history::Outcome::WouldBlock) with `enforced=False`, or [`Outcome::Unverified`](crate::history::Outcome::Unverified) with
//!   `password_checked=False` (whatever `enforced` says); `tempfail=True` is
//!   [`Outcome::TempFail`](crate::history::Outcome::TempFail); otherwise [`Outcome::Allowed`](crate::history::Outcome::Allowed) (and `matched` is `None`).
//! - A field of the above repeated (other than the lists) makes the line malformed.
//! - Unknown keys (`dnsbl=`, anything newer) are ignored.
//! - `matched_entry` and `geo_cc` are always `None`: the line does not carry them.
//!
//! Values are kept as written, i.e. in the escaped form the daemon writes and the history
//! keeps. The older tool did not escape, so control characters (C0, DEL, C1, U+2028,
//! U+2029) are escaped exactly as [`crate::audit::escape`] does: a [`Record`](crate::history::Record) never holds
//! a control character. Other characters, including `\`, are left alone.
//!
//! # Reading
//!
//! [`read_lines`] reads lines from any [`BufRead`](std::io::BufRead), invalid UTF-8
//! lossily, a line longer than [`MAX_LINE_BYTES`] as malformed without keeping more than
//! that many bytes of it; [`LogFiles`] reads files and standard input in turn.
//!
//! # Parts
//!
//! - `prefix.rs`: the prefix before the marker and its time ([`Clock`]);
//! - [`crate::audit::read`] (in the policy core, beside the writer): the fields after the
//!   marker into [`AuditFields`];
//! - `line.rs`: the two put together into a record for the history and the analysis;
//! - `reader.rs`: lines from a reader or files, counted.

mod line;
mod prefix;
mod reader;
#[cfg(test)]
mod tests;

pub use crate::audit::read::{is_control, AuditFields};
pub use line::{parse_line, ParsedLine};
pub use prefix::Clock;
pub use reader::{
    read_lines, FilesError, LogFiles, ReadError, ReadStats, MAX_LINE_BYTES, MAX_MALFORMED_KEPT,
};
