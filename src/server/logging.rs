//! Logging: the daemon's own messages and the audit lines.
//!
//! Audit lines are events with the target `mail-audit`. On stderr they are printed as they
//! are (`mail-audit: user=<…>, …`), one per line; other messages as
//! `badclients: LEVEL message key=value…`. Under systemd (`$JOURNAL_STREAM` set) both go to
//! the journal instead: audit lines with `SYSLOG_IDENTIFIER=mail-audit` and their fields
//! (`VERDICT`, `MATCHED`, `ENFORCED`) as journal fields, the rest as `badclients`.
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

use super::decide::AUDIT_TARGET;

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
        if event.metadata().target() == AUDIT_TARGET {
            return writeln!(w, "{}", fields.message);
        }
        // The message itself may hold upstream text: keep it on one line.
        let message = fields.message.replace(['\n', '\r'], " ");
        let level = event.metadata().level();
        writeln!(w, "badclients: {level} {message}{}", fields.rest)
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
