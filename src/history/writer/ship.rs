//! The writer with a shared history (`backend = "postgres"`): no store, each journal
//! segment is one batch shipped under its number, taken up again from disk at open.
//!
//! **Batch numbers never repeat for a node** (PostgreSQL keeps `(node, batch)` to write a
//! batch once, longer than the decisions themselves): at open the next number is the larger
//! of the time in microseconds and one past the highest segment left on disk, and a run takes
//! one number per segment or failed in-memory batch — a few a second at most, far fewer
//! than the microseconds that pass. So a later run starts above every number an earlier run
//! used, across clean stops that remove every segment and the reuse of spare segments
//! (renumbered to a fresh number). Only a clock set back by more than the time since the
//! earlier run started could make a number come again; `badclients_batches` would then
//! skip that batch as already shipped (the daemon counts it in
//! `badclients_history_batches_already_shipped_total`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{
    lock, remove_segment, HistoryWriter, Pending, Shared, Shipper, Target, WriterCounters,
    WriterSettings, MAX_SPARE_SEGMENTS, SPARE_SEGMENTS, WARN_INTERVAL,
};
use crate::history::codec::Strings;
use crate::history::journal::{self, Segment};
use crate::history::now_us;
use crate::history::store::HistoryError;
use crate::history::Record;
use crate::warn_limit::WarnLimit;

impl HistoryWriter {
    /// Opens the writer for a shared history: takes up the journal segments left on disk
    /// (by an unclean stop, or a stop that could not ship them) as the first batches to
    /// ship, under their own numbers, and numbers new batches as the module explains.
    /// Returns the writer with any warnings to log. Call [`HistoryWriter::run`] in a task;
    /// nothing here talks to the database.
    pub fn open_shipping(
        settings: WriterSettings,
        shipper: Arc<dyn Shipper>,
    ) -> Result<(HistoryWriter, Vec<String>), HistoryError> {
        let journal_err = |source| HistoryError::Journal {
            path: settings.path.clone(),
            source,
        };
        let mut warnings = Vec::new();
        let (mut segments, mut count, mut bytes, mut last) = (Vec::new(), 0, 0, 0);
        for (n, path) in journal::segments(&settings.path).map_err(journal_err)? {
            last = last.max(n);
            match Segment::open_existing(&settings.path, n) {
                Ok(Some(segment)) if segment.frames() == 0 => {
                    // A spare segment of the last run, zeroed: nothing to ship.
                    if let Err(err) = segment.remove() {
                        warnings.push(format!(
                            "history journal {}: cannot remove: {err}",
                            path.display()
                        ));
                    }
                }
                Ok(Some(segment)) => {
                    count += segment.frames();
                    bytes += segment.capacity() as u64;
                    segments.push(segment);
                }
                Ok(None) => {}
                Err(err) => warnings.push(format!(
                    "history journal {}: cannot read it, left in place: {err}",
                    path.display()
                )),
            }
        }
        if count > 0 {
            warnings.push(format!(
                "history: {count} decision(s) left in the journal wait to be shipped to the shared history"
            ));
        }
        let next_segment = now_us().max(last + 1);
        let counters = WriterCounters::default();
        counters.journal_bytes.store(bytes, Ordering::Relaxed);
        // Counted from the open until the backlog is first empty.
        counters.caught_up_us.store(now_us(), Ordering::Relaxed);
        counters
            .backlog_decisions
            .store(count as u64, Ordering::Relaxed);
        let shared = Shared::new(
            Target::Ship {
                shipper,
                failing: AtomicBool::new(false),
                warn_prune: WarnLimit::new(WARN_INTERVAL),
            },
            settings,
            Pending::new(segments, count, next_segment, next_segment),
            Strings::new(),
            counters,
        );
        Ok((
            HistoryWriter {
                shared: Arc::new(shared),
            },
            warnings,
        ))
    }

