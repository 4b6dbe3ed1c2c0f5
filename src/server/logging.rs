//! Logging: the daemon's own messages and the audit lines.
//!
//! Audit lines are events with the target `mail-audit`. On stderr every line starts with its
//! time in RFC 3339 (UTC, microseconds), so `badclients report` reads a saved log with its
//! times: audit lines are `TIME mail-audit: user=<…>, …`, one per line; other messages
//! `TIME badclients: LEVEL message key=value…`. Under systemd (`$JOURNAL_STREAM` set) both go to
//! the journal instead: audit lines with `SYSLOG_IDENTIFIER=mail-audit` and their fields
//! (`F_VERDICT`, `F_MATCHED`, `F_ENFORCED`) as journal fields, the rest as `badclients`.
//! `RUST_LOG` filters the daemon's messages (default `info`); audit lines are never filtered.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use crate::decider::AUDIT_TARGET;

/// Prints audit events as their message only, other events with a prefix.
struct LineFormat;

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let time = Rfc3339(crate::history::now_us());
        if event.metadata().target() == AUDIT_TARGET {
            return writeln!(w, "{time} {}", fields.message);
        }
        // The message itself may hold upstream text: keep it on one line.
        let message = fields.message.replace(['\n', '\r'], " ");
        let level = event.metadata().level();
        writeln!(w, "{time} badclients: {level} {message}{}", fields.rest)
    }
}

/// A time in microseconds since the epoch as RFC 3339 in UTC:
/// `2026-12-03T08:40:12.123456Z`.
#[derive(Debug, Clone, Copy)]
pub struct Rfc3339(pub u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0 % 1_000_000;
        let Some(t) = crate::analysis::time::utc(self.0) else {
            return write!(f, "{}.{micros:06}", self.0 / 1_000_000);
        };
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

fn is_audit(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() == AUDIT_TARGET
}

/// Installs the logging for `badclients serve`. Call once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let journald = if journal {
        match (tracing_journald::layer(), tracing_journald::layer()) {
            (Ok(audit), Ok(daemon)) => Some((audit, daemon)),
            _ => None,
        }
    } else {
        None
    };
    let result = match journald {
        Some((audit, daemon)) => {
            let audit = audit
                .with_syslog_identifier(AUDIT_TARGET.to_string())
                .with_filter(filter_fn(is_audit));
            let daemon = daemon
                .with_syslog_identifier("badclients".to_string())
                .with_filter(filter)
                .with_filter(filter_fn(|m| !is_audit(m)));
            tracing::subscriber::set_global_default(Registry::default().with(audit).with(daemon))
        }
        None => {
            let audit = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .event_format(LineFormat)
                .with_filter(filter_fn(is_audit));
            let daemon = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .event_format(LineFormat)
                .with_filter(filter)
                .with_filter(filter_fn(|m| !is_audit(m)));
            tracing::subscriber::set_global_default(Registry::default().with(audit).with(daemon))
        }
    };
    if result.is_err() {
        eprintln!("badclients: logging was already set up");
    }
}

/// The problems logged per list file and load; the rest are counted in one line.
pub const DIAGNOSTICS_PER_FILE: usize = 20;

/// Logs what a load of the lists found: the first [`DIAGNOSTICS_PER_FILE`] problems of each
/// file, then one line with how many more there are (`badclients lists check` prints them
/// all), so that a list of a thousand bad lines does not flood the log at every reload.
pub fn log_diagnostics(diagnostics: &[crate::lists::Diagnostic]) {
    for line in diagnostic_lines(diagnostics) {
        match line {
            DiagnosticLine::Error(text) => tracing::error!("{text}"),
            DiagnosticLine::Warning(text) => tracing::warn!("{text}"),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum DiagnosticLine {
    Error(String),
    Warning(String),
}

fn diagnostic_lines(diagnostics: &[crate::lists::Diagnostic]) -> Vec<DiagnosticLine> {
    use crate::lists::Severity;
    let mut out = Vec::new();
    // Files in the order their first problem comes.
    let mut files: Vec<&std::path::Path> = Vec::new();
    for d in diagnostics {
        if !files.contains(&d.path.as_path()) {
            files.push(&d.path);
        }
    }
    for file in files {
        let of_file = diagnostics.iter().filter(|d| d.path == file);
        let (mut errors, mut warnings) = (0usize, 0usize);
        for (i, d) in of_file.enumerate() {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            if i < DIAGNOSTICS_PER_FILE {
                out.push(match d.severity {
                    Severity::Error => DiagnosticLine::Error(d.to_string()),
                    Severity::Warning => DiagnosticLine::Warning(d.to_string()),
                });
            }
        }
        if errors + warnings > DIAGNOSTICS_PER_FILE {
            let shown = diagnostics
                .iter()
                .filter(|d| d.path == file)
                .take(DIAGNOSTICS_PER_FILE);
            let shown_errors = shown.filter(|d| d.severity == Severity::Error).count();
            let more_errors = errors - shown_errors;
            let more_warnings = errors + warnings - DIAGNOSTICS_PER_FILE - more_errors;
            let text = format!(
                "{}: {more_errors} more errors and {more_warnings} more warnings not shown \
                 (`badclients lists check` prints them all)",
                file.display()
            );
            out.push(if more_errors > 0 {
                DiagnosticLine::Error(text)
            } else {
                DiagnosticLine::Warning(text)
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::{Diagnostic, Severity};

    fn diag(path: &str, line: usize, severity: Severity) -> Diagnostic {
        Diagnostic {
            path: path.into(),
            line: Some(line),
            severity,
            message: format!("problem {line}"),
        }
    }

    #[test]
    fn a_thousand_problems_of_one_file_are_twenty_lines_and_a_count() {
        let mut all: Vec<Diagnostic> = (1..=1000)
            .map(|i| {
                diag(
                    "lists/rev_host.deny.lst",
                    i,
                    if i % 100 == 0 {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                )
            })
            .collect();
        all.push(diag("lists/asn.deny.lst", 3, Severity::Error));
        let lines = diagnostic_lines(&all);
        assert_eq!(lines.len(), DIAGNOSTICS_PER_FILE + 2);
        assert_eq!(
            lines[0],
            DiagnosticLine::Warning("lists/rev_host.deny.lst:1: warning: problem 1".into())
        );
        assert_eq!(
            lines[DIAGNOSTICS_PER_FILE],
            DiagnosticLine::Error(
                "lists/rev_host.deny.lst: 10 more errors and 970 more warnings not shown \
                 (`badclients lists check` prints them all)"
                    .into()
            )
        );
        assert_eq!(
            lines[DIAGNOSTICS_PER_FILE + 1],
            DiagnosticLine::Error("lists/asn.deny.lst:3: error: problem 3".into())
        );
        // A file with few problems has all of them shown and no count.
        assert_eq!(diagnostic_lines(&all[990..]).len(), 11);
    }
}
