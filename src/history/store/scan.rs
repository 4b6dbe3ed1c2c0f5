//! Reading rows back: every row a [`Filter`] selects in time order, the same grouped
//! (identical rows merged, the time range split over the cores), and the newest rows.

use redb::{ReadableDatabase, ReadableTable};
use rustc_hash::FxHashMap;

use super::db::{HistoryError, HistoryStore, BLOCKS, MAX_BLOCK_SPAN_US};
use crate::history::codec::{self, BlockReader, DecodeError, Row, Strings};
use crate::history::record::{Filter, Record};
use crate::redb_guard::guarded;

/// What a scan visits: a row and the strings its ids point into.
pub trait RowVisitor {
    fn visit(&mut self, row: &Row, strings: &Strings);
}

impl<F: FnMut(&Row, &Strings)> RowVisitor for F {
    fn visit(&mut self, row: &Row, strings: &Strings) {
        self(row, strings)
    }
}

/// How many identical rows one grouped visit stands for, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weight {
    pub n: u64,
    pub first_us: u64,
    pub last_us: u64,
}

impl Weight {
    /// One row at `time_us`.
    pub fn one(time_us: u64) -> Weight {
        Weight {
            n: 1,
            first_us: time_us,
            last_us: time_us,
        }
    }
}

impl HistoryStore {
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
