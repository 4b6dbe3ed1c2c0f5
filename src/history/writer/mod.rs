//! `HistoryWriter`: how decisions get into the history without slowing a login down.
//!
//! On the request path, [`HistoryWriter::record_decision`] encodes the decision (strings
//! raw, escaped later) and copies the frame into the current journal segment, a file
//! mapped into memory (no system call, no `fsync`); the login is answered after that. A
//! background task commits the batch to the [`HistoryStore`] every `flush_ms` (or sooner
//! when `batch_max` records wait), keeps the committed segments, zeroed, for the next
//! batches, and prunes the store by age and size once a minute. A failed commit keeps the
//! segments (still mapped) for the next attempt and, on disk, for the next start.
//!
//! With `[history] backend = "postgres"` there is no store: each journal segment (and the
//! frames kept in memory) is one batch [`Shipper::ship`]ped to the shared history under the
//! segment's number, which PostgreSQL records so a batch sent twice is written once
//! (`ship.rs`). A segment that went out is never appended to again; segments left on disk
//! are taken up at open and shipped (see [`HistoryWriter::open_shipping`] for why batch
//! numbers never repeat).
//!
//! Here: the settings, the counters, the shared state and the request side (frame, copy,
//! count); `batcher.rs` is the background task, `replay.rs` the replay at open, `ship.rs`
//! the shipping flush and `sink.rs` the [`Shipper`] a shared history implements.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use super::codec::Strings;
use super::journal::{self, Segment};
use super::store::{HistoryError, HistoryStore};
use super::Record;
use crate::redb_guard::Backoff;
use crate::warn_limit::WarnLimit;

pub use replay::{replay_journal, Replay};
pub use sink::{NotSent, ShipError, ShipFuture, Shipper};

mod batcher;
mod replay;
mod ship;
mod sink;
#[cfg(test)]
mod tests;

/// How the writer runs.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub path: PathBuf,
    /// Records older than this are pruned.
    pub retention: Duration,
    /// At most this many records are kept (the oldest go first).
    pub max_records: u64,
    pub flush_interval: Duration,
    pub batch_max: usize,
    /// The space a journal segment reserves ([`journal::SEGMENT_BYTES`]).
    pub segment_bytes: usize,
    /// The journal's cap: segments on disk plus frames kept in memory. Beyond it a
    /// decision is still answered (and in the audit line) but not kept in the history: it
    /// is counted in [`WriterCounters::lost`].
    pub journal_max_bytes: u64,
}

/// The default of `[history] journal_max_bytes`: 16 segments, about 430,000 decisions.
pub const JOURNAL_MAX_BYTES: u64 = 64 << 20;

/// The default of `[history] journal_max_bytes` with `backend = "postgres"`: 256 segments,
/// about 7 million decisions — a PostgreSQL outage of several minutes at full load.
pub const JOURNAL_MAX_BYTES_SHIPPING: u64 = 1 << 30;

/// How often a repeated history failure is logged (with a count).
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Counters for `/metrics` and the dashboard.
#[derive(Debug, Default)]
pub struct WriterCounters {
    pub committed: AtomicU64,
    pub journal_errors: AtomicU64,
    pub commit_errors: AtomicU64,
    pub pruned: AtomicU64,
    pub replayed: AtomicU64,
    /// Decisions answered but not kept: the journal was at its cap.
    pub lost: AtomicU64,
    /// Bytes the journal holds now (segments on disk and frames in memory).
    pub journal_bytes: AtomicU64,
    /// Strings the history keeps (user names, host names, networks…), as of the last
    /// prune.
    pub strings: AtomicU64,
    /// Shipping (`backend = "postgres"`): batches and decisions PostgreSQL took, failed
    /// ship attempts, batches it already had (sent again after a crash or an unanswered
    /// commit), the decisions and bytes waiting (pending and in flight), and when the backlog
    /// was last empty (µs since the epoch; the open until it first is).
    pub batches_shipped: AtomicU64,
    pub rows_shipped: AtomicU64,
    pub ship_failures: AtomicU64,
    pub batches_already_shipped: AtomicU64,
    pub backlog_decisions: AtomicU64,
    pub backlog_bytes: AtomicU64,
    pub caught_up_us: AtomicU64,
}

struct Pending {
    /// The segments holding the records not yet committed, oldest first; new frames go to
    /// the last one. After a failed commit its segments come back here, still mapped.
    segments: Vec<Segment>,
    /// Frames no segment could take (the journal could not be created): kept in memory
    /// only, committed with the batch.
    memory: Vec<u8>,
    /// Records pending, in segments and in memory.
    count: usize,
    next_segment: u64,
    /// Creating a segment failed in this batch: don't try again per request.
    journal_failed: bool,
    /// Committed segments, zeroed, kept for the next batches.
    spare: Vec<Segment>,
    /// Shipping: segments numbered below this may be in the database (a ship of them failed
    /// in a way that may have committed, or they came from disk) and take no more frames —
    /// such a batch must be sent again as it was. 0 with the store.
    sealed_below: u64,
    /// Shipping: in-memory batches that went out and failed, with their numbers.
    sealed_memory: Vec<(u64, Vec<u8>)>,
}

