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

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) use record::test_record;
