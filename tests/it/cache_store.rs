//! The persistent cache tier: every table round-trips, a restart keeps entries, a corrupt
//! file is moved aside, pruning, purging, stats and undecodable values.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use badclients::cache::store::{CacheStore, StoreError};
use badclients::cache::{Stored, Table};
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

fn entry(value: &str, stored_at: u64, expires_at: u64) -> Stored {
    Stored {
        value: value.to_string(),
        stored_at,
        expires_at,
    }
}

/// A key of the form the table uses.
fn key_for(table: Table) -> &'static str {
    match table {
        Table::Origin => "176.112.168.0/21",
        Table::AsName => "AS47764",
        Table::Rdap => "2a00:1450::/32",
        Table::Ptr => "192.0.2.7",
    }
}

fn open_fresh(path: &Path) -> CacheStore {
    match CacheStore::open(path) {
        Ok((store, None)) => store,
        Ok((_, Some(warning))) => panic!("unexpected warning opening {path:?}: {warning}"),
        Err(err) => panic!("cannot open {path:?}: {err}"),
    }
}

fn corrupt_files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .collect();
    found.sort();
    found
}

#[test]
fn every_table_round_trips_and_tables_are_separate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_fresh(&dir.path().join("cache.redb"));
    for (i, table) in Table::ALL.into_iter().enumerate() {
        let stored = entry(
            &format!("{{\"n\":{i}}}"),
            1_000 + i as u64,
            2_000 + i as u64,
        );
        store.put(table, key_for(table), &stored).expect("put");
        assert_eq!(store.get(table, key_for(table)), Some(stored));
    }
    // The same key in another table is another entry.
    assert_eq!(store.get(Table::Rdap, key_for(Table::Origin)), None);
    assert_eq!(store.get(Table::Ptr, "192.0.2.8"), None);
    for table in Table::ALL {
        let all = store.load_all(table);
        assert_eq!(all.len(), 1, "{table:?}");
        assert_eq!(all[0].0, key_for(table));
    }
}

#[test]
fn null_value_for_negative_answers_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_fresh(&dir.path().join("cache.redb"));
    let negative = entry("null", 10, 20);
    store
        .put(Table::Ptr, "198.51.100.1", &negative)
        .expect("put");
    assert_eq!(store.get(Table::Ptr, "198.51.100.1"), Some(negative));
}

#[test]
fn put_replaces_and_remove_reports_presence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_fresh(&dir.path().join("cache.redb"));
    store
        .put(Table::AsName, "AS1", &entry("\"old\"", 1, 2))
        .expect("put");
    store
        .put(Table::AsName, "AS1", &entry("\"new\"", 3, 4))
        .expect("put");
    assert_eq!(
        store.get(Table::AsName, "AS1"),
        Some(entry("\"new\"", 3, 4))
    );
    assert!(store.remove(Table::AsName, "AS1").expect("remove"));
    assert!(!store.remove(Table::AsName, "AS1").expect("remove again"));
    assert_eq!(store.get(Table::AsName, "AS1"), None);
}

#[test]
fn put_many_writes_every_item_across_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_fresh(&dir.path().join("cache.redb"));
    let items: Vec<(Table, String, Stored)> = (0..50)
        .map(|i| {
            let table = Table::ALL[i % 4];
            (table, format!("10.0.{i}.0/24"), entry(&i.to_string(), 5, 6))
        })
        .collect();
    store.put_many(&items).expect("put_many");
    for (table, key, stored) in &items {
        assert_eq!(store.get(*table, key).as_ref(), Some(stored));
    }
    let origin = store.load_all(Table::Origin);
    assert_eq!(
        origin.len(),
        items.iter().filter(|i| i.0 == Table::Origin).count()
    );
    // load_all is in key order.
    let keys: Vec<&String> = origin.iter().map(|(k, _)| k).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn entries_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    {
        let store = open_fresh(&path);
        for table in Table::ALL {
            store
                .put(table, key_for(table), &entry("\"kept\"", 7, 8))
                .expect("put");
        }
    }
    let store = open_fresh(&path);
    for table in Table::ALL {
        assert_eq!(
            store.get(table, key_for(table)),
            Some(entry("\"kept\"", 7, 8)),
            "{table:?}"
        );
    }
    assert!(corrupt_files(dir.path()).is_empty());
}

