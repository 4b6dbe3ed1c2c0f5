//! `HistoryStore`: the decision history's redb file.
//!
//! Three tables: `blocks` (the block's first time in microseconds → a [`codec`](crate::history::codec) block),
//! `strings` (id → string) and `meta` (record count, the last journal segment committed).
//! A batch is one write transaction with redb's immediate durability: new strings, one
//! block and the counters commit together or not at all, so a replayed journal segment is
//! never counted twice.
//!
//! The daemon holds the file open (redb locks it); other processes read the history
//! through the daemon's API instead (see `badclients report`).
//!
//! `db.rs`: opening (damage moved aside), reopening after an I/O error, the string table
//! and the sizes; `append.rs` commits batches, `scan.rs` reads rows back (plain, grouped over
//! all cores, newest first), `prune.rs` drops old records and unused strings,
//! `forget.rs` one user's records.

mod append;
mod db;
mod forget;
mod prune;
mod scan;
#[cfg(test)]
mod tests;

pub use db::{HistoryError, HistoryStats, HistoryStore, MAX_BLOCK_SPAN_US};
pub use forget::Forgotten;
pub use prune::Pruned;
pub use scan::{RowVisitor, Weight};