    /// [`HistoryWriter::flush`] with a shipper: ships the pending segments oldest first, then
    /// the in-memory frames, each as one batch; a shipped segment is zeroed and kept for
    /// reuse (or removed). From the moment they are taken, the segments take no new frames
    /// (a batch the database may hold is only ever sent again unchanged); on a failure they
    /// and the batches after them go back to the front of the pending batch.
    pub(super) async fn ship_locked(&self, shipper: &dyn Shipper) -> Result<usize, HistoryError> {
        let shared = &*self.shared;
        let counters = &shared.counters;
        if lock(&shared.pending).count > 0 {
            // Connected first, with nothing taken: while the database is unreachable the
            // pending segments stay where they are and keep taking frames (taking them would
            // start a new segment for the frames that come in meanwhile, on every attempt).
            if let Err(err) = shipper.prepare().await {
                counters.ship_failures.fetch_add(1, Ordering::Relaxed);
                if let Target::Ship { failing, .. } = &shared.target {
                    failing.store(true, Ordering::Relaxed);
                }
                return Err(HistoryError::Shipping(err));
            }
        }
        let (segments, memory) = {
            let mut pending = lock(&shared.pending);
            if pending.count == 0 {
                counters.backlog_decisions.store(0, Ordering::Relaxed);
                counters.backlog_bytes.store(0, Ordering::Relaxed);
                counters.caught_up_us.store(now_us(), Ordering::Relaxed);
                return Ok(0);
            }
            let (count, bytes) = backlog(&pending);
            counters.backlog_decisions.store(count, Ordering::Relaxed);
            counters.backlog_bytes.store(bytes, Ordering::Relaxed);
            pending.count = 0;
            pending.journal_failed = false;
            let segments = std::mem::take(&mut pending.segments);
            let mut memory = std::mem::take(&mut pending.sealed_memory);
            if !pending.memory.is_empty() {
                let n = pending.next_segment;
                pending.next_segment = n + 1;
                memory.push((n, std::mem::take(&mut pending.memory)));
            }
            (segments, memory)
        };
        let mut shipped = 0;
        let mut cleared = Vec::new();
        let mut error: Option<super::ShipError> = None;
        let mut segments = segments.into_iter();
        let mut back_segments = Vec::new();
        for mut segment in segments.by_ref() {
            let records = journal::parse_frames(segment.bytes()).records;
            match self.ship_batch(shipper, segment.number, &records).await {
                Ok(()) => {
                    shipped += records.len();
                    segment.clear();
                    cleared.push(segment);
                }
                Err(err) => {
                    if !err.is::<super::NotSent>() {
                        // It may be in the database: from now on it is sent as it is.
                        pending_seal(shared, segment.number + 1);
                    }
                    back_segments.push(segment);
                    error = Some(err);
                    break;
                }
            }
        }
        back_segments.extend(segments);
        let mut memory = memory.into_iter();
        let mut back_memory = Vec::new();
        if error.is_none() {
            for (n, bytes) in memory.by_ref() {
                let records = journal::parse_frames(&bytes).records;
                match self.ship_batch(shipper, n, &records).await {
                    Ok(()) => {
                        shipped += records.len();
                        counters
                            .journal_bytes
                            .fetch_sub(bytes.len() as u64, Ordering::Relaxed);
                    }
                    Err(err) => {
                        back_memory.push((n, bytes));
                        error = Some(err);
                        break;
                    }
                }
            }
        }
        back_memory.extend(memory);
        let keep = (cleared.len() + 1).clamp(SPARE_SEGMENTS, MAX_SPARE_SEGMENTS);
        let mut pending = lock(&shared.pending);
        for segment in cleared {
            if pending.spare.len() < keep {
                pending.spare.push(segment);
            } else {
                remove_segment(shared, segment);
            }
        }
        let Target::Ship { failing, .. } = &shared.target else {
            return Ok(shipped);
        };
        failing.store(error.is_some(), Ordering::Relaxed);
        if let Some(err) = error {
            let count = back_segments.iter().map(Segment::frames).sum::<usize>()
                + back_memory
                    .iter()
                    .map(|(_, bytes)| journal::count_frames(bytes))
                    .sum::<usize>();
            back_segments.append(&mut pending.segments);
            pending.segments = back_segments;
            back_memory.append(&mut pending.sealed_memory);
            pending.sealed_memory = back_memory;
            pending.count += count;
            let (count, bytes) = backlog(&pending);
            counters.backlog_decisions.store(count, Ordering::Relaxed);
            counters.backlog_bytes.store(bytes, Ordering::Relaxed);
            return Err(HistoryError::Shipping(err));
        }
        let (count, bytes) = backlog(&pending);
        counters.backlog_decisions.store(count, Ordering::Relaxed);
        counters.backlog_bytes.store(bytes, Ordering::Relaxed);
        if count == 0 {
            counters.caught_up_us.store(now_us(), Ordering::Relaxed);
        }
        Ok(shipped)
    }

    /// Ships one batch and counts it.
    async fn ship_batch(
        &self,
        shipper: &dyn Shipper,
        batch: u64,
        records: &[Record],
    ) -> Result<(), super::ShipError> {
        if records.is_empty() {
            return Ok(());
        }
        let counters = &self.shared.counters;
        match shipper.ship(batch, records).await {
            Ok(true) => {
                counters.batches_shipped.fetch_add(1, Ordering::Relaxed);
                counters
                    .rows_shipped
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                counters
                    .committed
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Ok(false) => {
                counters
                    .batches_already_shipped
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(err) => {
                counters.ship_failures.fetch_add(1, Ordering::Relaxed);
                Err(err)
            }
        }
    }

    /// The once-a-minute prune of a shared history (logged when days were dropped; a
    /// failure is logged once per interval).
    pub(super) async fn prune_shared(&self) {
        let Target::Ship {
            shipper,
            warn_prune,
            ..
        } = &self.shared.target
        else {
            return;
        };
        match shipper.prune(self.shared.settings.retention).await {
            Ok(0) => {}
            Ok(days) => tracing::info!(days_dropped = days, "shared history pruned"),
            Err(err) => {
                if let Some(n) = warn_prune.hit() {
                    tracing::warn!(error = %err, failures = n, "shared history prune failed");
                }
            }
        }
    }
}

/// Seals the segments numbered below `below` (see `Pending::sealed_below`).
fn pending_seal(shared: &Shared, below: u64) {
    let mut pending = lock(&shared.pending);
    pending.sealed_below = pending.sealed_below.max(below);
}

/// The decisions and bytes pending (in segments and in memory).
fn backlog(pending: &Pending) -> (u64, u64) {
    let bytes = pending
        .segments
        .iter()
        .map(|s| s.bytes().len())
        .chain(pending.sealed_memory.iter().map(|(_, m)| m.len()))
        .sum::<usize>()
        + pending.memory.len();
    (pending.count as u64, bytes as u64)
}
