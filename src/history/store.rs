//! `HistoryStore`: the decision history's redb file.
//!
//! Three tables: `blocks` (the block's first time in microseconds → a [`codec`] block),
//! `strings` (id → string) and `meta` (record count, the last journal segment committed).
//! A batch is one write transaction with redb's immediate durability: new strings, one
//! block and the counters commit together or not at all, so a replayed journal segment is
//! never counted twice.
//!
//! The daemon holds the file open (redb locks it); other processes read the history
//! through the daemon's API instead (see `badclients report`).

use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use rustc_hash::FxHashMap;

use super::aggregate::Weight;
use super::codec::{self, BlockReader, DecodeError, Row, Strings};
use super::{Filter, Record};
use crate::cache::store::{create_parent, is_unreadable, move_aside, StoreError};
use crate::redb_guard::{closed_error, guarded};

const BLOCKS: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("blocks");
const STRINGS: TableDefinition<'static, u32, &'static str> = TableDefinition::new("strings");
const META: TableDefinition<'static, &'static str, u64> = TableDefinition::new("meta");

const META_RECORDS: &str = "records";
const META_SEGMENT: &str = "journal_segment";

/// A block holds records of at most this span, so a scan from `since` starts this much
/// earlier to find the block holding `since`.
pub const MAX_BLOCK_SPAN_US: u64 = 60_000_000;

/// A block is cut after about this many bytes.
const MAX_BLOCK_BYTES: usize = 30 * 1024;

/// Memory redb may use to cache pages of the file.
const PAGE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Why a history operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open decision history {path}: {source}")]
    Open { path: PathBuf, source: redb::Error },
    #[error("decision history {path}: {source}")]
    Storage { path: PathBuf, source: redb::Error },
    #[error("decision history {path}: {source}")]
    Decode { path: PathBuf, source: DecodeError },
    #[error(transparent)]
    File(#[from] StoreError),
    #[error(
        "decision history {path} is held by another process (the daemon); ask the daemon instead"
    )]
    Busy { path: PathBuf },
    #[error("decision history {path} is closed after an I/O error; reopening with back-off")]
    Closed { path: PathBuf },
    #[error("decision history journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a scan visits: a row and the strings its ids point into.
pub trait RowVisitor {
    fn visit(&mut self, row: &Row, strings: &Strings);
}

impl<F: FnMut(&Row, &Strings)> RowVisitor for F {
    fn visit(&mut self, row: &Row, strings: &Strings) {
        self(row, strings)
    }
}

/// Sizes for `badclients history` status lines and the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HistoryStats {
    pub records: u64,
    pub blocks: u64,
    pub strings: u64,
    pub oldest_us: Option<u64>,
    pub file_bytes: u64,
}

/// The history file.
///
/// The database is held behind a lock so that it can be closed and reopened in place after
/// an I/O error (redb refuses every operation after one until it is reopened) or replaced
/// by a fresh file when damage shows up at run time; an operation meanwhile fails with a
/// storage error.
#[derive(Debug)]
pub struct HistoryStore {
    db: Mutex<Option<Arc<Database>>>,
    path: PathBuf,
    /// Damaged files moved aside (at open or at a reopen).
    moved_aside: AtomicU64,
    /// Successful reopens after an error.
    reopens: AtomicU64,
}

impl HistoryStore {
    /// Opens (or creates) the history at `path`. A file redb cannot read — its integrity
    /// check fails, or redb panics on it — is moved aside and an empty history started;
    /// the warning says so.
    pub fn open(path: &Path) -> Result<(HistoryStore, Option<String>), HistoryError> {
        let (db, warning) = open_or_replace(path)?;
        let store = HistoryStore::new(db, path);
        if warning.is_some() {
            store.moved_aside.fetch_add(1, Ordering::Relaxed);
        }
        Ok((store, warning))
    }

    fn new(db: Database, path: &Path) -> HistoryStore {
        HistoryStore {
            db: Mutex::new(Some(Arc::new(db))),
            path: path.to_path_buf(),
            moved_aside: AtomicU64::new(0),
            reopens: AtomicU64::new(0),
        }
    }

    /// The open database, or the "closed" I/O error while it waits to be reopened.
    fn db(&self) -> Result<Arc<Database>, redb::Error> {
        self.db
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(closed_error)
    }

