//! `HistoryWriter`: how decisions get into the history without slowing a login down.
//!
//! On the request path, [`HistoryWriter::record`] appends the record to the current journal
//! segment (one `write`, no `fsync`) and to an in-memory batch; the login is answered after
//! that. A background task commits the batch to the [`HistoryStore`] every `flush_ms` (or
//! sooner when `batch_max` records wait), removes the segment, and prunes the store by age
//! and size once a minute. A failed commit keeps the records for the next attempt and the
//! segment for the next start.

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
    /// The journal frames of the records not yet committed (decoded by the background
    /// task, so the request path allocates and frees no per-field strings).
    frames: Vec<u8>,
    count: usize,
    /// Frames queued but not yet written to the segment, and how many frames were ever
    /// queued: concurrent requests share one `write` (see [`HistoryWriter::write_journal`]).
    unwritten: Vec<u8>,
    queued: u64,
    /// The segment the pending records are journaled in; `None` when it could not be
    /// opened (the records are then only in memory).
    segment: Option<Segment>,
    next_segment: u64,
    /// Segments whose records are pending but were journaled in an older segment (after
    /// a failed commit): removed with the next successful commit.
    carried: Vec<u64>,
}

struct Shared {
    store: Arc<HistoryStore>,
    settings: WriterSettings,
    pending: Mutex<Pending>,
    /// Held while a journal `write` runs; taken before `pending` when both are needed.
    journal: Mutex<()>,
    /// How many queued frames are in the journal.
    written: AtomicU64,
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
                frames: Vec::new(),
                count: 0,
                unwritten: Vec::new(),
                queued: 0,
                segment: None,
                next_segment: last + 1,
                carried: Vec::new(),
            }),
            journal: Mutex::new(()),
            written: AtomicU64::new(0),
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

    /// Queues a frame and returns once it is in the current segment.
    ///
    /// Frames queued by concurrent requests are written together: whoever takes the
    /// journal lock writes every frame queued so far in one `write`, and a request whose
    /// frame is already written returns at once. A frame always goes to the segment of the
    /// batch that holds it: a flush writes what is still unwritten to the old segment
    /// before it starts a new one.
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
        let mine = {
            let mut pending = lock(&shared.pending);
            if pending.segment.is_none() {
                let n = pending.next_segment;
                match Segment::open(&shared.settings.path, n) {
                    Ok(segment) => {
                        pending.segment = Some(segment);
                        pending.next_segment = n + 1;
                    }
                    Err(err) => {
                        shared
                            .counters
                            .journal_errors
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::error!(
                            error = %err,
                            "cannot open the history journal; this decision is kept in memory only until the next batch"
                        );
                    }
                }
            }
            pending.frames.extend_from_slice(&frame);
            pending.unwritten.extend_from_slice(&frame);
            pending.count += 1;
            pending.queued += 1;
            if pending.count >= shared.settings.batch_max {
                shared.wake.notify_one();
            }
            pending.queued
        };
        self.write_journal(mine);
    }

    /// Makes sure the first `upto` queued frames are written.
    fn write_journal(&self, upto: u64) {
        let shared = &*self.shared;
        if shared.written.load(Ordering::Acquire) >= upto {
            return;
        }
        let _writing = lock(&shared.journal);
        if shared.written.load(Ordering::Acquire) >= upto {
            return;
        }
        let (buf, queued, segment) = {
            let mut pending = lock(&shared.pending);
            let buf = std::mem::take(&mut pending.unwritten);
            (buf, pending.queued, pending.segment.clone())
        };
        self.write_frames(segment.as_ref(), &buf);
        shared.written.store(queued, Ordering::Release);
        // Hand the buffer back for the next frames (keeping its capacity).
        let mut pending = lock(&shared.pending);
        if pending.unwritten.is_empty() {
            let mut buf = buf;
            buf.clear();
            pending.unwritten = buf;
        }
    }

    fn write_frames(&self, segment: Option<&Segment>, frames: &[u8]) {
        let (Some(segment), false) = (segment, frames.is_empty()) else {
            return;
        };
        if let Err(err) = segment.append(frames) {
            self.shared
                .counters
                .journal_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %err, "cannot append to the history journal");
        }
    }

    /// Commits what is pending now. Returns the number of records committed.
    pub async fn flush(&self) -> Result<usize, HistoryError> {
        let shared = Arc::clone(&self.shared);
        let (frames, segment, carried) = {
            // The journal lock first: frames still unwritten go to this batch's segment.
            let _writing = lock(&shared.journal);
            let (frames, segment, carried, unwritten, queued) = {
                let mut pending = lock(&shared.pending);
                if pending.count == 0 {
                    return Ok(0);
                }
                // The next batch will be about as large: no reallocation on the request path.
                let capacity = pending.frames.len();
                let frames = std::mem::replace(&mut pending.frames, Vec::with_capacity(capacity));
                pending.count = 0;
                let segment = pending.segment.take();
                let carried = std::mem::take(&mut pending.carried);
                let unwritten = std::mem::take(&mut pending.unwritten);
                (frames, segment, carried, unwritten, pending.queued)
            };
            self.write_frames(segment.as_ref(), &unwritten);
            shared.written.store(queued, Ordering::Release);
            (frames, segment.map(|s| s.number), carried)
        };
        let job = Arc::clone(&shared);
        let (frames, result) = tokio::task::spawn_blocking(move || {
            let mut strings = lock(&job.strings);
            let result = job.store.append_frames(&frames, &mut strings, segment);
            (frames, result)
        })
        .await
        .map_err(|err| HistoryError::Journal {
            path: shared.settings.path.clone(),
            source: std::io::Error::other(err.to_string()),
        })?;
        match result {
            Ok(n) => {
                shared
                    .counters
                    .committed
                    .fetch_add(n as u64, Ordering::Relaxed);
                for number in carried.iter().copied().chain(segment) {
                    let _ =
                        std::fs::remove_file(journal::segment_path(&shared.settings.path, number));
                }
                Ok(n)
            }
            Err(err) => {
                shared
                    .counters
                    .commit_errors
                    .fetch_add(1, Ordering::Relaxed);
                let mut pending = lock(&shared.pending);
                let count = journal::parse_frames(&frames).records.len();
                let mut back = frames;
                back.extend_from_slice(&pending.frames);
                pending.frames = back;
                pending.count += count;
                pending.carried.extend(carried);
                pending.carried.extend(segment);
                Err(err)
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::codec::Row;
    use crate::history::{Filter, Outcome};

    fn record(user: String) -> Record {
        Record {
            time_us: Some(now_us()),
            user,
            service: "imap".into(),
            ip: "192.0.2.7".parse().unwrap(),
            host: None,
            asn: None,
            as_cc: None,
            as_desc: None,
            net_name: None,
            net_cc: None,
            entities: vec![],
            cloud: vec![],
            geo_cc: None,
            outcome: Outcome::Allowed,
            matched: None,
            matched_entry: None,
            lookup_errors: vec![],
        }
    }

    fn settings(path: PathBuf) -> WriterSettings {
        WriterSettings {
            path,
            retention: Duration::from_secs(86_400),
            max_records: u64::MAX,
            flush_interval: Duration::from_millis(5),
            batch_max: 100,
        }
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
        assert!(journal::segments(&path).unwrap().is_empty());
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
}
