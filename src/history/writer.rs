//! `HistoryWriter`: how decisions get into the history without slowing a login down.
//!
//! On the request path, [`HistoryWriter::record_decision`] encodes the decision (strings
//! raw, escaped later) and copies the frame into the current journal segment, a file
//! mapped into memory (no system call, no `fsync`); the login is answered after that. A
//! background task commits the batch to the [`HistoryStore`] every `flush_ms` (or sooner
//! when `batch_max` records wait), keeps the committed segments, zeroed, for the next
//! batches, and prunes the store by age and size once a minute. A failed commit keeps the
//! segments (still mapped) for the next attempt and, on disk, for the next start.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use super::codec::Strings;
use super::journal::{self, Segment};
use super::store::{Forgotten, HistoryError, HistoryStore, Pruned};
use super::{now_us, Record};
use crate::cache::store::is_unreadable;
use crate::redb_guard::{is_io_failure, Backoff};
use crate::warn_limit::WarnLimit;

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
}

/// How many committed segments are kept for reuse: as many as the last batch used, plus one
/// for the batch being written while another commits; at least two, at most eight.
const SPARE_SEGMENTS: usize = 2;
const MAX_SPARE_SEGMENTS: usize = 8;

struct Shared {
    store: Arc<HistoryStore>,
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
        let shared = Shared {
            store: Arc::new(store),
            pending: Mutex::new(Pending {
                segments: Vec::new(),
                memory: Vec::new(),
                count: 0,
                next_segment: last + 1,
                journal_failed: false,
                spare: Vec::new(),
            }),
            strings: Mutex::new(strings),
            flushing: tokio::sync::Mutex::new(()),
            settings,
            wake: Notify::new(),
            counters,
            recovery: Mutex::new(Recovery::default()),
            warn_journal: WarnLimit::new(WARN_INTERVAL),
            warn_lost: WarnLimit::new(WARN_INTERVAL),
            warn_commit: WarnLimit::new(WARN_INTERVAL),
        };
        Ok((
            HistoryWriter {
                shared: Arc::new(shared),
            },
            warnings,
        ))
    }

    pub fn store(&self) -> &Arc<HistoryStore> {
        &self.shared.store
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
        let copied = pending
            .segments
            .last_mut()
            .is_some_and(|segment| segment.append(&frame));
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

    /// Commits what is pending now. Returns the number of records committed.
    ///
    /// Segments are committed oldest first, each in one transaction that also records its
    /// number; once committed they are zeroed and kept for reuse (or removed). When a commit fails, the segments not committed
    /// (and the in-memory frames) go back to the front of the pending batch.
    pub async fn flush(&self) -> Result<usize, HistoryError> {
        let _turn = self.shared.flushing.lock().await;
        self.flush_locked().await
    }

    /// [`HistoryWriter::flush`] with the flush lock held.
    async fn flush_locked(&self) -> Result<usize, HistoryError> {
        let shared = Arc::clone(&self.shared);
        if !shared.store.is_open() {
            self.try_reopen().await?;
        }
        let (segments, memory) = {
            let mut pending = lock(&shared.pending);
            if pending.count == 0 {
                return Ok(0);
            }
            pending.count = 0;
            pending.journal_failed = false;
            (
                std::mem::take(&mut pending.segments),
                std::mem::take(&mut pending.memory),
            )
        };
        let memory_bytes = memory.len() as u64;
        let job = Arc::clone(&shared);
        let outcome = tokio::task::spawn_blocking(move || commit(&job, segments, memory))
            .await
            .map_err(|err| HistoryError::Journal {
                path: shared.settings.path.clone(),
                source: std::io::Error::other(err.to_string()),
            })?;
        shared
            .counters
            .committed
            .fetch_add(outcome.committed as u64, Ordering::Relaxed);
        if !outcome.cleared.is_empty() {
            let keep = (outcome.cleared.len() + 1).clamp(SPARE_SEGMENTS, MAX_SPARE_SEGMENTS);
            let mut pending = lock(&shared.pending);
            for segment in outcome.cleared {
                if pending.spare.len() < keep {
                    pending.spare.push(segment);
                } else {
                    remove_segment(&shared, segment);
                }
            }
        }
        let Some(err) = outcome.error else {
            shared
                .counters
                .journal_bytes
                .fetch_sub(memory_bytes, Ordering::Relaxed);
            return Ok(outcome.committed);
        };
        let left_in_memory = outcome.memory.len() as u64;
        shared.counters.journal_bytes.fetch_sub(
            memory_bytes - left_in_memory.min(memory_bytes),
            Ordering::Relaxed,
        );
        shared
            .counters
            .commit_errors
            .fetch_add(1, Ordering::Relaxed);
        if needs_reopen(&err) {
            // redb refuses everything after an I/O error until it is reopened; damage met
            // now is moved aside by the reopen. Until then the batches wait in the journal.
            shared.store.close();
            let mut recovery = lock(&shared.recovery);
            let wait = recovery.backoff.next_wait();
            recovery.reopen_at = Some(std::time::Instant::now() + wait);
        }
        let mut pending = lock(&shared.pending);
        let count = outcome.segments.iter().map(Segment::frames).sum::<usize>()
            + journal::count_frames(&outcome.memory);
        let mut segments = outcome.segments;
        segments.append(&mut pending.segments);
        pending.segments = segments;
        let mut memory = outcome.memory;
        memory.extend_from_slice(&pending.memory);
        pending.memory = memory;
        pending.count += count;
        Err(err)
    }

    /// Commits what is pending and removes the segments kept for reuse: for a clean stop.
    /// Waits for a flush of the background task that is under way (its segments come back
    /// zeroed, to be removed here too); stop that task only after this.
    pub async fn close(&self) -> Result<usize, HistoryError> {
        let _turn = self.shared.flushing.lock().await;
        let committed = self.flush_locked().await?;
        let spare = std::mem::take(&mut lock(&self.shared.pending).spare);
        for segment in spare {
            remove_segment(&self.shared, segment);
        }
        Ok(committed)
    }

    /// Reopens the closed store once its back-off is over (the strings are read again: a
    /// damaged file may have been replaced by a fresh one). Fails while it is not due or
    /// the file system still fails.
    async fn try_reopen(&self) -> Result<(), HistoryError> {
        let shared = Arc::clone(&self.shared);
        {
            let recovery = lock(&shared.recovery);
            if recovery
                .reopen_at
                .is_some_and(|at| std::time::Instant::now() < at)
            {
                return Err(HistoryError::Closed {
                    path: shared.settings.path.clone(),
                });
            }
        }
        let job = Arc::clone(&shared);
        let reopened =
            tokio::task::spawn_blocking(move || -> Result<Option<String>, HistoryError> {
                let warning = job.store.reopen()?;
                match job.store.strings() {
                    Ok(strings) => *lock(&job.strings) = strings,
                    Err(err) => {
                        job.store.close();
                        return Err(err);
                    }
                }
                Ok(warning)
            })
            .await
            .map_err(|err| HistoryError::Journal {
                path: shared.settings.path.clone(),
                source: std::io::Error::other(err.to_string()),
            })?;
        let mut recovery = lock(&shared.recovery);
        match reopened {
            Ok(warning) => {
                if let Some(w) = warning {
                    tracing::warn!("{w}");
                }
                tracing::info!(path = %shared.settings.path.display(), "decision history reopened; committing the journal");
                recovery.backoff.reset();
                recovery.reopen_at = None;
                Ok(())
            }
            Err(err) => {
                let wait = recovery.backoff.next_wait();
                recovery.reopen_at = Some(std::time::Instant::now() + wait);
                Err(err)
            }
        }
    }

    /// Deletes every record of `user` (escaped form, ignoring ASCII case): see
    /// [`HistoryStore::forget_user`]. What is pending is committed first, under the flush
    /// lock, so no record of the user taken before this call is committed after it, and the
    /// journal segments that held them are zeroed (for reuse) or removed. Fails, changing
    /// nothing, when that commit fails.
    pub async fn forget(&self, user: &str) -> Result<Forgotten, HistoryError> {
        let shared = Arc::clone(&self.shared);
        let _turn = shared.flushing.lock().await;
        self.flush_locked().await?;
        let user = user.to_string();
        self.with_strings(move |store, strings| store.forget_user(&user, strings))
            .await
    }

    /// Runs `job` on the blocking pool with the store and the strings held (so no batch
    /// commits meanwhile), then records how many strings the history keeps.
    async fn with_strings<T: Send + 'static>(
        &self,
        job: impl FnOnce(&HistoryStore, &mut Strings) -> Result<T, HistoryError> + Send + 'static,
    ) -> Result<T, HistoryError> {
        let shared = Arc::clone(&self.shared);
        let path = shared.settings.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut strings = lock(&shared.strings);
            let result = job(&shared.store, &mut strings);
            shared
                .counters
                .strings
                .store(strings.len() as u64, Ordering::Relaxed);
            result
        })
        .await
        .map_err(|err| HistoryError::Journal {
            path,
            source: std::io::Error::other(err.to_string()),
        })?
    }

    /// Whether the history is committing (its store open); false while it waits to be
    /// reopened after a failure.
    pub fn is_healthy(&self) -> bool {
        self.shared.store.is_open()
    }

    /// Prunes by age and size now, and drops the strings no kept record uses when their
    /// table has doubled since that was last done. Holds the strings (so no batch commits
    /// meanwhile): the journal takes the decisions that come in the while.
    pub async fn prune(&self) -> Result<Pruned, HistoryError> {
        let shared = Arc::clone(&self.shared);
        let cutoff = now_us().saturating_sub(shared.settings.retention.as_micros() as u64);
        let max = shared.settings.max_records;
        let pruned = self
            .with_strings(move |store, strings| store.prune(cutoff, max, strings))
            .await?;
        shared
            .counters
            .pruned
            .fetch_add(pruned.records, Ordering::Relaxed);
        Ok(pruned)
    }

    /// The background loop: batches and prunes until the task is dropped.
    pub async fn run(self) {
        let every = self.shared.settings.flush_interval;
        let mut prune_at = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = self.shared.wake.notified() => {}
            }
            if let Err(err) = self.flush().await {
                if let Some(n) = self.shared.warn_commit.hit() {
                    tracing::error!(error = %err, failures = n, "history batch not committed; it waits in the journal for the next attempt");
                }
                // Space may have come back: the next frames may try a new segment again.
                lock(&self.shared.pending).journal_failed = false;
            }
            if tokio::time::Instant::now() >= prune_at {
                prune_at = tokio::time::Instant::now() + Duration::from_secs(60);
                match self.prune().await {
                    Ok(Pruned {
                        records: 0,
                        strings: 0,
                    }) => {}
                    Ok(p) => tracing::info!(
                        removed = p.records,
                        strings_dropped = p.strings,
                        "history pruned"
                    ),
                    Err(err) => tracing::warn!(error = %err, "history prune failed"),
                }
            }
        }
    }
}

