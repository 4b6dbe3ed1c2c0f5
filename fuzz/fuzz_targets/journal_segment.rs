//! Any bytes as a history journal segment (a file replayed after a crash, possibly damaged):
//! reading it never panics, it ends at the first damaged frame, a record from a frame of
//! raw strings (a decision's) comes out escaped (no control character), and the batch
//! commit's reading of a frame (decoded in place, escaped and interned) gives the same
//! record as replay's.
#![no_main]

use badclients::auditlog::is_control;
use badclients::history::codec::{decode_record, decode_record_ref, RecordRef, Row, Strings};
use badclients::history::journal::{count_frames, next_payload, parse_frames};
use badclients::history::Record;
use libfuzzer_sys::fuzz_target;

fn check(r: &Record) {
    for s in r.values() {
        assert!(!s.chars().any(is_control), "control character in {s:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let contents = parse_frames(data);
    assert!(contents.skipped <= 1);
    assert!(contents.records.len() <= count_frames(data));

    let mut rest = data;
    let mut strings = Strings::new();
    let mut view = RecordRef::default();
    let mut row = Row::default();
    let mut read = 0;
    while let Some(payload) = next_payload(&mut rest) {
        let Ok(record) = decode_record(payload) else {
            break;
        };
        decode_record_ref(payload, &mut view).expect("decoded once already");
        // Frames of escaped strings (a built record's) are the daemon's own and read as
        // written; in raw frames every string but `matched_entry` is escaped on reading.
        if view.raw {
            check(&record);
            assert_eq!(view.matched_entry, record.matched_entry.as_deref());
        }
        row.intern_ref(&view, &mut strings, &mut Vec::new());
        let mut via_row = row.to_record(&strings);
        via_row.time_us = via_row.time_us.filter(|_| record.time_us.is_some());
        assert_eq!(via_row.user, record.user);
        assert_eq!(via_row.entities, record.entities);
        assert_eq!(via_row.as_desc, record.as_desc);
        assert_eq!(via_row.lookup_errors, record.lookup_errors);
        assert_eq!(contents.records.get(read), Some(&record));
        read += 1;
    }
    assert_eq!(read, contents.records.len());
});
