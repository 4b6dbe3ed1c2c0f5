//! Cost of `Pattern::matches_whole`: a typical anchored host pattern on a
//! typical host name (hit and miss), an unanchored one, and the worst case
//! that runs the default step budget out (what one budget costs).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use luapat::{MatchError, Pattern};

fn host_patterns(c: &mut Criterion) {
    let anchored = Pattern::compile(b"^mail%d+%.example%.com$").expect("valid");
    let cloud = Pattern::compile(b"^ec2%-%d+%-%d+%-%d+%-%d+%..*amazonaws%.com$").expect("valid");
    let unanchored = Pattern::compile(b"%.dyn%.").expect("valid");
    c.bench_function("anchored host hit", |b| {
        b.iter(|| anchored.matches_whole(black_box(b"mail12.example.com")))
    });
    c.bench_function("anchored host miss", |b| {
        b.iter(|| anchored.matches_whole(black_box(b"smtp-out.mailer.example.net")))
    });
    c.bench_function("ec2 host hit", |b| {
        b.iter(|| cloud.matches_whole(black_box(b"ec2-1-2-3-4.compute-1.amazonaws.com")))
    });
    c.bench_function("unanchored miss on 60-byte name", |b| {
        b.iter(|| {
            unanchored.matches_whole(black_box(
                b"host-198-51-100-7.static.customer.isp.example.net.",
            ))
        })
    });
}

fn budget(c: &mut Criterion) {
    let hostile = Pattern::compile(b"(.-)(.-)(.-)(.-)(.-)x").expect("valid");
    let subject = b"a".repeat(10_000);
    assert_eq!(
        hostile.matches_whole(&subject),
        Err(MatchError::TooExpensive)
    );
    let mut group = c.benchmark_group("budget");
    group.sample_size(20);
    group.bench_function("default budget exhausted", |b| {
        b.iter(|| hostile.matches_whole(black_box(&subject)))
    });
    group.finish();
}

criterion_group!(benches, host_patterns, budget);
criterion_main!(benches);