/// What [`replay_journal`] did.
#[derive(Debug, Default)]
pub struct Replay {
    /// Records committed from the journal.
    pub replayed: u64,
    /// The highest segment number seen (committed or replayed).
    pub last_segment: u64,
    /// What to log (torn frames skipped, records replayed).
    pub warnings: Vec<String>,
}

/// Commits the journal segments beside the history that the store has not committed (an
/// unclean stop left them) and removes every segment. The daemon does this at start;
/// `badclients report` too, when it reads the file directly, so it sees what the journal
/// holds.
pub fn replay_journal(
    store: &HistoryStore,
    strings: &mut Strings,
    path: &std::path::Path,
) -> Result<Replay, HistoryError> {
    let committed = store.committed_segment()?;
    let journal_err = |source| HistoryError::Journal {
        path: path.to_path_buf(),
        source,
    };
    let mut out = Replay {
        last_segment: committed.unwrap_or(0),
        ..Replay::default()
    };
    for (n, segment) in journal::segments(path).map_err(journal_err)? {
        out.last_segment = out.last_segment.max(n);
        if committed.is_some_and(|c| n <= c) {
            let _ = std::fs::remove_file(&segment);
            continue;
        }
        let contents = journal::read_segment(&segment).map_err(|source| HistoryError::Journal {
            path: segment.clone(),
            source,
        })?;
        if contents.skipped > 0 {
            out.warnings.push(format!(
                "history journal {}: skipped {} unreadable line(s) (a write cut by a crash)",
                segment.display(),
                contents.skipped
            ));
        }
        store.append(&contents.records, strings, Some(n))?;
        out.replayed += contents.records.len() as u64;
        let _ = std::fs::remove_file(&segment);
    }
    if out.replayed > 0 {
        out.warnings.push(format!(
            "history: replayed {} decision(s) from the journal of an unclean stop",
            out.replayed
        ));
    }
    Ok(out)
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

/// Whether a failed commit needs the store closed and reopened: an I/O error (redb refuses
/// everything after one) or damage.
fn needs_reopen(err: &HistoryError) -> bool {
    match err {
        HistoryError::Storage { source, .. } | HistoryError::Open { source, .. } => {
            is_io_failure(source) || is_unreadable(source)
        }
        _ => false,
    }
}

/// What a batch commit did: how many records it committed, and on failure the error with
/// what is left to commit.
struct CommitOutcome {
    committed: usize,
    /// The committed segments, zeroed for reuse.
    cleared: Vec<Segment>,
    error: Option<HistoryError>,
    segments: Vec<Segment>,
    memory: Vec<u8>,
}

/// Commits `segments` in order, then the in-memory frames; stops at the first failure.
fn commit(shared: &Shared, segments: Vec<Segment>, memory: Vec<u8>) -> CommitOutcome {
    let mut strings = lock(&shared.strings);
    let mut committed = 0;
    let mut cleared = Vec::new();
    let mut left = segments.into_iter();
    for segment in left.by_ref() {
        match shared
            .store
            .append_frames(segment.bytes(), &mut strings, Some(segment.number))
        {
            Ok(n) => {
                committed += n;
                let mut segment = segment;
                if cleared.len() < MAX_SPARE_SEGMENTS {
                    segment.clear();
                    cleared.push(segment);
                } else {
                    remove_segment(shared, segment);
                }
            }
            Err(error) => {
                let mut segments = vec![segment];
                segments.extend(left);
                return CommitOutcome {
                    committed,
                    cleared,
                    error: Some(error),
                    segments,
                    memory,
                };
            }
        }
    }
    if !memory.is_empty() {
        match shared.store.append_frames(&memory, &mut strings, None) {
            Ok(n) => committed += n,
            Err(error) => {
                return CommitOutcome {
                    committed,
                    cleared,
                    error: Some(error),
                    segments: Vec::new(),
                    memory,
                }
            }
        }
    }
    CommitOutcome {
        committed,
        cleared,
        error: None,
        segments: Vec::new(),
        memory: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::codec::Row;
    use crate::history::Filter;

    fn record(user: String) -> Record {
        crate::history::test_record(&user, now_us())
    }

    fn settings_with_segments(path: PathBuf, segment_bytes: usize) -> WriterSettings {
        WriterSettings {
            segment_bytes,
            ..settings(path)
        }
    }

    fn settings(path: PathBuf) -> WriterSettings {
        WriterSettings {
            path,
            retention: Duration::from_secs(86_400),
            max_records: u64::MAX,
            flush_interval: Duration::from_millis(5),
            batch_max: 100,
            segment_bytes: journal::SEGMENT_BYTES,
            journal_max_bytes: JOURNAL_MAX_BYTES,
        }
    }

    /// The segments with frames not committed: the spare ones kept for reuse are zeroed
    /// and carry numbers the store has committed.
    fn uncommitted(writer: &HistoryWriter, path: &std::path::Path) -> Vec<u64> {
        let committed = writer.store().committed_segment().unwrap().unwrap_or(0);
        journal::segments(path)
            .unwrap()
            .into_iter()
            .filter(|(n, p)| {
                *n > committed || journal::count_frames(&std::fs::read(p).unwrap()) > 0
            })
            .map(|(n, _)| n)
            .collect()
    }

    fn users(store: &HistoryStore) -> Vec<String> {
        let mut out = Vec::new();
        store
            .scan(&Filter::default(), &mut |row: &Row, s: &Strings| {
                out.push(s.get(row.user).to_string())
            })
            .unwrap();
        out.sort();
        out
    }

    #[test]
    fn concurrent_records_and_flushes_commit_each_record_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.redb");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (writer, _) = HistoryWriter::open(settings(path.clone())).unwrap();
        let background = rt.spawn(writer.clone().run());
        std::thread::scope(|scope| {
            for t in 0..4 {
                let writer = writer.clone();
                scope.spawn(move || {
                    for i in 0..2000 {
                        writer.record(&record(format!("u{t}-{i:04}")));
                    }
                });
            }
        });
        rt.block_on(writer.flush()).unwrap();
        background.abort();
        let stored = users(writer.store());
        let mut expected: Vec<String> = (0..4)
            .flat_map(|t| (0..2000).map(move |i| format!("u{t}-{i:04}")))
            .collect();
        expected.sort();
        assert_eq!(stored, expected);
        assert!(uncommitted(&writer, &path).is_empty());
        assert_eq!(writer.counters().journal_errors.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn queued_records_come_back_from_the_journal_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.redb");
        {
            let (writer, _) = HistoryWriter::open(settings(path.clone())).unwrap();
            for i in 0..50 {
                writer.record(&record(format!("before-{i:02}")));
            }
            // No flush: the process "dies" with everything only in the journal.
        }
        let (writer, warnings) = HistoryWriter::open(settings(path.clone())).unwrap();
        assert!(
            warnings.iter().any(|w| w.contains("replayed 50")),
            "{warnings:?}"
        );
        assert_eq!(users(writer.store()).len(), 50);
        assert!(journal::segments(&path).unwrap().is_empty());
        // Opening again replays nothing twice.
        drop(writer);
        let (writer, warnings) = HistoryWriter::open(settings(path)).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(users(writer.store()).len(), 50);
    }

    #[test]
    fn full_segments_roll_over_and_every_record_commits_or_replays_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.redb");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let settings = WriterSettings {
            batch_max: usize::MAX,
            ..settings_with_segments(path.clone(), 4096)
        };
        let (writer, _) = HistoryWriter::open(settings.clone()).unwrap();
        for i in 0..300 {
            writer.record(&record(format!("a-{i:03}")));
        }
        let many = journal::segments(&path).unwrap().len();
        assert!(many > 3, "{many} segments");
        assert_eq!(rt.block_on(writer.flush()).unwrap(), 300);
        assert!(uncommitted(&writer, &path).is_empty());
        // Committed segments are kept, zeroed, for the next batches: as many as the batch
        // used (up to eight).
        let kept = journal::segments(&path).unwrap();
        assert_eq!(kept.len(), MAX_SPARE_SEGMENTS.min(many));
        for (_, p) in &kept {
            assert!(std::fs::read(p).unwrap().iter().all(|b| *b == 0));
        }
        // They are reused under new numbers; after a crash, every segment is replayed.
        for i in 0..300 {
            writer.record(&record(format!("b-{i:03}")));
        }
        let after = journal::segments(&path).unwrap();
        assert!(
            kept.iter().all(|k| !after.contains(k)),
            "{kept:?} {after:?}"
        );
        assert_eq!(after.first().map(|s| s.0), Some(many as u64 + 1));
        drop(writer);
        let (writer, warnings) = HistoryWriter::open(settings).unwrap();
        assert!(
            warnings.iter().any(|w| w.contains("replayed 300")),
            "{warnings:?}"
        );
        let users = users(writer.store());
        assert_eq!(users.len(), 600);
        users.windows(2).for_each(|w| assert_ne!(w[0], w[1]));
        assert!(journal::segments(&path).unwrap().is_empty());
        // A clean stop leaves no segment behind.
        writer.record(&record("last".into()));
        assert_eq!(rt.block_on(writer.close()).unwrap(), 1);
        assert!(journal::segments(&path).unwrap().is_empty());
    }

    #[test]
    fn a_journal_that_cannot_be_created_keeps_the_batch_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.redb");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (writer, _) = HistoryWriter::open(settings(path.clone())).unwrap();
        // Something in the way of the first segment's file.
        std::fs::create_dir(journal::segment_path(&path, 1)).unwrap();
        for i in 0..10 {
            writer.record(&record(format!("m-{i}")));
        }
        assert_eq!(writer.counters().journal_errors.load(Ordering::Relaxed), 10);
        assert_eq!(rt.block_on(writer.flush()).unwrap(), 10);
        assert_eq!(users(writer.store()).len(), 10);
        // The next batch journals again, in the next segment.
        writer.record(&record("after".into()));
        assert_eq!(
            journal::segments(&path).unwrap().last().map(|s| s.0),
            Some(2)
        );
        assert_eq!(rt.block_on(writer.flush()).unwrap(), 1);
        assert_eq!(writer.counters().journal_errors.load(Ordering::Relaxed), 10);
        assert_eq!(users(writer.store()).len(), 11);
    }

    /// A tmpfs of a given size mounted on a temporary directory (the tests run as root in
    /// CI), unmounted on drop.
    struct Tmpfs {
        dir: tempfile::TempDir,
    }

    impl Tmpfs {
        fn mount(size: &str) -> Tmpfs {
            let dir = tempfile::tempdir().unwrap();
            let ok = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "mounting a tmpfs needs root (CI runs the tests as root)"
            );
            Tmpfs { dir }
        }

        fn resize(&self, size: &str) {
            let ok = std::process::Command::new("mount")
                .args(["-o", &format!("remount,size={size}")])
                .arg(self.dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "remount {size}");
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.dir.path())
                .status();
        }
    }

    fn journal_on_disk(path: &std::path::Path) -> u64 {
        journal::segments(path)
            .unwrap()
            .iter()
            .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    #[test]
    fn a_full_disk_then_grown_resumes_commits_and_the_journal_stays_within_its_cap() {
        let fs = Tmpfs::mount("1m");
        let path = fs.dir.path().join("h.redb");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let cap = 256 * 1024;
        let settings = WriterSettings {
            batch_max: usize::MAX,
            journal_max_bytes: cap,
            ..settings_with_segments(path.clone(), 64 * 1024)
        };
        let (writer, _) = HistoryWriter::open(settings).unwrap();
        // About 4.5 MB of decisions into 1 MiB, committed in batches as the daemon does.
        let total = 30_000u64;
        for i in 0..total {
            writer.record(&record(format!("d-{i:05}")));
            if i % 200 == 199 {
                let _ = rt.block_on(writer.flush());
                let held = writer.counters().journal_bytes.load(Ordering::Relaxed);
                assert!(held <= cap, "journal {held} > cap {cap}");
                assert!(journal_on_disk(&path) <= cap);
            }
        }
        let c = writer.counters();
        assert!(
            c.commit_errors.load(Ordering::Relaxed) > 0,
            "the disk never filled"
        );
        let lost = c.lost.load(Ordering::Relaxed);
        assert!(lost > 0, "the journal cap was never reached");
        // Space comes back: commits resume after the back-off, the journal drains.
        fs.resize("64m");
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            match rt.block_on(writer.flush()) {
                Ok(0) if writer.is_healthy() => break,
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
            assert!(
                std::time::Instant::now() < deadline,
                "commits never resumed"
            );
        }
        let stored = users(writer.store());
        assert_eq!(stored.len() as u64 + lost, total, "lost {lost}");
        stored.windows(2).for_each(|w| assert_ne!(w[0], w[1]));
        // Only the spare segments, zeroed, are left.
        assert!(uncommitted(&writer, &path).is_empty());
        assert!(writer.store().reopens() > 0);
        drop(writer);
    }
}
