//! The decision history's storage: every logged decision, kept by the daemon in its own
//! redb file. What is read out of it (`badclients report`, `badclients suggest`, the `/ui`
//! dashboard) is [`crate::analysis`]'s; nothing here depends on it.
//!
//! A [`Record`] holds one decision with every string in its audit-line form (escaped by
//! [`crate::audit::escape`]), so a history read back is as safe to print as the log line
//! and a record parsed from an old log line ([`crate::auditlog`]) is the same kind of
//! value.
//!
//! - [`record`]: `Record`, `Outcome`, `Filter`;
//! - [`journal`]: the append-only file a decision is written to before Dovecot hears the
//!   answer (survives `kill -9`), replayed into the store after a crash;
//! - [`codec`]: the compact block encoding of records over interned strings, and the
//!   journal's form of one record (a decision straight into it: [`encode_decision`]);
//! - [`store`]: `HistoryStore`, the redb file: blocks by time, the string table, scans,
//!   pruning, forgetting a user;
//! - [`writer`]: `HistoryWriter`, the request-side handle and the background batcher.

pub mod codec;
pub mod journal;
pub mod record;
pub mod store;
pub mod writer;

pub use codec::encode_decision;
pub use record::{Filter, Outcome, Record};

pub use crate::clock::now_us;

/// `AS64500`, or `none` when the AS is unknown (the table says `None`, the dashboard `—`).
pub fn asn_text(asn: Option<u32>, none: &str) -> String {
    asn.map(|a| format!("AS{a}")).unwrap_or_else(|| none.into())
}

#[cfg(test)]
pub(crate) use record::test_record;