    /// Closes the database and opens the file again (after an I/O error, or damage met at
    /// run time: a damaged file is then moved aside and a fresh one started, the warning
    /// says so). Fails, leaving the store closed, while the file system still fails or a
    /// scan still holds the old database; call again later.
    pub fn reopen(&self) -> Result<Option<String>, HistoryError> {
        let old = self.db.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(old);
        let (db, warning) = open_or_replace(&self.path)?;
        *self.db.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(db));
        self.reopens.fetch_add(1, Ordering::Relaxed);
        if warning.is_some() {
            self.moved_aside.fetch_add(1, Ordering::Relaxed);
        }
        Ok(warning)
    }

    /// Closes the database (after an I/O error): operations fail until [`HistoryStore::reopen`].
    pub fn close(&self) {
        let old = self.db.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(old);
    }

    /// Whether the database is open (not waiting to be reopened).
    pub fn is_open(&self) -> bool {
        self.db.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Damaged files moved aside since the process started.
    pub fn moved_aside(&self) -> u64 {
        self.moved_aside.load(Ordering::Relaxed)
    }

    /// Reopens since the process started.
    pub fn reopens(&self) -> u64 {
        self.reopens.load(Ordering::Relaxed)
    }

    /// Runs `body` with a panic inside (redb meeting a damaged page) turned into a storage
    /// error that reads as damage.
    fn contained<T>(
        &self,
        body: impl FnOnce() -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
            Ok(result) => result,
            Err(_) => Err(HistoryError::Storage {
                path: self.path.clone(),
                source: redb::Error::Corrupted("redb panicked while reading".into()),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn storage(&self) -> impl Fn(redb::Error) -> HistoryError + '_ {
        |source| HistoryError::Storage {
            path: self.path.clone(),
            source,
        }
    }

    /// Every stored string.
    pub fn strings(&self) -> Result<Strings, HistoryError> {
        let run = || -> Result<Strings, redb::Error> {
            let txn = self.db()?.begin_read()?;
            let table = txn.open_table(STRINGS)?;
            let mut pairs = Vec::with_capacity(table.len()? as usize);
            for item in table.iter()? {
                let (id, name) = item?;
                pairs.push((id.value(), name.value().to_string()));
            }
            Ok(Strings::from_pairs(pairs))
        };
        guarded(run).map_err(self.storage())
    }

    /// The last journal segment whose records are in the store.
    pub fn committed_segment(&self) -> Result<Option<u64>, HistoryError> {
        let run = || -> Result<Option<u64>, redb::Error> {
            let txn = self.db()?.begin_read()?;
            let meta = txn.open_table(META)?;
            Ok(meta.get(META_SEGMENT)?.map(|v| v.value()))
        };
        guarded(run).map_err(self.storage())
    }

    /// Commits `records` (a journal replay, an import), sorted by time, the way the writer
    /// commits its batches ([`HistoryStore::append_frames`]): interning new strings into
    /// `strings` and recording `segment` as committed. On failure `strings` is reloaded.
    pub fn append(
        &self,
        records: &[Record],
        strings: &mut Strings,
        segment: Option<u64>,
    ) -> Result<(), HistoryError> {
        let mut sorted: Vec<&Record> = records.iter().collect();
        sorted.sort_by_key(|r| r.time_us);
        let mut frames = Vec::with_capacity(records.len() * 160);
        for r in sorted {
            let frame = super::journal::line(r).map_err(|source| HistoryError::Journal {
                path: self.path.clone(),
                source,
            })?;
            frames.extend_from_slice(&frame);
        }
        self.append_frames(&frames, strings, segment).map(|_| ())
    }

    /// Commits journal frames (the writer's batch) without building records: each frame
    /// is read in place, interned into a reused row and encoded into the block. Returns
    /// the number of records. A damaged frame ends the batch (frames come from this
    /// process's memory, so that does not happen short of a bug).
    pub fn append_frames(
        &self,
        frames: &[u8],
        strings: &mut Strings,
        segment: Option<u64>,
    ) -> Result<usize, HistoryError> {
        let mut added = Vec::new();
        let mut blocks: Vec<(u64, Vec<u8>, u64)> = Vec::new();
        let mut view = codec::RecordRef::default();
        let mut row = Row::default();
        let mut rest = frames;
        let mut n = 0usize;
        // A client polling from the same place makes decisions that differ only in their
        // time (which leads the record): each distinct rest is decoded and interned once
        // per batch, and its encoded body reused.
        let mut bodies: FxHashMap<&[u8], Vec<u8>> = FxHashMap::default();
        while let Some(payload) = super::journal::next_payload(&mut rest) {
            let Ok((t, rest_of_record)) = codec::split_time(payload) else {
                break;
            };
            let body = match bodies.entry(rest_of_record) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(new) => {
                    if codec::decode_record_ref(payload, &mut view).is_err() {
                        break;
                    }
                    row.intern_ref(&view, strings, &mut added);
                    let mut body = Vec::with_capacity(64);
                    codec::encode_body(&mut body, &row);
                    new.insert(body)
                }
            };
            let fits = blocks.last().is_some_and(|(base, bytes, _)| {
                t >= *base && t - base < MAX_BLOCK_SPAN_US && bytes.len() < MAX_BLOCK_BYTES
            });
            if !fits {
                blocks.push((t, Vec::with_capacity(MAX_BLOCK_BYTES + 256), 0));
            }
            if let Some((base, bytes, count)) = blocks.last_mut() {
                codec::put_varint(bytes, t - *base);
                bytes.extend_from_slice(body);
                *count += 1;
            }
            n += 1;
        }
        let result = guarded(|| -> Result<(), redb::Error> {
            let txn = self.db()?.begin_write()?;
            {
                let mut table = txn.open_table(STRINGS)?;
                for (id, name) in &added {
                    table.insert(*id, name.as_str())?;
                }
                let mut table = txn.open_table(BLOCKS)?;
                for (base, body, count) in &blocks {
                    let mut key = *base;
                    while table.get(key)?.is_some() {
                        key += 1;
                    }
                    let block = codec::block_from_body(*count, body);
                    table.insert(key, block.as_slice())?;
                }
                let mut meta = txn.open_table(META)?;
                let total = meta.get(META_RECORDS)?.map(|v| v.value()).unwrap_or(0);
                meta.insert(META_RECORDS, total + n as u64)?;
                if let Some(segment) = segment {
                    meta.insert(META_SEGMENT, segment)?;
                }
            }
            txn.commit()?;
            Ok(())
        });
        if let Err(source) = result {
            if let Ok(reloaded) = self.strings() {
                *strings = reloaded;
            }
            return Err(HistoryError::Storage {
                path: self.path.clone(),
                source,
            });
        }
        Ok(n)
    }

    /// Visits every row that `filter` selects, oldest first.
    pub fn scan(&self, filter: &Filter, visitor: &mut dyn RowVisitor) -> Result<u64, HistoryError> {
        let strings = self.strings()?;
        self.scan_with(&strings, filter, visitor)
    }

    /// [`HistoryStore::scan`] with strings already read.
    pub fn scan_with(
        &self,
        strings: &Strings,
        filter: &Filter,
        visitor: &mut dyn RowVisitor,
    ) -> Result<u64, HistoryError> {
        let users: Option<Vec<u32>> = filter.user.as_ref().map(|u| strings.ids_ignoring_case(u));
        if users.as_ref().is_some_and(|u| u.is_empty()) {
            return Ok(0);
        }
        let since = filter.since_us.unwrap_or(0);
        let until = filter.until_us.unwrap_or(u64::MAX);
        let spec = ScanSpec {
            since,
            until,
            bucket_us: 0,
            users: users.as_deref(),
        };
        let keys = since.saturating_sub(MAX_BLOCK_SPAN_US)..until;
        self.visit_rows(keys, &spec, &mut |row, _| visitor.visit(row, strings))
    }

    /// Visits what `filter` selects with identical rows merged: each distinct row (and
    /// chart bucket, when `bucket_us` > 0) once, with how many there were and when. The
    /// time range is split over the machine's cores; per row it costs one hash lookup on
    /// the encoded bytes, and the visitor sees each group once.
    pub fn scan_grouped(
        &self,
        strings: &Strings,
        filter: &Filter,
        bucket_us: u64,
        visitor: &mut dyn FnMut(&Row, Weight),
    ) -> Result<u64, HistoryError> {
        let users: Option<Vec<u32>> = filter.user.as_ref().map(|u| strings.ids_ignoring_case(u));
        if users.as_ref().is_some_and(|u| u.is_empty()) {
            return Ok(0);
        }
        let since = filter.since_us.unwrap_or(0);
        let until = filter.until_us.unwrap_or(u64::MAX);
        let (first, last) = self.key_bounds()?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(0);
        };
        let lo = since.saturating_sub(MAX_BLOCK_SPAN_US).max(first);
        let hi = until.min(last.saturating_add(1));
        if lo >= hi {
            return Ok(0);
        }
        let parts = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8) as u64;
        let step = ((hi - lo) / parts).max(1);
        let ranges: Vec<(u64, u64)> = (0..parts)
            .map(|i| {
                (
                    lo + i * step,
                    if i + 1 == parts {
                        hi
                    } else {
                        lo + (i + 1) * step
                    },
                )
            })
            .filter(|(a, b)| a < b)
            .collect();
        let scan = ScanSpec {
            since,
            until,
            bucket_us,
            users: users.as_deref(),
        };
        let results: Vec<Result<(Groups, u64), HistoryError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = ranges
                .iter()
                .map(|&(a, b)| scope.spawn(move || self.group_range(a..b, &scan)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(self.decode_error(DecodeError::Invalid("a scan thread panicked")))
                    })
                })
                .collect()
        });
        let mut merged: Groups = FxHashMap::default();
        let mut seen = 0;
        for result in results {
            let (groups, n) = result?;
            seen += n;
            if merged.len() < groups.len() {
                let smaller = std::mem::replace(&mut merged, groups);
                merge_groups(&mut merged, smaller);
            } else {
                merge_groups(&mut merged, groups);
            }
        }
        let skip = if bucket_us > 0 { 8 } else { 0 };
        let mut row = Row::default();
        for (key, w) in &merged {
            codec::decode_body(&key[skip..], &mut row).map_err(|e| self.decode_error(e))?;
            row.time_us = w.last_us;
            visitor(&row, *w);
        }
        Ok(seen)
    }

    fn decode_error(&self, source: DecodeError) -> HistoryError {
        HistoryError::Decode {
            path: self.path.clone(),
            source,
        }
    }

    /// The first and last block keys.
    fn key_bounds(&self) -> Result<(Option<u64>, Option<u64>), HistoryError> {
        let run = || -> Result<(Option<u64>, Option<u64>), redb::Error> {
            let txn = self.db()?.begin_read()?;
            let blocks = txn.open_table(BLOCKS)?;
            let first = blocks.first()?.map(|(k, _)| k.value());
            let last = blocks.last()?.map(|(k, _)| k.value());
            Ok((first, last))
        };
        guarded(run).map_err(self.storage())
    }

    /// Groups the rows of the blocks keyed in `keys`.
    fn group_range(
        &self,
        keys: std::ops::Range<u64>,
        scan: &ScanSpec<'_>,
    ) -> Result<(Groups, u64), HistoryError> {
        let mut groups: Groups = FxHashMap::default();
        let mut key: Vec<u8> = Vec::with_capacity(64);
        let seen = self.visit_rows(keys, scan, &mut |row, body| {
            let t = row.time_us;
            key.clear();
            if let Some(bucket) = t.checked_div(scan.bucket_us) {
                key.extend_from_slice(&bucket.to_le_bytes());
            }
            key.extend_from_slice(body);
            match groups.get_mut(key.as_slice()) {
                Some(w) => {
                    w.n += 1;
                    w.first_us = w.first_us.min(t);
                    w.last_us = w.last_us.max(t);
                }
                None => {
                    groups.insert(key.as_slice().into(), Weight::one(t));
                }
            }
        })?;
        Ok((groups, seen))
    }

    /// Calls `f` with every row (and its encoded body) of the blocks keyed in `keys` that
    /// `scan` selects by time and user; returns how many.
    fn visit_rows(
        &self,
        keys: std::ops::Range<u64>,
        scan: &ScanSpec<'_>,
        f: &mut dyn FnMut(&Row, &[u8]),
    ) -> Result<u64, HistoryError> {
        self.contained(|| self.visit_rows_unguarded(keys, scan, f))
    }

    fn visit_rows_unguarded(
        &self,
        keys: std::ops::Range<u64>,
        scan: &ScanSpec<'_>,
        f: &mut dyn FnMut(&Row, &[u8]),
    ) -> Result<u64, HistoryError> {
        let storage = |e: redb::Error| HistoryError::Storage {
            path: self.path.clone(),
            source: e,
        };
        let decode = |e| self.decode_error(e);
        let txn = self
            .db()
            .map_err(storage)?
            .begin_read()
            .map_err(|e| storage(e.into()))?;
        let blocks = txn.open_table(BLOCKS).map_err(|e| storage(e.into()))?;
        let range = blocks.range(keys).map_err(|e| storage(e.into()))?;
        let mut row = Row::default();
        let mut seen = 0u64;
        for item in range {
            let (k, value) = item.map_err(|e| storage(e.into()))?;
            let mut reader = BlockReader::new(k.value(), value.value()).map_err(decode)?;
            while let Some(body) = reader.next_with_body(&mut row).map_err(decode)? {
                if row.time_us < scan.since || row.time_us >= scan.until {
                    continue;
                }
                if scan.users.is_some_and(|users| !users.contains(&row.user)) {
                    continue;
                }
                seen += 1;
                f(&row, body);
            }
        }
        Ok(seen)
    }

    /// The newest `limit` rows that `keep` accepts, newest first.
    pub fn latest(
        &self,
        limit: usize,
        keep: &mut dyn FnMut(&Row) -> bool,
    ) -> Result<Vec<Record>, HistoryError> {
        let strings = self.strings()?;
        let run = || -> Result<Vec<Record>, HistoryError> {
            let txn = self
                .db()
                .map_err(self.storage())?
                .begin_read()
                .map_err(|e| self.storage()(e.into()))?;
            let blocks = txn
                .open_table(BLOCKS)
                .map_err(|e| self.storage()(e.into()))?;
            let mut out = Vec::new();
            let mut row = Row::default();
            for item in blocks.iter().map_err(|e| self.storage()(e.into()))?.rev() {
                let (key, value) = item.map_err(|e| self.storage()(e.into()))?;
                let decode = |source| HistoryError::Decode {
                    path: self.path.clone(),
                    source,
                };
                let mut reader = BlockReader::new(key.value(), value.value()).map_err(decode)?;
                let mut in_block = Vec::new();
                while reader.next_into(&mut row).map_err(decode)? {
                    if keep(&row) {
                        in_block.push(row.to_record(&strings));
                    }
                }
                out.extend(in_block.into_iter().rev());
                if out.len() >= limit {
                    break;
                }
            }
            out.truncate(limit);
            Ok(out)
        };
        self.contained(run)
    }

    /// Deletes blocks older than `older_than_us`, then the oldest blocks until at most
    /// `max_records` remain; then, when `strings` is due for it
    /// ([`Strings::collection_due`]), deletes the strings no remaining record uses, from
    /// the file and from `strings`, in the same transaction. The caller holds `strings`
    /// for the whole call, so no batch can use a string while it goes.
    pub fn prune(
        &self,
        older_than_us: u64,
        max_records: u64,
        strings: &mut Strings,
    ) -> Result<Pruned, HistoryError> {
        let collect = strings.collection_due();
        let run = || -> Result<(u64, Vec<u32>), redb::Error> {
            let txn = self.db()?.begin_write()?;
            let removed;
            let mut unused = Vec::new();
            {
                let mut blocks = txn.open_table(BLOCKS)?;
                let mut meta = txn.open_table(META)?;
                let mut total = meta.get(META_RECORDS)?.map(|v| v.value()).unwrap_or(0);
                let mut doomed = Vec::new();
                let mut dropped = 0u64;
                for item in blocks.iter()? {
                    let (key, value) = item?;
                    let key = key.value();
                    if key >= older_than_us && total - dropped <= max_records {
                        break;
                    }
                    // A block that cannot be read counts as empty and goes.
                    dropped += codec::block_len(value.value()).unwrap_or(0);
                    doomed.push(key);
                }
                for key in &doomed {
                    blocks.remove(*key)?;
                }
                removed = dropped.min(total);
                total -= removed;
                meta.insert(META_RECORDS, total)?;
                if collect {
                    let in_use = strings_in_use(&blocks)?;
                    unused = strings.unused(&in_use);
                    let mut table = txn.open_table(STRINGS)?;
                    for id in &unused {
                        table.remove(*id)?;
                    }
                }
            }
            txn.commit()?;
            Ok((removed, unused))
        };
        let (records, unused) = guarded(run).map_err(self.storage())?;
        if collect {
            strings.forget(&unused);
        }
        Ok(Pruned {
            records,
            strings: unused.len() as u64,
        })
    }

    /// Deletes every record of `user` (its escaped form, as in [`Filter::user`]; ignoring
    /// ASCII case; cut like a stored name when longer than
    /// [`codec::MAX_STRING_BYTES`]), in one write transaction: each block holding some of
    /// its rows is rewritten without them (or deleted when nothing is left), the record
    /// count lowered by as many, and the strings only those rows used dropped from the file
    /// and from `strings`. A block that cannot be decoded fails the whole call (nothing is
    /// changed): it might hold the user's rows. The caller holds `strings` for the whole
    /// call, so no batch commits meanwhile.
    pub fn forget_user(
        &self,
        user: &str,
        strings: &mut Strings,
    ) -> Result<Forgotten, HistoryError> {
        let users = strings.ids_ignoring_case(&codec::capped(user));
        if users.is_empty() {
            return Ok(Forgotten::default());
        }
        let run = || -> Result<(u64, Vec<u32>), HistoryError> {
            let storage = |e: redb::Error| HistoryError::Storage {
                path: self.path.clone(),
                source: e,
            };
            let txn = self
                .db()
                .map_err(storage)?
                .begin_write()
                .map_err(|e| storage(e.into()))?;
            let mut removed = 0u64;
            // The strings of the removed rows, and those the kept rows use.
            let mut theirs = rustc_hash::FxHashSet::default();
            let mut in_use = rustc_hash::FxHashSet::default();
            {
                let mut blocks = txn.open_table(BLOCKS).map_err(|e| storage(e.into()))?;
                let mut from = 0u64;
                loop {
                    // At most this many rewritten blocks (about 8 MB) are held at a time.
                    const CHUNK: usize = 256;
                    let mut changed: Vec<(u64, Option<Vec<u8>>)> = Vec::new();
                    let mut next = None;
                    let mut row = Row::default();
                    for item in blocks.range(from..).map_err(|e| storage(e.into()))? {
                        let (key, value) = item.map_err(|e| storage(e.into()))?;
                        let key = key.value();
                        if changed.len() >= CHUNK {
                            next = Some(key);
                            break;
                        }
                        let bytes = value.value();
                        let mut reader =
                            BlockReader::new(key, bytes).map_err(|e| self.decode_error(e))?;
                        let mut kept = Vec::with_capacity(bytes.len());
                        let (mut n_kept, mut n_gone) = (0u64, 0u64);
                        while let Some(body) = reader
                            .next_with_body(&mut row)
                            .map_err(|e| self.decode_error(e))?
                        {
                            if users.contains(&row.user) {
                                n_gone += 1;
                                theirs.extend(row.string_ids());
                            } else {
                                n_kept += 1;
                                in_use.extend(row.string_ids());
                                codec::put_varint(&mut kept, row.time_us - key);
                                kept.extend_from_slice(body);
                            }
                        }
                        if n_gone > 0 {
                            removed += n_gone;
                            let block = (n_kept > 0).then(|| codec::block_from_body(n_kept, &kept));
                            changed.push((key, block));
                        }
                    }
                    for (key, block) in &changed {
                        match block {
                            Some(block) => blocks.insert(*key, block.as_slice()),
                            None => blocks.remove(*key),
                        }
                        .map_err(|e| storage(e.into()))?;
                    }
                    match next {
                        Some(key) => from = key,
                        None => break,
                    }
                }
                let mut meta = txn.open_table(META).map_err(|e| storage(e.into()))?;
                let total = meta
                    .get(META_RECORDS)
                    .map_err(|e| storage(e.into()))?
                    .map(|v| v.value())
                    .unwrap_or(0);
                meta.insert(META_RECORDS, total.saturating_sub(removed))
                    .map_err(|e| storage(e.into()))?;
            }
            let mut unused: Vec<u32> = theirs
                .into_iter()
                .filter(|id| *id != 0 && !in_use.contains(id))
                .collect();
            unused.sort_unstable();
            {
                let mut table = txn.open_table(STRINGS).map_err(|e| storage(e.into()))?;
                for id in &unused {
                    table.remove(*id).map_err(|e| storage(e.into()))?;
                }
            }
            txn.commit().map_err(|e| storage(e.into()))?;
            Ok((removed, unused))
        };
        let (records, unused) = self.contained(run)?;
        strings.remove(&unused);
        Ok(Forgotten {
            records,
            strings: unused.len() as u64,
        })
    }

    pub fn stats(&self) -> Result<HistoryStats, HistoryError> {
        let run = || -> Result<HistoryStats, redb::Error> {
            let txn = self.db()?.begin_read()?;
            let blocks = txn.open_table(BLOCKS)?;
            let strings = txn.open_table(STRINGS)?;
            let meta = txn.open_table(META)?;
            let oldest_us = blocks.first()?.map(|(k, _)| k.value());
            Ok(HistoryStats {
                records: meta.get(META_RECORDS)?.map(|v| v.value()).unwrap_or(0),
                blocks: blocks.len()?,
                strings: strings.len()?,
                oldest_us,
                file_bytes: 0,
            })
        };
        let mut stats = guarded(run).map_err(self.storage())?;
        stats.file_bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok(stats)
    }
}

