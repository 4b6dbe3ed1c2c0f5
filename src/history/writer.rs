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
use super::store::{HistoryError, HistoryStore};
use super::{now_us, Record};

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
}

/// Counters for `/metrics` and the dashboard.
#[derive(Debug, Default)]
pub struct WriterCounters {
    pub committed: AtomicU64,
    pub journal_errors: AtomicU64,
    pub commit_errors: AtomicU64,
    pub pruned: AtomicU64,
    pub replayed: AtomicU64,
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
    wake: Notify,
    counters: WriterCounters,
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
        let committed = store.committed_segment()?;
        let journal_err = |source| HistoryError::Journal {
            path: settings.path.clone(),
            source,
        };
        let mut last = committed.unwrap_or(0);
        let mut replayed = 0u64;
        for (n, path) in journal::segments(&settings.path).map_err(journal_err)? {
            last = last.max(n);
            if committed.is_some_and(|c| n <= c) {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let contents =
                journal::read_segment(&path).map_err(|source| HistoryError::Journal {
                    path: path.clone(),
                    source,
                })?;
            if contents.skipped > 0 {
                warnings.push(format!(
                    "history journal {}: skipped {} unreadable line(s) (a write cut by a crash)",
                    path.display(),
                    contents.skipped
                ));
            }
            store.append(&contents.records, &mut strings, Some(n))?;
            replayed += contents.records.len() as u64;
            let _ = std::fs::remove_file(&path);
        }
        if replayed > 0 {
            warnings.push(format!(
                "history: replayed {replayed} decision(s) from the journal of an unclean stop"
            ));
        }
        let counters = WriterCounters::default();
        counters.replayed.store(replayed, Ordering::Relaxed);
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
            settings,
            wake: Notify::new(),
            counters,
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
        enforced: bool,
    ) {
        self.queue(journal::frame(|out| {
            super::encode_decision(out, time_us, user, service, facts, decision, enforced)
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
        if !copied {
            self.new_segment(&mut pending, &frame);
        }
        pending.count += 1;
        if pending.count >= shared.settings.batch_max {
            shared.wake.notify_one();
        }
    }

    /// Starts a segment holding `frame`, or keeps the frame in memory when none can be
    /// created (logged once per batch).
    fn new_segment(&self, pending: &mut Pending, frame: &[u8]) {
        let shared = &*self.shared;
        if !pending.journal_failed {
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
                        return;
                    }
                }
                Err(err) => {
                    pending.journal_failed = true;
                    tracing::error!(
                        error = %err,
                        "cannot create a history journal segment; this batch is kept in memory only until it is committed"
                    );
                }
            }
        }
        shared
            .counters
            .journal_errors
            .fetch_add(1, Ordering::Relaxed);
        pending.memory.extend_from_slice(frame);
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
                        let _ = segment.remove();
                    }
                }
            }
        }
        Segment::create(&settings.path, n, settings.segment_bytes.max(len))
    }

    /// Commits what is pending now. Returns the number of records committed.
    ///
    /// Segments are committed oldest first, each in one transaction that also records its
    /// number; once committed they are zeroed and kept for reuse (or removed). When a commit fails, the segments not committed
    /// (and the in-memory frames) go back to the front of the pending batch.
    pub async fn flush(&self) -> Result<usize, HistoryError> {
        let shared = Arc::clone(&self.shared);
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
                    let _ = segment.remove();
                }
            }
        }
        let Some(err) = outcome.error else {
            return Ok(outcome.committed);
        };
        shared
            .counters
            .commit_errors
            .fetch_add(1, Ordering::Relaxed);
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
    pub async fn close(&self) -> Result<usize, HistoryError> {
        let committed = self.flush().await?;
        let spare = std::mem::take(&mut lock(&self.shared.pending).spare);
        for segment in spare {
            let _ = segment.remove();
        }
        Ok(committed)
    }

    /// Prunes by age and size now.
    pub async fn prune(&self) -> Result<u64, HistoryError> {
        let shared = Arc::clone(&self.shared);
        let cutoff = now_us().saturating_sub(shared.settings.retention.as_micros() as u64);
        let max = shared.settings.max_records;
        let store = Arc::clone(&shared.store);
        let removed = tokio::task::spawn_blocking(move || store.prune(cutoff, max))
            .await
            .map_err(|err| HistoryError::Journal {
                path: shared.settings.path.clone(),
                source: std::io::Error::other(err.to_string()),
            })??;
        shared.counters.pruned.fetch_add(removed, Ordering::Relaxed);
        Ok(removed)
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
                tracing::error!(error = %err, "history batch not committed; retrying with the next one");
            }
            if tokio::time::Instant::now() >= prune_at {
                prune_at = tokio::time::Instant::now() + Duration::from_secs(60);
                match self.prune().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "history pruned"),
                    Err(err) => tracing::warn!(error = %err, "history prune failed"),
                }
            }
        }
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
                    let number = segment.number;
                    if let Err(err) = segment.remove() {
                        tracing::warn!(error = %err, segment = number, "cannot remove a committed history journal segment");
                    }
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
}
