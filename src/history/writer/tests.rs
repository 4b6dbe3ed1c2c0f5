//! The writer under concurrency, crashes, full segments, a journal it cannot create and
//! a full disk.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::history::codec::Row;
use crate::history::{now_us, Filter};

fn record(user: String) -> Record {
    crate::history::test_record(&user, now_us())
}

fn settings_with_segments(path: PathBuf, segment_bytes: usize) -> WriterSettings {
    WriterSettings {
        segment_bytes,
        ..settings(path)
    }
}

fn settings(path: PathBuf) -> WriterSettings {
    WriterSettings {
        path,
        retention: Duration::from_secs(86_400),
        max_records: u64::MAX,
        flush_interval: Duration::from_millis(5),
        batch_max: 100,
        segment_bytes: journal::SEGMENT_BYTES,
        journal_max_bytes: JOURNAL_MAX_BYTES,
    }
}

/// The segments with frames not committed: the spare ones kept for reuse are zeroed
/// and carry numbers the store has committed.
fn uncommitted(writer: &HistoryWriter, path: &std::path::Path) -> Vec<u64> {
    let committed = writer
        .store()
        .unwrap()
        .committed_segment()
        .unwrap()
        .unwrap_or(0);
    journal::segments(path)
        .unwrap()
        .into_iter()
        .filter(|(n, p)| *n > committed || journal::count_frames(&std::fs::read(p).unwrap()) > 0)
        .map(|(n, _)| n)
        .collect()
}

fn users(store: &HistoryStore) -> Vec<String> {
    let mut out = Vec::new();
    store
        .scan(&Filter::default(), &mut |row: &Row, s: &Strings| {
            out.push(s.get(row.user).to_string())
        })
        .unwrap();
    out.sort();
    out
}

#[test]
fn concurrent_records_and_flushes_commit_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.redb");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (writer, _) = HistoryWriter::open(settings(path.clone())).unwrap();
    let background = rt.spawn(writer.clone().run());
    std::thread::scope(|scope| {
        for t in 0..4 {
            let writer = writer.clone();
            scope.spawn(move || {
                for i in 0..2000 {
                    writer.record(&record(format!("u{t}-{i:04}")));
                }
            });
        }
    });
    rt.block_on(writer.flush()).unwrap();
    background.abort();
    let stored = users(writer.store().unwrap());
    let mut expected: Vec<String> = (0..4)
        .flat_map(|t| (0..2000).map(move |i| format!("u{t}-{i:04}")))
        .collect();
    expected.sort();
    assert_eq!(stored, expected);
    assert!(uncommitted(&writer, &path).is_empty());
    assert_eq!(writer.counters().journal_errors.load(Ordering::Relaxed), 0);
}

#[test]
fn queued_records_come_back_from_the_journal_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.redb");
    {
        let (writer, _) = HistoryWriter::open(settings(path.clone())).unwrap();
        for i in 0..50 {
            writer.record(&record(format!("before-{i:02}")));
        }
        // No flush: the process "dies" with everything only in the journal.
    }
    let (writer, warnings) = HistoryWriter::open(settings(path.clone())).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("replayed 50")),
        "{warnings:?}"
    );
    assert_eq!(users(writer.store().unwrap()).len(), 50);
    assert!(journal::segments(&path).unwrap().is_empty());
    // Opening again replays nothing twice.
    drop(writer);
    let (writer, warnings) = HistoryWriter::open(settings(path)).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(users(writer.store().unwrap()).len(), 50);
}

