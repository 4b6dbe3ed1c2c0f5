//! The decision history's costs.
//!
//! - `record_of_decision`: building the [`Record`] of a decision (escaped strings);
//! - `encode_decision`: the journal frame of a decision, straight from its facts (what the
//!   request path does);
//! - `journal_line`: the journal frame of a built record;
//! - `journal_append`: copying that frame into a mapped segment (no system call, no fsync;
//!   the segment zeroed and reused when full, as the writer reuses committed ones);
//! - `writer_record`: all of the request path — `HistoryWriter::record_decision` (frame,
//!   lock, copy);
//! - `commit_batch_1000`: the background side — 1,000 records interned, encoded and
//!   committed to redb with immediate durability (per record: divide by 1,000);
//! - `report_100k`: aggregating a 100,000-decision history (`summarize_store`).
//!
//! Run: `cargo bench --bench history`

use std::hint::black_box;
use std::time::Duration;

use badclients::analysis::aggregate::{summarize_store, AggregateOptions};
use badclients::decision::{Decision, Hit, Reason, Verdict};
use badclients::facts::{Asn, Facts};
use badclients::history::journal::{self, Segment};
use badclients::history::store::HistoryStore;
use badclients::history::writer::{HistoryWriter, WriterSettings};
use badclients::history::{encode_decision, now_us, Filter, Outcome, Record};
use criterion::{criterion_group, criterion_main, Criterion};

fn facts() -> Facts {
    let mut f = Facts::unknown("176.112.169.218".parse().expect("ip"));
    f.host = Some("rimap26.i.mail.ru".into());
    f.asn = Some(Asn(47764));
    f.as_cc = Some("RU".into());
    f.as_desc = Some("VK-AS, RU".into());
    f.net_name = Some("VK-FRONT".into());
    f.net_cc = Some("RU".into());
    f.entities = [
        "EY1327-RIPE",
        "ORG-LLCn4-RIPE",
        "RIPE-NCC-END-MNT",
        "VKCOMPANY-MNT",
        "VKNC",
        "MAIL-RU",
    ]
    .map(String::from)
    .to_vec();
    f
}

fn decision() -> Decision {
    Decision {
        verdict: Verdict::Block,
        reason: Reason::Listed(Hit {
            label: "ip_net".into(),
            file: Some("/etc/badclients/lists/ip_net.deny.lst".into()),
            line: Some(3),
            entry: "176.112.168.0/21".into(),
        }),
        log: true,
        pattern_failures: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let facts = facts();
    let decision = decision();
    let outcome = Outcome::of(decision.verdict, true, true);
    let record =
        || Record::of_decision(now_us(), "honey-craig", "imap", &facts, &decision, outcome);
    c.bench_function("history/record_of_decision", |b| {
        b.iter(|| black_box(record()))
    });
    c.bench_function("history/encode_decision", |b| {
        b.iter(|| {
            black_box(journal::frame(|out| {
                encode_decision(
                    out,
                    now_us(),
                    "honey-craig",
                    "imap",
                    &facts,
                    &decision,
                    outcome,
                )
            }))
        })
    });
    let r = record();
    c.bench_function("history/journal_line", |b| {
        b.iter(|| black_box(journal::line(&r).expect("line")))
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("history.redb");
    let line = journal::line(&r).expect("line");
    let mut segment = Segment::create(&base, 1, journal::SEGMENT_BYTES).expect("segment");
    c.bench_function("history/journal_append", |b| {
        b.iter(|| {
            if !segment.append(black_box(&line)) {
                // As the writer reuses a committed segment.
                segment.clear();
                segment.append(&line);
            }
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let settings = WriterSettings {
        path: dir.path().join("w.redb"),
        retention: Duration::from_secs(30 * 86_400),
        max_records: u64::MAX,
        flush_interval: Duration::from_millis(250),
        batch_max: usize::MAX,
        segment_bytes: journal::SEGMENT_BYTES,
        journal_max_bytes: badclients::history::writer::JOURNAL_MAX_BYTES,
    };
    let (writer, _) = HistoryWriter::open(settings).expect("writer");
    let mut n = 0u64;
    c.bench_function("history/writer_record", |b| {
        b.iter(|| {
            writer.record_decision(now_us(), "honey-craig", "imap", &facts, &decision, outcome);
            n += 1;
            // Keep the pending batch (and its segment) from growing without end.
            if n.is_multiple_of(50_000) {
                rt.block_on(writer.flush()).expect("flush");
            }
        })
    });

    let (store, _) = HistoryStore::open(&dir.path().join("batch.redb")).expect("store");
    let mut strings = store.strings().expect("strings");
    let mut group = c.benchmark_group("history");
    group.sample_size(20);
    group.bench_function("commit_batch_1000", |b| {
        b.iter_batched(
            || (0..1000).map(|_| record()).collect::<Vec<Record>>(),
            |batch| store.append(&batch, &mut strings, None).expect("append"),
            criterion::BatchSize::LargeInput,
        )
    });
    let (big, _) = HistoryStore::open(&dir.path().join("big.redb")).expect("store");
    let mut strings = big.strings().expect("strings");
    for chunk in 0..100 {
        let batch: Vec<Record> = (0..1000)
            .map(|i| {
                let mut r = record();
                r.user = format!("user{}", (chunk * 1000 + i) % 997);
                r
            })
            .collect();
        big.append(&batch, &mut strings, None).expect("append");
    }
    group.bench_function("report_100k", |b| {
        b.iter(|| {
            summarize_store(&big, &Filter::default(), AggregateOptions::default()).expect("summary")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