/// How many committed segments are kept for reuse: as many as the last batch used, plus one
/// for the batch being written while another commits; at least two, at most eight.
const SPARE_SEGMENTS: usize = 2;
const MAX_SPARE_SEGMENTS: usize = 8;

/// Where batches go.
enum Target {
    /// The redb file.
    Store(Arc<HistoryStore>),
    /// A shared history (PostgreSQL), and whether its last ship attempt failed.
    Ship {
        shipper: Arc<dyn Shipper>,
        failing: std::sync::atomic::AtomicBool,
        warn_prune: WarnLimit,
    },
}

struct Shared {
    target: Target,
    settings: WriterSettings,
    pending: Mutex<Pending>,
    strings: Mutex<Strings>,
    /// Held for a whole flush (taking the pending batch and committing it), so that a
    /// forget commits after every batch taken before it.
    flushing: tokio::sync::Mutex<()>,
    wake: Notify,
    counters: WriterCounters,
    /// When the closed store may be reopened, and the back-off after that.
    recovery: Mutex<Recovery>,
    warn_journal: WarnLimit,
    warn_lost: WarnLimit,
    warn_commit: WarnLimit,
}

/// The store's state after a failure that needs a reopen.
#[derive(Debug, Default)]
struct Recovery {
    reopen_at: Option<std::time::Instant>,
    backoff: Backoff,
}

impl Pending {
    /// What waits at open: `segments` holding `count` records, the next segment numbered
    /// `next_segment`, the segments below `sealed_below` taking no more frames.
    fn new(segments: Vec<Segment>, count: usize, next_segment: u64, sealed_below: u64) -> Pending {
        Pending {
            segments,
            memory: Vec::new(),
            count,
            next_segment,
            journal_failed: false,
            spare: Vec::new(),
            sealed_below,
            sealed_memory: Vec::new(),
        }
    }
}

impl Shared {
    /// The writer's state, whichever the target.
    fn new(
        target: Target,
        settings: WriterSettings,
        pending: Pending,
        strings: Strings,
        counters: WriterCounters,
    ) -> Shared {
        Shared {
            target,
            settings,
            pending: Mutex::new(pending),
            strings: Mutex::new(strings),
            flushing: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            counters,
            recovery: Mutex::new(Recovery::default()),
            warn_journal: WarnLimit::new(WARN_INTERVAL),
            warn_lost: WarnLimit::new(WARN_INTERVAL),
            warn_commit: WarnLimit::new(WARN_INTERVAL),
        }
    }
}