#[test]
fn full_segments_roll_over_and_every_record_commits_or_replays_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.redb");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = WriterSettings {
        batch_max: usize::MAX,
        ..settings_with_segments(path.clone(), 4096)
    };
    let (writer, _) = HistoryWriter::open(settings.clone()).unwrap();
    for i in 0..300 {
        writer.record(&record(format!("a-{i:03}")));
    }
    let many = journal::segments(&path).unwrap().len();
    assert!(many > 3, "{many} segments");
    assert_eq!(rt.block_on(writer.flush()).unwrap(), 300);
    assert!(uncommitted(&writer, &path).is_empty());
    // Committed segments are kept, zeroed, for the next batches: as many as the batch
    // used (up to eight).
    let kept = journal::segments(&path).unwrap();
    assert_eq!(kept.len(), MAX_SPARE_SEGMENTS.min(many));
    for (_, p) in &kept {
        assert!(std::fs::read(p).unwrap().iter().all(|b| *b == 0));
    }
    // They are reused under new numbers; after a crash, every segment is replayed.
    for i in 0..300 {
        writer.record(&record(format!("b-{i:03}")));
    }
    let after = journal::segments(&path).unwrap();
    assert!(
        kept.iter().all(|k| !after.contains(k)),
        "{kept:?} {after:?}"
    );
    assert_eq!(after.first().map(|s| s.0), Some(many as u64 + 1));
    drop(writer);
    let (writer, warnings) = HistoryWriter::open(settings).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("replayed 300")),
        "{warnings:?}"
    );
    let users = users(writer.store().unwrap());
    assert_eq!(users.len(), 600);
    users.windows(2).for_each(|w| assert_ne!(w[0], w[1]));
    assert!(journal::segments(&path).unwrap().is_empty());
    // A clean stop leaves no segment behind.
    writer.record(&record("last".into()));
    assert_eq!(rt.block_on(writer.close()).unwrap(), 1);
    assert!(journal::segments(&path).unwrap().is_empty());
}

#[test]
fn a_journal_that_cannot_be_created_keeps_the_batch_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.redb");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (writer, _) = HistoryWriter::open(settings(path.clone())).unwrap();
    // Something in the way of the first segment's file.
    std::fs::create_dir(journal::segment_path(&path, 1)).unwrap();
    for i in 0..10 {
        writer.record(&record(format!("m-{i}")));
    }
    assert_eq!(writer.counters().journal_errors.load(Ordering::Relaxed), 10);
    assert_eq!(rt.block_on(writer.flush()).unwrap(), 10);
    assert_eq!(users(writer.store().unwrap()).len(), 10);
    // The next batch journals again, in the next segment.
    writer.record(&record("after".into()));
    assert_eq!(
        journal::segments(&path).unwrap().last().map(|s| s.0),
        Some(2)
    );
    assert_eq!(rt.block_on(writer.flush()).unwrap(), 1);
    assert_eq!(writer.counters().journal_errors.load(Ordering::Relaxed), 10);
    assert_eq!(users(writer.store().unwrap()).len(), 11);
}

/// A tmpfs of a given size mounted on a temporary directory (the tests run as root in
/// CI), unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "mounting a tmpfs needs root (CI runs the tests as root)"
        );
        Tmpfs { dir }
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {size}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

fn journal_on_disk(path: &std::path::Path) -> u64 {
    journal::segments(path)
        .unwrap()
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum()
}

#[test]
fn a_full_disk_then_grown_resumes_commits_and_the_journal_stays_within_its_cap() {
    let fs = Tmpfs::mount("1m");
    let path = fs.dir.path().join("h.redb");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cap = 256 * 1024;
    let settings = WriterSettings {
        batch_max: usize::MAX,
        journal_max_bytes: cap,
        ..settings_with_segments(path.clone(), 64 * 1024)
    };
    let (writer, _) = HistoryWriter::open(settings).unwrap();
    // About 4.5 MB of decisions into 1 MiB, committed in batches as the daemon does.
    let total = 30_000u64;
    for i in 0..total {
        writer.record(&record(format!("d-{i:05}")));
        if i % 200 == 199 {
            let _ = rt.block_on(writer.flush());
            let held = writer.counters().journal_bytes.load(Ordering::Relaxed);
            assert!(held <= cap, "journal {held} > cap {cap}");
            assert!(journal_on_disk(&path) <= cap);
        }
    }
    let c = writer.counters();
    assert!(
        c.commit_errors.load(Ordering::Relaxed) > 0,
        "the disk never filled"
    );
    let lost = c.lost.load(Ordering::Relaxed);
    assert!(lost > 0, "the journal cap was never reached");
    // Space comes back: commits resume after the back-off, the journal drains.
    fs.resize("64m");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match rt.block_on(writer.flush()) {
            Ok(0) if writer.is_healthy() => break,
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "commits never resumed"
        );
    }
    let stored = users(writer.store().unwrap());
    assert_eq!(stored.len() as u64 + lost, total, "lost {lost}");
    stored.windows(2).for_each(|w| assert_ne!(w[0], w[1]));
    // Only the spare segments, zeroed, are left.
    assert!(uncommitted(&writer, &path).is_empty());
    assert!(writer.store().unwrap().reopens() > 0);
    drop(writer);
}

