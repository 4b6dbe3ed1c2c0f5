//! Forgetting one user: every block holding some of the user's rows rewritten without
//! them, in one transaction with the count and the strings only those rows used.

use redb::ReadableTable;

use super::db::{HistoryError, HistoryStore, BLOCKS, META, META_RECORDS, STRINGS};
use crate::history::codec::{self, BlockReader, Row, Strings};

impl HistoryStore {
    /// Deletes every record of `user` (its escaped form, as in [`Filter::user`](crate::history::Filter::user); ignoring
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
}

/// What [`HistoryStore::forget_user`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Forgotten {
    pub records: u64,
    /// Strings only the removed records used.
    pub strings: u64,
}