#[test]
fn missing_directories_are_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("var/lib/badclients/cache.redb");
    let store = open_fresh(&path);
    store
        .put(Table::Ptr, "192.0.2.1", &entry("1", 1, 2))
        .expect("put");
    assert!(path.is_file());
}

#[test]
fn garbage_file_is_moved_aside_and_a_fresh_store_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    let garbage = b"this is no redb file, only garbage bytes\n".repeat(200);
    std::fs::write(&path, &garbage).expect("write garbage");

    let (store, warning) = CacheStore::open(&path).expect("open over garbage");
    let warning = warning.expect("a warning for the corrupt file");
    let aside = corrupt_files(dir.path());
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(
        warning.contains(&aside[0].display().to_string()),
        "warning {warning:?} does not name {:?}",
        aside[0]
    );
    assert_eq!(std::fs::read(&aside[0]).expect("read aside"), garbage);

    for table in Table::ALL {
        assert!(store.load_all(table).is_empty());
    }
    store
        .put(Table::Origin, "10.0.0.0/8", &entry("1", 1, 2))
        .expect("put");
    drop(store);
    let store = open_fresh(&path);
    assert_eq!(
        store.get(Table::Origin, "10.0.0.0/8"),
        Some(entry("1", 1, 2))
    );
}

#[test]
fn truncated_store_is_moved_aside_and_never_serves_a_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    {
        let store = open_fresh(&path);
        let items: Vec<(Table, String, Stored)> = (0..500)
            .map(|i| {
                let key = format!("10.{}.{}.0/24", i / 256, i % 256);
                (Table::Origin, key, entry(&i.to_string(), 1, 2))
            })
            .collect();
        store.put_many(&items).expect("put_many");
    }
    let full = std::fs::read(&path).expect("read store");
    std::fs::write(&path, &full[..full.len() / 2]).expect("truncate");

    let (store, warning) = CacheStore::open(&path).expect("open truncated");
    let warning = warning.expect("a warning for the truncated file");
    assert!(warning.contains(".corrupt-"), "{warning}");
    assert_eq!(corrupt_files(dir.path()).len(), 1);
    assert_eq!(store.get(Table::Origin, "10.0.0.0/24"), None);
    assert!(store.load_all(Table::Origin).is_empty());
    store
        .put(Table::Origin, "10.0.0.0/24", &entry("9", 1, 2))
        .expect("put after recovery");
    assert_eq!(
        store.get(Table::Origin, "10.0.0.0/24"),
        Some(entry("9", 1, 2))
    );
}

#[test]
fn a_store_held_open_is_an_error_not_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    let store = open_fresh(&path);
    store
        .put(Table::Ptr, "192.0.2.1", &entry("1", 1, 2))
        .expect("put");
    match CacheStore::open(&path) {
        Err(err @ StoreError::Open { .. }) => {
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        Err(other) => panic!("unexpected error kind: {other}"),
        Ok(_) => panic!("a second open of a held store must fail"),
    }
    assert!(corrupt_files(dir.path()).is_empty());
    assert_eq!(store.get(Table::Ptr, "192.0.2.1"), Some(entry("1", 1, 2)));
}

#[test]
fn an_uncreatable_store_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"file").expect("write");
    let path = blocker.join("cache.redb");
    let err = CacheStore::open(&path).expect_err("a file as parent dir must fail");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn prune_removes_exactly_the_entries_expired_before_the_cutoff() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_fresh(&dir.path().join("cache.redb"));
    store
        .put(Table::Origin, "10.0.0.0/8", &entry("1", 0, 100))
        .expect("put");
    store
        .put(Table::Rdap, "10.0.0.0/16", &entry("2", 0, 199))
        .expect("put");
    store
        .put(Table::AsName, "AS1", &entry("3", 0, 200))
        .expect("put");
    store
        .put(Table::Ptr, "10.0.0.1", &entry("4", 0, 300))
        .expect("put");

    assert_eq!(store.prune_expired(200).expect("prune"), 2);
    assert_eq!(store.get(Table::Origin, "10.0.0.0/8"), None);
    assert_eq!(store.get(Table::Rdap, "10.0.0.0/16"), None);
    // expires_at == cutoff is kept.
    assert!(store.get(Table::AsName, "AS1").is_some());
    assert!(store.get(Table::Ptr, "10.0.0.1").is_some());
    assert_eq!(store.prune_expired(200).expect("prune again"), 0);
}