/// The request-side handle (cheap to clone) of the history.
#[derive(Clone)]
pub struct HistoryWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HistoryWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryWriter")
            .field("path", &self.shared.settings.path)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HistoryWriter {
    /// Opens the store, replays journal segments left by a crash, and returns the writer
    /// with any warnings to log. Call [`HistoryWriter::run`] in a task.
    pub fn open(settings: WriterSettings) -> Result<(HistoryWriter, Vec<String>), HistoryError> {
        let (store, warning) = HistoryStore::open(&settings.path)?;
        let mut warnings: Vec<String> = warning.into_iter().collect();
        let mut strings = store.strings()?;
        let replay = replay_journal(&store, &mut strings, &settings.path)?;
        warnings.extend(replay.warnings);
        let (last, replayed) = (replay.last_segment, replay.replayed);
        let counters = WriterCounters::default();
        counters.replayed.store(replayed, Ordering::Relaxed);
        counters
            .strings
            .store(strings.len() as u64, Ordering::Relaxed);
        let shared = Shared::new(
            Target::Store(Arc::new(store)),
            settings,
            Pending::new(Vec::new(), 0, last + 1, 0),
            strings,
            counters,
        );
        Ok((
            HistoryWriter {
                shared: Arc::new(shared),
            },
            warnings,
        ))
    }

    /// The redb store; `None` when batches are shipped to a shared history instead.
    pub fn store(&self) -> Option<&Arc<HistoryStore>> {
        match &self.shared.target {
            Target::Store(store) => Some(store),
            Target::Ship { .. } => None,
        }
    }

    pub fn counters(&self) -> &WriterCounters {
        &self.shared.counters
    }

    /// Journals `record` and queues it for the store (see [`HistoryWriter::record_decision`]).
    pub fn record(&self, record: &Record) {
        self.queue(journal::line(record));
    }

    /// Journals the decision being made and queues it for the store. Never fails the
    /// login: a journal that cannot be written is logged and counted, and the record still
    /// reaches the store with the next batch.
    pub fn record_decision(
        &self,
        time_us: u64,
        user: &str,
        service: &str,
        facts: &crate::facts::Facts,
        decision: &crate::decision::Decision,
        outcome: super::Outcome,
    ) {
        self.queue(journal::frame(|out| {
            super::encode_decision(out, time_us, user, service, facts, decision, outcome)
        }));
    }

    /// Copies a frame into the current segment (starting one when there is none or it is
    /// full) and counts it for the next batch.
    fn queue(&self, frame: std::io::Result<Vec<u8>>) {
        let shared = &*self.shared;
        let frame = match frame {
            Ok(f) => f,
            Err(err) => {
                shared
                    .counters
                    .journal_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %err, "cannot encode a decision for the history");
                return;
            }
        };
        let mut pending = lock(&shared.pending);
        let sealed_below = pending.sealed_below;
        let copied = pending
            .segments
            .last_mut()
            .is_some_and(|segment| segment.number >= sealed_below && segment.append(&frame));
        if !copied && !self.new_segment(&mut pending, &frame) {
            return;
        }
        pending.count += 1;
        if pending.count >= shared.settings.batch_max {
            shared.wake.notify_one();
        }
    }

    /// Starts a segment holding `frame`, or keeps the frame in memory when none can be
    /// created (logged once per interval); `false` when the journal is at its cap and the
    /// frame is lost (counted, logged once per interval).
    fn new_segment(&self, pending: &mut Pending, frame: &[u8]) -> bool {
        let shared = &*self.shared;
        let cap = shared.settings.journal_max_bytes;
        let on_disk = shared.counters.journal_bytes.load(Ordering::Relaxed);
        let room_for_segment = pending
            .spare
            .last()
            .is_some_and(|s| s.capacity() >= frame.len())
            || on_disk + shared.settings.segment_bytes.max(frame.len()) as u64 <= cap;
        if !pending.journal_failed && room_for_segment {
            match self.next_segment(pending, frame.len()) {
                Ok(mut segment) => {
                    if !pending.segments.is_empty() {
                        // A full segment: a large batch is waiting.
                        shared.wake.notify_one();
                    }
                    // Always copied: the segment was chosen or made for this frame.
                    let copied = segment.append(frame);
                    pending.segments.push(segment);
                    if copied {
                        return true;
                    }
                }
                Err(err) => {
                    pending.journal_failed = true;
                    if let Some(n) = shared.warn_journal.hit() {
                        tracing::error!(
                            error = %err,
                            failures = n,
                            "cannot create a history journal segment; decisions are kept in memory only until they are committed"
                        );
                    }
                }
            }
        }
        if on_disk + (pending.memory.len() + frame.len()) as u64 > cap {
            // The journal is at its cap: the decision was answered and logged in the audit
            // line, but the history does not get it.
            shared.counters.lost.fetch_add(1, Ordering::Relaxed);
            if let Some(n) = shared.warn_lost.hit() {
                tracing::error!(
                    lost = n,
                    journal_max_bytes = cap,
                    "history journal at its cap while the store cannot commit; decisions not kept in the history (still in the audit log)"
                );
            }
            return false;
        }
        shared
            .counters
            .journal_errors
            .fetch_add(1, Ordering::Relaxed);
        pending.memory.extend_from_slice(frame);
        shared
            .counters
            .journal_bytes
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        true
    }

    /// The segment for the next frames, with the next number and room for `len` bytes: a
    /// spare one when one is large enough, else a new one.
    fn next_segment(&self, pending: &mut Pending, len: usize) -> std::io::Result<Segment> {
        let settings = &self.shared.settings;
        let n = pending.next_segment;
        pending.next_segment = n + 1;
        if pending.spare.last().is_some_and(|s| s.capacity() >= len) {
            if let Some(mut segment) = pending.spare.pop() {
                match segment.renumber(&settings.path, n) {
                    Ok(()) => return Ok(segment),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot reuse a history journal segment");
                        remove_segment(&self.shared, segment);
                    }
                }
            }
        }
        let segment = Segment::create(&settings.path, n, settings.segment_bytes.max(len))?;
        self.shared
            .counters
            .journal_bytes
            .fetch_add(segment.capacity() as u64, Ordering::Relaxed);
        Ok(segment)
    }

    /// Whether the history is committing (its store open, or its last ship went through);
    /// false while it waits to be reopened after a failure, or shipping fails.
    pub fn is_healthy(&self) -> bool {
        match &self.shared.target {
            Target::Store(store) => store.is_open(),
            Target::Ship { failing, .. } => !failing.load(Ordering::Relaxed),
        }
    }

    /// Why the history makes the daemon degraded (for `/healthz`), if it does.
    pub fn degraded(&self) -> Option<&'static str> {
        match &self.shared.target {
            _ if self.is_healthy() => None,
            Target::Store(_) => {
                Some("decision history not committing (reopening after an I/O error)")
            }
            Target::Ship { .. } => Some(
                "decision history not shipping to PostgreSQL (the backlog waits in the journal)",
            ),
        }
    }
}

/// Deletes a segment file and takes its space off the journal's size.
fn remove_segment(shared: &Shared, segment: Segment) {
    let (number, bytes) = (segment.number, segment.capacity() as u64);
    shared
        .counters
        .journal_bytes
        .fetch_sub(bytes, Ordering::Relaxed);
    if let Err(err) = segment.remove() {
        tracing::warn!(error = %err, segment = number, "cannot remove a history journal segment");
    }
}
