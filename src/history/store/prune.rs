//! Pruning: blocks older than the retention or beyond the record cap deleted, and — once
//! the string table has doubled — the strings no kept record uses.

use redb::ReadableTable;

use super::db::{HistoryError, HistoryStore, BLOCKS, META, META_RECORDS, STRINGS};
use crate::history::codec::{self, BlockReader, Row, Strings};
use crate::redb_guard::guarded;

impl HistoryStore {
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
}

/// What [`HistoryStore::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub records: u64,
    /// Strings no remaining record used.
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