#[test]
fn purge_all_empties_every_table_and_the_store_stays_usable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_fresh(&dir.path().join("cache.redb"));
    for table in Table::ALL {
        store
            .put(table, key_for(table), &entry("1", 1, 2))
            .expect("put");
    }
    assert_eq!(store.purge_all().expect("purge_all"), 4);
    for table in Table::ALL {
        assert!(store.load_all(table).is_empty());
    }
    store
        .put(Table::Origin, "10.0.0.0/8", &entry("1", 1, 2))
        .expect("put after purge");
    assert!(store.get(Table::Origin, "10.0.0.0/8").is_some());
}

#[test]
fn stats_count_entries_per_table_and_the_file_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    let store = open_fresh(&path);
    let items: Vec<(Table, String, Stored)> = [(Table::Origin, 3), (Table::Ptr, 2)]
        .into_iter()
        .flat_map(|(table, n)| {
            (0..n).map(move |i| (table, format!("192.0.2.{i}"), entry("1", 1, 2)))
        })
        .collect();
    store.put_many(&items).expect("put_many");
    assert_eq!(
        store.stats().expect("stats"),
        vec![
            (Table::Origin, 3),
            (Table::AsName, 0),
            (Table::Rdap, 0),
            (Table::Ptr, 2)
        ]
    );
    assert_eq!(
        store.file_size().expect("file_size"),
        std::fs::metadata(&path).expect("metadata").len()
    );
    assert!(store.file_size().expect("file_size") > 0);
    assert_eq!(store.undecodable_skipped(), 0);
    assert_eq!(store.read_errors(), 0);
}

#[test]
fn an_undecodable_value_is_skipped_counted_and_pruned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cache.redb");
    {
        let store = open_fresh(&path);
        store
            .put(Table::Origin, "10.0.0.0/8", &entry("1", 1, u64::MAX))
            .expect("put");
    }
    {
        // Write a value that is not a Stored entry, through redb directly.
        let db = redb::Database::open(&path).expect("raw open");
        let table: TableDefinition<'_, &str, &[u8]> = TableDefinition::new(Table::Origin.name());
        let txn = db.begin_write().expect("begin_write");
        txn.open_table(table)
            .expect("open_table")
            .insert("10.1.0.0/16", b"{not json".as_slice())
            .expect("insert");
        txn.commit().expect("commit");
        let read = db.begin_read().expect("begin_read");
        let raw = read.open_table(table).expect("open_table");
        assert_eq!(raw.len().expect("len"), 2);
    }
    let store = open_fresh(&path);
    assert_eq!(store.get(Table::Origin, "10.1.0.0/16"), None);
    let all = store.load_all(Table::Origin);
    assert_eq!(
        all,
        vec![("10.0.0.0/8".to_string(), entry("1", 1, u64::MAX))]
    );
    assert_eq!(store.stats().expect("stats")[0], (Table::Origin, 2));
    assert_eq!(store.undecodable_skipped(), 2);
    // Pruning drops the undecodable value, whatever the cutoff.
    assert_eq!(store.prune_expired(0).expect("prune"), 1);
    assert_eq!(store.stats().expect("stats")[0], (Table::Origin, 1));
}

#[test]
fn the_store_is_shared_across_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open_fresh(&dir.path().join("cache.redb")));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let key = format!("10.{t}.{i}.0/24");
                    store
                        .put(Table::Origin, &key, &entry(&i.to_string(), 1, 2))
                        .expect("put");
                    assert!(store.get(Table::Origin, &key).is_some());
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread");
    }
    assert_eq!(store.load_all(Table::Origin).len(), 100);
}
