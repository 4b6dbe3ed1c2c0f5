//! The persistent cache tier: [`CacheStore`], one redb file that keeps what badclients
//! learned across restarts.
//!
//! It owns the file's layout and its life: one redb table per [`Table`] (named by
//! [`Table::name`]), keyed by the entry's key (`176.112.168.0/21`, `AS47764`, an IP) and
//! holding the [`Stored`] entry as JSON bytes. An entry that no longer decodes is never
//! returned: reads skip it, log it and count it, and [`CacheStore::prune_expired`] removes it.
//!
//! A file that redb cannot read (garbage, truncated, failed page checksums, a format this redb
//! does not open) is moved aside to `<path>.corrupt-<unix time>` and replaced by a fresh store;
//! the caller gets a warning to log. The file is a cache, so starting empty is always safe. A
//! file held open by another process is not corrupt: opening it is an error instead.
//!
//! The file is bounded: [`CacheStore::put_many_capped`] keeps each table at a cap in rows
//! (evicting the rows that expire soonest, in the same transaction), and
//! [`CacheStore::prune_expired`] deletes expired rows; redb reuses the freed pages, so the
//! file levels off.
//!
//! The API is synchronous, as redb is: async callers run it through
//! `tokio::task::spawn_blocking`. The store is `Send + Sync`; share it in an `Arc`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redb::{
    Builder, Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};

use super::{now_unix, Stored, Table};
use crate::redb_guard::{closed_error, guarded, is_io_failure, Backoff};
use crate::warn_limit::WarnLimit;

/// Memory redb may use to cache pages of the file (its default is 1 GiB).
const PAGE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// A store table: the key, then the JSON bytes of a [`Stored`] entry.
type Definition = TableDefinition<'static, &'static str, &'static [u8]>;

fn definition(table: Table) -> Definition {
    TableDefinition::new(table.name())
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory that should hold the file could not be created.
    #[error("cannot create the directory of cache store {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    /// An unreadable file could not be moved out of the way.
    #[error("cannot move unreadable cache store {path} aside to {aside}: {source}")]
    MoveAside {
        path: PathBuf,
        aside: PathBuf,
        source: io::Error,
    },
    /// The file could not be opened or created as a store (see
    /// [`StoreError::is_held_elsewhere`]).
    #[error("cannot open cache store {path}: {source}")]
    Open { path: PathBuf, source: redb::Error },
    /// A read or write of an open store failed.
    #[error("cache store {path}: {source}")]
    Storage { path: PathBuf, source: redb::Error },
    /// An entry could not be serialised.
    #[error("cannot encode cache entry {table}/{key}: {source}")]
    Encode {
        table: &'static str,
        key: String,
        source: serde_json::Error,
    },
    /// The size of the file could not be read.
    #[error("cannot read the size of cache store {path}: {source}")]
    FileSize { path: PathBuf, source: io::Error },
}

impl StoreError {
    /// Whether the store could not be opened because another process (a running daemon)
    /// holds the file.
    pub fn is_held_elsewhere(&self) -> bool {
        matches!(
            self,
            StoreError::Open {
                source: redb::Error::DatabaseAlreadyOpen,
                ..
            }
        )
    }
}

/// The persistent tier: a redb file with one table per [`Table`].
///
/// After an I/O error (disk full, EIO; redb then refuses everything until it is reopened)
/// or damage met at run time, the database is closed; the next operation after a back-off
/// opens the file again (a damaged one is moved aside). Meanwhile reads are misses and
/// writes fail fast; the failures are logged once per interval with a count.
#[derive(Debug)]
pub struct CacheStore {
    db: Mutex<Slot>,
    path: PathBuf,
    undecodable: AtomicUsize,
    read_errors: AtomicUsize,
    moved_aside: AtomicUsize,
    reopens: AtomicUsize,
    failures: WarnLimit,
}

/// The open database, or when to try opening it again.
#[derive(Debug)]
struct Slot {
    db: Option<Arc<Database>>,
    retry_at: Option<Instant>,
    backoff: Backoff,
}

/// How often a repeated store failure is logged.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

