//! Committing a batch: journal frames (or records) interned, encoded into blocks and
//! written with the counters and the journal segment's number in one transaction.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use super::db::{
    HistoryError, HistoryStore, BLOCKS, MAX_BLOCK_BYTES, MAX_BLOCK_SPAN_US, META, META_RECORDS,
    META_SEGMENT, STRINGS,
};
use crate::history::codec::{self, Row, Strings};
use crate::history::journal;
use crate::history::record::Record;
use crate::redb_guard::guarded;
use redb::ReadableTable;

impl HistoryStore {
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
            let frame = journal::line(r).map_err(|source| HistoryError::Journal {
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
        while let Some(payload) = journal::next_payload(&mut rest) {
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
}