/// A shared history in memory: batches by number; `ambiguous` makes the next ship commit
/// and then fail (as an unanswered commit does).
#[derive(Default)]
struct FakeShipper {
    batches: Mutex<std::collections::BTreeMap<u64, Vec<String>>>,
    ambiguous: std::sync::atomic::AtomicBool,
}

impl Shipper for FakeShipper {
    fn prepare(&self) -> ShipFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn ship<'a>(&'a self, batch: u64, records: &'a [Record]) -> ShipFuture<'a, bool> {
        Box::pin(async move {
            let new = {
                let mut batches = lock(&self.batches);
                let new = !batches.contains_key(&batch);
                if new {
                    batches.insert(batch, records.iter().map(|r| r.user.clone()).collect());
                }
                new
            };
            if self.ambiguous.swap(false, Ordering::Relaxed) {
                return Err("commit unanswered".into());
            }
            Ok(new)
        })
    }
    fn prune(&self, _: Duration) -> ShipFuture<'_, u64> {
        Box::pin(async { Ok(0) })
    }
    fn forget<'a>(&'a self, _: &'a str) -> ShipFuture<'a, u64> {
        Box::pin(async { Ok(0) })
    }
}

#[test]
fn shipping_writes_each_decision_once_and_batch_numbers_never_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.redb");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = Arc::new(FakeShipper::default());
    let opened = now_us();
    let (writer, _) = HistoryWriter::open_shipping(settings(path.clone()), fake.clone()).unwrap();
    assert!(writer.store().is_none());
    for u in ["a", "b"] {
        writer.record(&record(u.into()));
    }
    assert_eq!(rt.block_on(writer.flush()).unwrap(), 2);
    // A commit that went through unanswered: the batch is sent again unchanged (skipped),
    // and what comes after goes into a new one.
    fake.ambiguous.store(true, Ordering::Relaxed);
    writer.record(&record("c".into()));
    assert!(rt.block_on(writer.flush()).is_err());
    assert!(!writer.is_healthy());
    writer.record(&record("d".into()));
    rt.block_on(writer.flush()).unwrap();
    assert!(writer.is_healthy());
    assert_eq!(
        writer
            .counters()
            .batches_already_shipped
            .load(Ordering::Relaxed),
        1
    );
    rt.block_on(writer.close()).unwrap();
    assert!(
        journal::segments(&path).unwrap().is_empty(),
        "a clean stop removes every segment"
    );
    let first_run: Vec<u64> = lock(&fake.batches).keys().copied().collect();
    assert!(first_run.iter().all(|n| *n >= opened), "{first_run:?}");
    // A new run after a clean stop numbers above every batch of the last one.
    let (writer, _) = HistoryWriter::open_shipping(settings(path.clone()), fake.clone()).unwrap();
    writer.record(&record("e".into()));
    rt.block_on(writer.close()).unwrap();
    let batches = lock(&fake.batches);
    let last = *batches.keys().last().unwrap();
    assert!(first_run.iter().all(|n| *n < last));
    let mut users: Vec<String> = batches.values().flatten().cloned().collect();
    users.sort();
    assert_eq!(users, ["a", "b", "c", "d", "e"], "each decision once");
}