/// What [`HistoryStore::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub records: u64,
    /// Strings no remaining record used.
    pub strings: u64,
}

/// What [`HistoryStore::forget_user`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Forgotten {
    pub records: u64,
    /// Strings only the removed records used.
    pub strings: u64,
}

/// The string ids the rows of `blocks` use. A block that cannot be decoded keeps nothing
/// alive: its rows could not be shown anyway.
fn strings_in_use(
    blocks: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<rustc_hash::FxHashSet<u32>, redb::Error> {
    let mut in_use = rustc_hash::FxHashSet::default();
    let mut row = Row::default();
    for item in blocks.iter()? {
        let (key, value) = item?;
        let Ok(mut reader) = BlockReader::new(key.value(), value.value()) else {
            continue;
        };
        while let Ok(true) = reader.next_into(&mut row) {
            in_use.extend(row.string_ids());
        }
    }
    Ok(in_use)
}

/// Identical rows (by encoded body, after the chart bucket) and how many.
type Groups = FxHashMap<Box<[u8]>, Weight>;

/// What a scan thread selects.
#[derive(Clone, Copy)]
struct ScanSpec<'a> {
    since: u64,
    until: u64,
    bucket_us: u64,
    users: Option<&'a [u32]>,
}

fn merge_groups(into: &mut Groups, from: Groups) {
    for (key, w) in from {
        match into.get_mut(&key) {
            Some(v) => {
                v.n += w.n;
                v.first_us = v.first_us.min(w.first_us);
                v.last_us = v.last_us.max(w.last_us);
            }
            None => {
                into.insert(key, w);
            }
        }
    }
}

