//! The background side of [`HistoryWriter`]: batches committed to the store (segment by
//! segment, zeroed and kept for reuse), reopening the store after an I/O error with
//! back-off, pruning once a minute, forgetting a user after what is pending.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{
    lock, remove_segment, HistoryWriter, Shared, Target, MAX_SPARE_SEGMENTS, SPARE_SEGMENTS,
};
use crate::cache::store::is_unreadable;
use crate::history::codec::Strings;
use crate::history::journal::{self, Segment};
use crate::history::now_us;
use crate::history::store::{Forgotten, HistoryError, HistoryStore, Pruned};
use crate::redb_guard::is_io_failure;

impl HistoryWriter {
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
    pub(super) async fn flush_locked(&self) -> Result<usize, HistoryError> {
        let shared = Arc::clone(&self.shared);
        let store = match &shared.target {
            Target::Store(store) => Arc::clone(store),
            Target::Ship { shipper, .. } => {
                let shipper = Arc::clone(shipper);
                return self.ship_locked(&*shipper).await;
            }
        };
        if !store.is_open() {
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
        let outcome = tokio::task::spawn_blocking(move || commit(&job, &store, segments, memory))
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
            if let Target::Store(store) = &shared.target {
                store.close();
            }
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
                let Target::Store(store) = &job.target else {
                    return Ok(None);
                };
                let warning = store.reopen()?;
                match store.strings() {
                    Ok(strings) => *lock(&job.strings) = strings,
                    Err(err) => {
                        store.close();
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
        if let Target::Ship { shipper, .. } = &shared.target {
            let records = shipper.forget(user).await.map_err(HistoryError::Shipping)?;
            return Ok(Forgotten {
                records,
                strings: 0,
            });
        }
        let user = user.to_string();
        Ok(self
            .with_strings(move |store, strings| store.forget_user(&user, strings))
            .await?
            .unwrap_or_default())
    }

    /// Runs `job` on the blocking pool with the store and the strings held (so no batch
    /// commits meanwhile), then records how many strings the history keeps; `None` without
    /// a store (shipping).
    async fn with_strings<T: Send + 'static>(
        &self,
        job: impl FnOnce(&HistoryStore, &mut Strings) -> Result<T, HistoryError> + Send + 'static,
    ) -> Result<Option<T>, HistoryError> {
        let shared = Arc::clone(&self.shared);
        let path = shared.settings.path.clone();
        tokio::task::spawn_blocking(move || {
            let Target::Store(store) = &shared.target else {
                return Ok(None);
            };
            let mut strings = lock(&shared.strings);
            let result = job(store, &mut strings).map(Some);
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

    /// Prunes by age and size now, and drops the strings no kept record uses when their
    /// table has doubled since that was last done. Holds the strings (so no batch commits
    /// meanwhile): the journal takes the decisions that come in the while.
    pub async fn prune(&self) -> Result<Pruned, HistoryError> {
        let shared = Arc::clone(&self.shared);
        let cutoff = now_us().saturating_sub(shared.settings.retention.as_micros() as u64);
        let max = shared.settings.max_records;
        let pruned = self
            .with_strings(move |store, strings| store.prune(cutoff, max, strings))
            .await?
            .unwrap_or_default();
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
        if let Target::Ship { shipper, .. } = &self.shared.target {
            // Connect and migrate now, so a problem shows at start (and the schema is there
            // before the first batch); a failure is retried by every ship.
            if let Err(err) = shipper.prepare().await {
                if let Some(n) = self.shared.warn_commit.hit() {
                    tracing::error!(error = %err, failures = n, "shared history not reachable at start; decisions wait in the journal");
                }
            }
        }
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
                if let Target::Ship { .. } = &self.shared.target {
                    self.prune_shared().await;
                    continue;
                }
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
fn commit(
    shared: &Shared,
    store: &HistoryStore,
    segments: Vec<Segment>,
    memory: Vec<u8>,
) -> CommitOutcome {
    let mut strings = lock(&shared.strings);
    let mut committed = 0;
    let mut cleared = Vec::new();
    let mut left = segments.into_iter();
    for segment in left.by_ref() {
        match store.append_frames(segment.bytes(), &mut strings, Some(segment.number)) {
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
        match store.append_frames(&memory, &mut strings, None) {
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