impl CacheStore {
    /// Opens the store at `path`, creating its directory and file when missing.
    ///
    /// A file that is not a readable store (its integrity check fails, or redb panics on
    /// it) is moved aside to `<path>.corrupt-<unix time>` and a fresh store takes its
    /// place; the returned warning says so (log it).
    pub fn open(path: &Path) -> Result<(CacheStore, Option<String>), StoreError> {
        let (db, warning) = open_or_replace(path)?;
        let store = CacheStore::new(db, path);
        if warning.is_some() {
            store.moved_aside.fetch_add(1, Ordering::Relaxed);
        }
        Ok((store, warning))
    }

    fn new(db: Database, path: &Path) -> CacheStore {
        CacheStore {
            db: Mutex::new(Slot {
                db: Some(Arc::new(db)),
                retry_at: None,
                backoff: Backoff::default(),
            }),
            path: path.to_path_buf(),
            undecodable: AtomicUsize::new(0),
            read_errors: AtomicUsize::new(0),
            moved_aside: AtomicUsize::new(0),
            reopens: AtomicUsize::new(0),
            failures: WarnLimit::new(WARN_INTERVAL),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The open database; when it is closed after a failure and the back-off is over, the
    /// file is opened again first.
    fn db(&self) -> Result<Arc<Database>, redb::Error> {
        let mut slot = self.slot();
        if let Some(db) = &slot.db {
            return Ok(Arc::clone(db));
        }
        if slot.retry_at.is_some_and(|at| Instant::now() < at) {
            return Err(closed_error());
        }
        match open_or_replace(&self.path) {
            Ok((db, warning)) => {
                if let Some(w) = warning {
                    self.moved_aside.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("{w}");
                }
                self.reopens.fetch_add(1, Ordering::Relaxed);
                tracing::info!(store = %self.path.display(), "cache store reopened");
                let db = Arc::new(db);
                slot.db = Some(Arc::clone(&db));
                slot.retry_at = None;
                slot.backoff.reset();
                Ok(db)
            }
            Err(err) => {
                let wait = slot.backoff.next_wait();
                slot.retry_at = Some(Instant::now() + wait);
                Err(redb::Error::Io(io::Error::other(err.to_string())))
            }
        }
    }

    /// Closes the database after an error that needs a reopen (an I/O error, damage).
    fn failed(&self, err: &redb::Error) {
        if !(is_io_failure(err) || is_unreadable(err)) {
            return;
        }
        let mut slot = self.slot();
        if slot.db.take().is_some() {
            let wait = slot.backoff.next_wait();
            slot.retry_at = Some(Instant::now() + wait);
        }
    }

    /// Logs a failed write (the caller's), at most once per interval with a count.
    pub fn log_write_failure(&self, err: &StoreError) {
        if let Some(n) = self.failures.hit() {
            tracing::warn!(error = %err, failures = n, "cache store write failed; entries kept in memory only");
        }
    }

    /// Whether the database is open (not waiting to be reopened after a failure).
    pub fn is_open(&self) -> bool {
        self.slot().db.is_some()
    }

    /// Damaged files moved aside since the process started.
    pub fn moved_aside(&self) -> usize {
        self.moved_aside.load(Ordering::Relaxed)
    }

    /// Reopens after a failure since the process started.
    pub fn reopens(&self) -> usize {
        self.reopens.load(Ordering::Relaxed)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `entry` under `key` in `table`, replacing what was there.
    pub fn put(&self, table: Table, key: &str, entry: &Stored) -> Result<(), StoreError> {
        let bytes = encode(table, key, entry)?;
        self.write(|txn| {
            txn.open_table(definition(table))?
                .insert(key, bytes.as_slice())?;
            Ok(())
        })
    }

    /// Stores every item in one write transaction: all of them or, on error, none.
    pub fn put_many(&self, items: &[(Table, String, Stored)]) -> Result<(), StoreError> {
        self.put_many_capped(items, usize::MAX).map(|_| ())
    }

    /// Stores every item in one write transaction and, in the same transaction, evicts the
    /// rows that expire soonest from every table that now holds more than `max_rows`
    /// (down to 1/16 below it); returns how many rows were evicted.
    pub fn put_many_capped(
        &self,
        items: &[(Table, String, Stored)],
        max_rows: usize,
    ) -> Result<usize, StoreError> {
        let encoded = items
            .iter()
            .map(|(table, key, entry)| Ok((*table, key.as_str(), encode(*table, key, entry)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(|txn| {
            let mut evicted = 0;
            for table in Table::ALL {
                let mut open = txn.open_table(definition(table))?;
                for (_, key, bytes) in encoded.iter().filter(|(t, _, _)| *t == table) {
                    open.insert(*key, bytes.as_slice())?;
                }
                evicted += evict_over(&mut open, max_rows)?;
            }
            Ok(evicted)
        })
    }

    /// Evicts the rows that expire soonest from every table holding more than `max_rows`
    /// (down to 1/16 below it); returns how many went. Writes nothing when every table is
    /// within the cap.
    pub fn cap_rows(&self, max_rows: usize) -> Result<usize, StoreError> {
        let over = self
            .stats()?
            .iter()
            .any(|(_, rows)| *rows > max_rows.max(1));
        if !over {
            return Ok(0);
        }
        self.write(|txn| {
            let mut evicted = 0;
            for table in Table::ALL {
                evicted += evict_over(&mut txn.open_table(definition(table))?, max_rows)?;
            }
            Ok(evicted)
        })
    }

    /// The entry under `key` in `table`; `None` when absent, undecodable or unreadable (the
    /// last two are logged and counted: a cache read that fails is a miss).
    pub fn get(&self, table: Table, key: &str) -> Option<Stored> {
        let read = self.read(|txn| {
            let open = txn.open_table(definition(table))?;
            let found = open.get(key)?;
            Ok(found.and_then(|bytes| self.decode(table, key, bytes.value())))
        });
        self.or_logged(read).flatten()
    }

    /// Every decodable entry of `table`, in key order (to fill the memory tier at start);
    /// empty if the table cannot be read (logged and counted).
    pub fn load_all(&self, table: Table) -> Vec<(String, Stored)> {
        let read = self.read(|txn| {
            let open = txn.open_table(definition(table))?;
            let mut entries = Vec::new();
            for item in open.iter()? {
                let (key, bytes) = item?;
                let key = key.value();
                if let Some(entry) = self.decode(table, key, bytes.value()) {
                    entries.push((key.to_string(), entry));
                }
            }
            Ok(entries)
        });
        self.or_logged(read).unwrap_or_default()
    }

    /// Removes the entry under `key` in `table`; tells whether there was one.
    pub fn remove(&self, table: Table, key: &str) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut open = txn.open_table(definition(table))?;
            let removed = open.remove(key)?.is_some();
            Ok(removed)
        })
    }

    /// Removes every entry of every table; returns how many there were.
    pub fn purge_all(&self) -> Result<usize, StoreError> {
        self.write(|txn| {
            let mut removed = 0;
            for table in Table::ALL {
                removed += to_usize(txn.open_table(definition(table))?.len()?);
                txn.delete_table(definition(table))?;
                txn.open_table(definition(table))?;
            }
            Ok(removed)
        })
    }

    /// Removes the entries whose `expires_at` is before `older_than` (seconds since the Unix
    /// epoch), and the ones that do not decode; returns how many went.
    pub fn prune_expired(&self, older_than: u64) -> Result<usize, StoreError> {
        self.write(|txn| {
            let mut removed = 0;
            for table in Table::ALL {
                txn.open_table(definition(table))?.retain(|_, bytes| {
                    let keep = Lifetime::of(bytes).is_some_and(|l| l.expires_at >= older_than);
                    removed += usize::from(!keep);
                    keep
                })?;
            }
            Ok(removed)
        })
    }

    /// Removes the entries that expired before now; see [`CacheStore::prune_expired`].
    pub fn prune_expired_now(&self) -> Result<usize, StoreError> {
        self.prune_expired(now_unix())
    }

    /// Entries per table, in [`Table::ALL`] order (undecodable ones included).
    pub fn stats(&self) -> Result<Vec<(Table, usize)>, StoreError> {
        self.read(|txn| {
            Table::ALL
                .into_iter()
                .map(|table| Ok((table, to_usize(txn.open_table(definition(table))?.len()?))))
                .collect()
        })
    }

    /// Size of the store file in bytes.
    pub fn file_size(&self) -> Result<u64, StoreError> {
        std::fs::metadata(&self.path)
            .map(|meta| meta.len())
            .map_err(|source| StoreError::FileSize {
                path: self.path.clone(),
                source,
            })
    }

    /// Values that reads skipped since the store was opened because they did not decode.
    pub fn undecodable_skipped(&self) -> usize {
        self.undecodable.load(Ordering::Relaxed)
    }

    /// Reads that failed since the store was opened (each was answered as a miss).
    pub fn read_errors(&self) -> usize {
        self.read_errors.load(Ordering::Relaxed)
    }

    /// Runs `body` in a write transaction and commits it.
    fn write<T>(
        &self,
        body: impl FnOnce(&WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let run = || -> Result<T, redb::Error> {
            let txn = self.db()?.begin_write()?;
            let value = body(&txn)?;
            txn.commit()?;
            Ok(value)
        };
        guarded(run).map_err(|source| {
            self.failed(&source);
            self.storage_error(source)
        })
    }

    /// Runs `body` in a read transaction.
    fn read<T>(
        &self,
        body: impl FnOnce(&ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let run = || -> Result<T, redb::Error> { body(&self.db()?.begin_read()?) };
        guarded(run).map_err(|source| {
            self.failed(&source);
            self.storage_error(source)
        })
    }

    /// The value of a read, or `None` after counting its failure (logged at most once per
    /// interval, with a count).
    fn or_logged<T>(&self, read: Result<T, StoreError>) -> Option<T> {
        match read {
            Ok(value) => Some(value),
            Err(err) => {
                self.read_errors.fetch_add(1, Ordering::Relaxed);
                if let Some(n) = self.failures.hit() {
                    tracing::warn!(error = %err, failures = n, "cache store read failed; answered as a miss");
                }
                None
            }
        }
    }

    fn storage_error(&self, source: redb::Error) -> StoreError {
        StoreError::Storage {
            path: self.path.clone(),
            source,
        }
    }

    /// Decodes a stored value, or counts and logs it and gives `None`.
    fn decode(&self, table: Table, key: &str, bytes: &[u8]) -> Option<Stored> {
        match serde_json::from_slice(bytes) {
            Ok(entry) => Some(entry),
            Err(err) => {
                self.undecodable.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    store = %self.path.display(),
                    table = table.name(),
                    key,
                    error = %err,
                    "skipping an undecodable cache entry"
                );
                None
            }
        }
    }
}

/// The lifetime fields of a stored entry, read without copying its value.
#[derive(serde::Deserialize)]
struct Lifetime {
    #[serde(default)]
    stored_at: u64,
    expires_at: u64,
}

impl Lifetime {
    /// `None` when the bytes are not a stored entry.
    fn of(bytes: &[u8]) -> Option<Lifetime> {
        serde_json::from_slice::<Lifetime>(bytes).ok()
    }
}

/// Evicts the rows of `open` that expire soonest (undecodable ones first) while it holds
/// more than `max_rows`: down to 1/16 below the cap. Returns how many went.
fn evict_over(
    open: &mut redb::Table<'_, &'static str, &'static [u8]>,
    max_rows: usize,
) -> Result<usize, redb::Error> {
    let max_rows = max_rows.max(1);
    let len = to_usize(open.len()?);
    if len <= max_rows {
        return Ok(0);
    }
    let target = max_rows.saturating_sub(max_rows / 16);
    let count = len - target;
    let mut rows = Vec::with_capacity(len);
    for item in open.iter()? {
        let (key, bytes) = item?;
        let life = Lifetime::of(bytes.value()).unwrap_or(Lifetime {
            stored_at: 0,
            expires_at: 0,
        });
        rows.push(((life.expires_at, life.stored_at), key.value().to_string()));
    }
    if count < rows.len() {
        rows.select_nth_unstable_by(count, |a, b| a.0.cmp(&b.0));
        rows.truncate(count);
    }
    for (_, key) in &rows {
        open.remove(key.as_str())?;
    }
    Ok(rows.len())
}

fn to_usize(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

fn encode(table: Table, key: &str, entry: &Stored) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(entry).map_err(|source| StoreError::Encode {
        table: table.name(),
        key: key.to_string(),
        source,
    })
}

pub(crate) fn create_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Opens the file at `path` (creating it and its directory), or moves a damaged one aside
/// and starts a fresh one; the warning says so.
fn open_or_replace(path: &Path) -> Result<(Database, Option<String>), StoreError> {
    create_parent(path)?;
    match open_database(path) {
        Ok(db) => Ok((db, None)),
        Err(err) if is_unreadable(&err) => {
            let aside = move_aside(path)?;
            let db = open_database(path).map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })?;
            let warning = format!(
                "cache store {} is damaged ({err}); moved it to {} and started an empty one",
                path.display(),
                aside.display()
            );
            Ok((db, Some(warning)))
        }
        Err(source) => Err(StoreError::Open {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Opens or creates the redb file and makes sure every table exists.
///
/// The integrity check on open makes redb report a damaged file as an error where a plain
/// open may panic; it reads the whole file once per start. A panic inside redb is caught
/// and reported as damage.
fn open_database(path: &Path) -> Result<Database, redb::Error> {
    guarded(|| {
        let db = Builder::new()
            .set_check_integrity_on_open(true)
            .set_cache_size(PAGE_CACHE_BYTES)
            .create(path)?;
        let txn = db.begin_write()?;
        for table in Table::ALL {
            txn.open_table(definition(table))?;
        }
        txn.commit()?;
        Ok(db)
    })
}

/// Whether an open failed because of the file's content (so a fresh file fixes it), not
/// because of the file system or another process holding it.
pub(crate) fn is_unreadable(err: &redb::Error) -> bool {
    match err {
        redb::Error::Corrupted(_)
        | redb::Error::UpgradeRequired(_)
        | redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TypeDefinitionChanged { .. } => true,
        redb::Error::Io(io) => matches!(
            io.kind(),
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// Renames the file at `path` to `<path>.corrupt-<unix time>` (with a counter if taken).
pub(crate) fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let aside = free_aside_name(path);
    std::fs::rename(path, &aside).map_err(|source| StoreError::MoveAside {
        path: path.to_path_buf(),
        aside: aside.clone(),
        source,
    })?;
    Ok(aside)
}

fn free_aside_name(path: &Path) -> PathBuf {
    let mut base = path.as_os_str().to_owned();
    base.push(format!(".corrupt-{}", now_unix()));
    let mut aside = PathBuf::from(&base);
    let mut n = 1u32;
    while aside.exists() && n < 1000 {
        let mut numbered = base.clone();
        numbered.push(format!(".{n}"));
        aside = PathBuf::from(numbered);
        n += 1;
    }
    aside
}

// The rest of the crate shares one store between tasks and threads.
const _: fn() = || {
    fn check<T: Send + Sync>() {}
    check::<CacheStore>();
    check::<StoreError>();
};

#[cfg(test)]
mod damage_tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn a_damaged_cache_file_is_moved_aside_or_reads_without_a_panic() {
        for offset in [0u64, 4096, 8192, 16384, 65536] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("cache.redb");
            let (store, _) = CacheStore::open(&path).unwrap();
            let entry = Stored {
                stored_at: 1,
                expires_at: u64::MAX,
                value: format!("\"{}\"", "x".repeat(200)),
            };
            let items: Vec<_> = (0..2000)
                .map(|i| {
                    (
                        Table::Ptr,
                        format!("10.0.{}.{}", i / 256, i % 256),
                        entry.clone(),
                    )
                })
                .collect();
            store.put_many(&items).unwrap();
            drop(store);
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.seek(SeekFrom::Start(offset)).unwrap();
            f.write_all(&[0u8; 256]).unwrap();
            drop(f);
            let (store, warning) =
                CacheStore::open(&path).unwrap_or_else(|e| panic!("offset {offset}: {e}"));
            if let Some(w) = &warning {
                assert!(w.contains("damaged"), "{w}");
                assert_eq!(store.moved_aside(), 1);
            }
            let _ = store.load_all(Table::Ptr);
            store
                .put(Table::Ptr, "10.9.9.9", &entry)
                .unwrap_or_else(|e| panic!("offset {offset}: {e}"));
            assert!(store.get(Table::Ptr, "10.9.9.9").is_some());
        }
    }
}