/// Opens the file at `path` (creating it), or moves a damaged one aside and starts a fresh
/// one; the warning says so.
fn open_or_replace(path: &Path) -> Result<(Database, Option<String>), HistoryError> {
    create_parent(path)?;
    match open_database(path) {
        Ok(db) => Ok((db, None)),
        Err(redb::Error::DatabaseAlreadyOpen) => Err(HistoryError::Busy {
            path: path.to_path_buf(),
        }),
        Err(err) if is_unreadable(&err) => {
            let aside = move_aside(path)?;
            let db = open_database(path).map_err(|source| HistoryError::Open {
                path: path.to_path_buf(),
                source,
            })?;
            let warning = format!(
                "decision history {} is damaged ({err}); moved it to {} and started an empty one",
                path.display(),
                aside.display()
            );
            Ok((db, Some(warning)))
        }
        Err(source) => Err(HistoryError::Open {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Opens or creates the redb file with its integrity checked (the whole file read once:
/// damage is an error here, where a plain open or a later read may panic), makes sure
/// every table exists and reads the strings and counters once. A panic inside redb is
/// caught and reported as damage.
fn open_database(path: &Path) -> Result<Database, redb::Error> {
    guarded(|| {
        let db = redb::Builder::new()
            .set_check_integrity_on_open(true)
            .set_cache_size(PAGE_CACHE_BYTES)
            .create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(BLOCKS)?;
        txn.open_table(STRINGS)?;
        txn.open_table(META)?;
        txn.commit()?;
        let txn = db.begin_read()?;
        for item in txn.open_table(STRINGS)?.iter()? {
            item?;
        }
        for item in txn.open_table(META)?.iter()? {
            item?;
        }
        let blocks = txn.open_table(BLOCKS)?;
        blocks.first()?;
        blocks.last()?;
        drop(blocks);
        drop(txn);
        Ok(db)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{journal, Outcome};

    fn records() -> Vec<Record> {
        (0..3000u64)
            .map(|i| Record {
                time_us: Some(1_700_000_000_000_000 + i * 50_000),
                user: format!("user{}", i % 7),
                service: ["imap", "pop3"][(i % 2) as usize].into(),
                ip: format!("198.51.100.{}", i % 200).parse().unwrap(),
                host: (i % 3 != 0).then(|| format!("h{}.example.net", i % 11)),
                asn: Some(64496 + (i % 5) as u32),
                as_cc: Some("NL".into()),
                as_desc: Some("EXAMPLE, NL".into()),
                net_name: None,
                net_cc: None,
                entities: vec!["ORG-EX1-RIPE".into()],
                cloud: if i % 4 == 0 {
                    vec!["aws:EC2:eu-west-1".into()]
                } else {
                    vec![]
                },
                geo_cc: None,
                outcome: Outcome::ALL[(i % 4) as usize],
                matched: (i % 4 == 1).then(|| "asn".into()),
                matched_entry: None,
                lookup_errors: vec![],
            })
            .collect()
    }

    fn all(store: &HistoryStore) -> Vec<Record> {
        let strings = store.strings().unwrap();
        let mut out = Vec::new();
        store
            .scan_with(
                &strings,
                &Filter::default(),
                &mut |row: &Row, s: &Strings| out.push(row.to_record(s)),
            )
            .unwrap();
        out
    }

    #[test]
    fn repeated_decisions_keep_their_own_times() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = HistoryStore::open(&dir.path().join("r.redb")).unwrap();
        // Three decisions repeating, as polling clients make them, with and without a time.
        let mut records: Vec<Record> = records().into_iter().take(3).collect();
        for i in 0..300u64 {
            let mut r = records[(i % 3) as usize].clone();
            r.time_us = (i != 7).then_some(1_800_000_000_000_000 + i * 1000);
            records.push(r);
        }
        let mut frames = Vec::new();
        for r in &records {
            frames.extend_from_slice(&journal::line(r).unwrap());
        }
        let mut strings = store.strings().unwrap();
        assert_eq!(
            store.append_frames(&frames, &mut strings, None).unwrap(),
            303
        );
        let mut expected = records.clone();
        expected.sort_by_key(|r| r.time_us);
        let mut stored = all(&store);
        stored.sort_by_key(|r| r.time_us);
        let differ = stored.iter().zip(&expected).filter(|(a, b)| a != b).count();
        assert_eq!((stored.len(), differ), (303, 0));
    }

    #[test]
    fn frames_and_records_are_stored_alike_and_prune_by_age_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let records = records();
        let (a, _) = HistoryStore::open(&dir.path().join("a.redb")).unwrap();
        let mut strings = a.strings().unwrap();
        a.append(&records, &mut strings, Some(4)).unwrap();
        let (b, _) = HistoryStore::open(&dir.path().join("b.redb")).unwrap();
        let mut frames = Vec::new();
        for r in &records {
            frames.extend_from_slice(&journal::line(r).unwrap());
        }
        let mut strings = b.strings().unwrap();
        assert_eq!(
            b.append_frames(&frames, &mut strings, Some(4)).unwrap(),
            3000
        );
        assert_eq!(all(&a), records);
        assert_eq!(all(&b), records);
        assert_eq!(b.committed_segment().unwrap(), Some(4));
        assert_eq!(b.stats().unwrap().records, 3000);

        // A filter on time and user (ignoring case).
        let filter = Filter {
            since_us: Some(1_700_000_000_000_000 + 1000 * 50_000),
            until_us: Some(1_700_000_000_000_000 + 2000 * 50_000),
            user: Some("USER3".into()),
        };
        let strings = b.strings().unwrap();
        let mut seen = 0;
        b.scan_with(&strings, &filter, &mut |row: &Row, s: &Strings| {
            assert_eq!(s.get(row.user), "user3");
            seen += 1;
        })
        .unwrap();
        assert_eq!(seen, (1000..2000).filter(|i| i % 7 == 3).count());
        let mut grouped = 0;
        b.scan_grouped(
            &strings,
            &filter,
            0,
            &mut |_: &Row, w: crate::history::aggregate::Weight| grouped += w.n,
        )
        .unwrap();
        assert_eq!(grouped, seen as u64);

        // By age: everything before the 1000th record goes (whole blocks, so a few may stay).
        let mut strings = b.strings().unwrap();
        let removed = b
            .prune(
                1_700_000_000_000_000 + 1000 * 50_000,
                u64::MAX,
                &mut strings,
            )
            .unwrap()
            .records;
        let left = all(&b);
        assert_eq!(removed as usize + left.len(), 3000);
        assert!(left
            .iter()
            .all(|r| r.time_us.unwrap() >= 1_700_000_000_000_000 + 900 * 50_000));
        assert!(removed >= 900, "{removed}");
        // By size: at most 1,500 stay, the newest (whole blocks of about 1,200 go).
        b.prune(0, 1500, &mut strings).unwrap();
        let left = all(&b);
        assert!(left.len() <= 1500 && !left.is_empty(), "{}", left.len());
        assert_eq!(left.last(), records.last());
        assert_eq!(b.stats().unwrap().records, left.len() as u64);
    }

    /// Forgetting one user (ignoring case) rewrites the blocks without its rows, lowers
    /// the count, drops the strings only its rows used and leaves every other record as it
    /// was.
    #[test]
    fn forget_user_removes_its_rows_counts_and_strings_only() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = HistoryStore::open(&dir.path().join("f.redb")).unwrap();
        let mut records = records();
        // user3's records, some spelled in capitals, some with a host no one else has.
        for (i, r) in records.iter_mut().enumerate() {
            if r.user == "user3" && i % 2 == 0 {
                r.user = "USER3".into();
            }
            if r.user.eq_ignore_ascii_case("user3") && i % 3 == 1 {
                r.host = Some(format!("only-user3-{i}.example.net"));
            }
        }
        let mut strings = store.strings().unwrap();
        store.append(&records, &mut strings, None).unwrap();
        let before = store.stats().unwrap();
        let theirs = records
            .iter()
            .filter(|r| r.user.eq_ignore_ascii_case("user3"))
            .count() as u64;
        assert!(theirs > 400, "{theirs}");
        let own_hosts = records
            .iter()
            .filter(|r| r.host.as_ref().is_some_and(|h| h.starts_with("only-")))
            .count() as u64;

        let forgotten = store.forget_user("User3", &mut strings).unwrap();
        assert_eq!(forgotten.records, theirs);
        // Both spellings of the name and the hosts only user3 used.
        assert_eq!(forgotten.strings, 2 + own_hosts);
        let after = store.stats().unwrap();
        assert_eq!(after.records, before.records - theirs);
        assert_eq!(after.strings, before.strings - forgotten.strings);
        assert_eq!(strings.len() as u64, after.strings);
        let expected: Vec<Record> = records
            .iter()
            .filter(|r| !r.user.eq_ignore_ascii_case("user3"))
            .cloned()
            .collect();
        assert_eq!(all(&store), expected);
        // The file's table and the caller's agree.
        let reread = store.strings().unwrap();
        assert_eq!(reread.len(), strings.len());
        assert!(reread.ids_ignoring_case("user3").is_empty());

        // Again: nothing left to remove; an unknown user neither.
        assert_eq!(store.forget_user("user3", &mut strings).unwrap().records, 0);
        assert_eq!(
            store.forget_user("nobody", &mut strings).unwrap().records,
            0
        );
        // Every record of every user: the blocks are gone, the count is 0.
        for u in 0..7 {
            store
                .forget_user(&format!("user{u}"), &mut strings)
                .unwrap();
        }
        let empty = store.stats().unwrap();
        assert_eq!((empty.records, empty.blocks), (0, 0));
    }

    /// Every record a new user name and host name, as from password sprayers and
    /// residential addresses: pruning to a size also drops the strings only the pruned
    /// records used, once the table has doubled, and what stays reads back the same.
    #[test]
    fn prune_drops_strings_no_kept_record_uses() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = HistoryStore::open(&dir.path().join("s.redb")).unwrap();
        let base = records();
        let unique = |i: u64| {
            let mut r = base[(i % 3000) as usize].clone();
            r.time_us = Some(1_800_000_000_000_000 + i * 1000);
            r.user = format!("sprayed{i}");
            r.host = Some(format!("c-{i}.dyn.example.net"));
            r
        };
        let mut strings = store.strings().unwrap();
        let mut next = 0u64;
        let mut batch = |store: &HistoryStore, strings: &mut Strings, n: u64| {
            let records: Vec<Record> = (next..next + n).map(unique).collect();
            next += n;
            store.append(&records, strings, None).unwrap();
            records
        };
        batch(&store, &mut strings, 20_000);
        let with_all = strings.len();
        assert!(with_all > 40_000, "{with_all}");
        let pruned = store.prune(0, 5_000, &mut strings).unwrap();
        assert!(pruned.records >= 15_000, "{pruned:?}");
        // What stays is exactly the distinct strings of the records kept (whole blocks go,
        // so somewhat fewer than 5,000 records stay).
        let kept = strings.len();
        let left = all(&store);
        assert!(left.len() > 3_000 && left.len() <= 5_000, "{}", left.len());
        let mut used = std::collections::HashSet::new();
        for r in &left {
            let strs = [&r.user, &r.service].into_iter().chain(
                [
                    &r.host,
                    &r.as_cc,
                    &r.as_desc,
                    &r.net_name,
                    &r.net_cc,
                    &r.geo_cc,
                    &r.matched,
                ]
                .into_iter()
                .flatten(),
            );
            used.extend(strs.chain(&r.entities).chain(&r.cloud).cloned());
        }
        assert_eq!(kept, used.len(), "{kept} of {with_all}");
        assert_eq!(pruned.strings as usize, with_all - kept);
        assert_eq!(store.stats().unwrap().strings as usize, kept);
        // The next prune is not due until the table has doubled: nothing more goes now.
        assert!(!strings.collection_due());
        assert_eq!(store.prune(0, 5_000, &mut strings).unwrap().strings, 0);

        // New records after the collection get new ids and read back, with the kept ones.
        let newer = batch(&store, &mut strings, 1_000);
        let left = all(&store);
        assert_eq!(&left[left.len() - 1_000..], &newer[..]);
        let first_kept = left[0].time_us.unwrap();
        let expected: Vec<Record> = (0..next)
            .map(unique)
            .filter(|r| r.time_us.unwrap() >= first_kept)
            .collect();
        assert_eq!(left, expected);
        // The file's table and the writer's agree: a fresh read resolves the same ids.
        let reread = store.strings().unwrap();
        assert_eq!(reread.len(), strings.len());
        for id in 1..40_000u32 {
            assert_eq!(reread.get(id), strings.get(id), "id {id}");
        }
    }
}

#[cfg(test)]
mod damage_tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    /// A history of several pages of blocks and strings, with unique users.
    fn filled(path: &Path) -> u64 {
        let (store, _) = HistoryStore::open(path).unwrap();
        let mut strings = store.strings().unwrap();
        for batch in 0..20u64 {
            let records: Vec<Record> = (0..500u64)
                .map(|i| {
                    crate::history::test_record(
                        &format!("u{batch}-{i}"),
                        1_700_000_000_000_000 + (batch * 500 + i) * 1_000,
                    )
                })
                .collect();
            store
                .append(&records, &mut strings, Some(batch + 1))
                .unwrap();
        }
        drop(store);
        std::fs::metadata(path).unwrap().len()
    }

    fn zero(path: &Path, offset: u64) {
        let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.write_all(&[0u8; 256]).unwrap();
    }

    #[test]
    fn a_damaged_file_opens_as_a_fresh_history_or_reads_without_a_panic() {
        for offset in [0u64, 4096, 8192, 16384, 65536, 200_000] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("h.redb");
            let size = filled(&path);
            assert!(size > 200_256, "{size}");
            zero(&path, offset);
            let (store, warning) =
                HistoryStore::open(&path).unwrap_or_else(|e| panic!("offset {offset}: {e}"));
            let aside: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
                .collect();
            match &warning {
                Some(w) => {
                    assert!(w.contains("damaged"), "{w}");
                    assert_eq!(aside.len(), 1, "offset {offset}");
                    assert_eq!(store.moved_aside(), 1);
                    assert_eq!(store.stats().unwrap().records, 0);
                }
                None => assert!(aside.is_empty()),
            }
            // Whatever was kept reads back without a panic, and takes new records.
            let mut n = 0u64;
            let _ = store.scan(&Filter::default(), &mut |_: &Row, _: &Strings| n += 1);
            let mut strings = store.strings().unwrap();
            store
                .append(
                    &[crate::history::test_record("after", 1_800_000_000_000_000)],
                    &mut strings,
                    None,
                )
                .unwrap_or_else(|e| panic!("offset {offset}: {e}"));
            eprintln!(
                "offset {offset}: warning {:?}, {n} rows read",
                warning.is_some()
            );
        }
    }
}
