//! The redb file itself: its tables, [`HistoryStore`] opened (a damaged file moved aside),
//! closed and reopened after an I/O error, its string table and sizes, and
//! [`HistoryError`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::cache::store::{create_parent, is_unreadable, move_aside, StoreError};
use crate::history::codec::{DecodeError, Strings};
use crate::redb_guard::{closed_error, guarded};

pub(super) const BLOCKS: TableDefinition<'static, u64, &'static [u8]> =
    TableDefinition::new("blocks");
pub(super) const STRINGS: TableDefinition<'static, u32, &'static str> =
    TableDefinition::new("strings");
pub(super) const META: TableDefinition<'static, &'static str, u64> = TableDefinition::new("meta");

pub(super) const META_RECORDS: &str = "records";
pub(super) const META_SEGMENT: &str = "journal_segment";

/// A block holds records of at most this span, so a scan from `since` starts this much
/// earlier to find the block holding `since`.
pub const MAX_BLOCK_SPAN_US: u64 = 60_000_000;

/// A block is cut after about this many bytes.
pub(super) const MAX_BLOCK_BYTES: usize = 30 * 1024;

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
    /// Shipping to the shared history (`backend = "postgres"`) failed; the batch waits in
    /// the journal.
    #[error("shared decision history: {0}")]
    Shipping(crate::history::writer::ShipError),
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
    pub(super) path: PathBuf,
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
    pub(super) fn db(&self) -> Result<Arc<Database>, redb::Error> {
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
    pub(super) fn contained<T>(
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

    pub(super) fn storage(&self) -> impl Fn(redb::Error) -> HistoryError + '_ {
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

    pub(super) fn decode_error(&self, source: DecodeError) -> HistoryError {
        HistoryError::Decode {
            path: self.path.clone(),
            source,
        }
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
