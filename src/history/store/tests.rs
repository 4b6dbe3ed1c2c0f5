//! The store's round trips, pruning, forgetting, and damaged files.

use std::path::Path;

use super::*;
use crate::history::codec::{Row, Strings};
use crate::history::{journal, Filter, Outcome, Record};

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
    b.scan_grouped(&strings, &filter, 0, &mut |_: &Row, w: Weight| {
        grouped += w.n
    })
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

mod damage {
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
