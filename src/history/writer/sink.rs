//! [`Shipper`]: what a shared history (`backend = "postgres"`) does for the writer. The
//! writer knows batches and their numbers; the shipper knows the database
//! ([`crate::pghistory::PgShipper`] implements it), so the history does not depend on it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::history::Record;

/// Why a shipper failed (its message never holds a password, a user name or an address).
pub type ShipError = Box<dyn std::error::Error + Send + Sync>;

/// A ship that failed before anything could reach the database (no connection, a statement
/// refused before the commit): the batch may take more frames. Any other failure (a commit
/// unanswered, a timeout) may have written it, so it is only ever sent again unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotSent(pub ShipError);

/// The future a [`Shipper`] method returns.
pub type ShipFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ShipError>> + Send + 'a>>;

/// A shared history the writer ships its batches to. Every method is bounded in time by the
/// shipper (a database that does not answer is a failure, not a wait).
pub trait Shipper: Send + Sync {
    /// Connects and brings the schema up to date (also done by the first ship).
    fn prepare(&self) -> ShipFuture<'_, ()>;

    /// Writes batch `batch` (a number this node never gives another batch) at most once:
    /// `true` when it was written now, `false` when the history already had it.
    fn ship<'a>(&'a self, batch: u64, records: &'a [Record]) -> ShipFuture<'a, bool>;

    /// Removes what is older than `retention` (when no other node is doing it) and makes
    /// the coming days' room; returns how many days were dropped.
    fn prune(&self, retention: Duration) -> ShipFuture<'_, u64>;

    /// Deletes every record of `user` (escaped form, ignoring ASCII case); returns how many.
    fn forget<'a>(&'a self, user: &'a str) -> ShipFuture<'a, u64>;
}
