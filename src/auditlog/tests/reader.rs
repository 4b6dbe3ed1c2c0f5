//! Reading lines from a reader: counts, invalid UTF-8, long lines, I/O errors.

use std::io::{BufReader, Read};

use super::*;

fn read(input: &[u8]) -> (ReadStats, Vec<Record>) {
    let mut records = Vec::new();
    // A tiny buffer, so lines span several reads.
    let reader = BufReader::with_capacity(7, input);
    let stats = read_lines(reader, &clock(), |r| records.push(r)).unwrap();
    (stats, records)
}

#[test]
fn reader_counts_every_kind_of_line() {
    let input = format!(
        "-- Journal begins --\n{CRAIG}\r\n\nmail-audit-maxmind: user=<u>\n\
         mail-audit: user=<u>, service=imap, ip=999.1.1.1\n{HONEY}"
    );
    let (stats, records) = read(input.as_bytes());
    assert_eq!(
        stats,
        ReadStats {
            lines: 6,
            records: 2,
            not_audit: 3,
            malformed: 1,
            first_malformed: vec![(5, "invalid ip=999.1.1.1".to_string())],
        }
    );
    assert_eq!(records[0], craig());
    assert_eq!(records[1].user, "honey");
    assert_eq!(read(b"").0, ReadStats::default());
    assert_eq!(read(b"\n").0.lines, 1);
}

#[test]
fn reader_reads_invalid_utf8_lossily() {
    let mut input = b"mail-audit: user=<caf\xe9\xff>, service=imap, ip=1.2.3.4\n".to_vec();
    input.extend_from_slice(b"\xff\xfe garbage\n");
    let (stats, records) = read(&input);
    assert_eq!((stats.records, stats.not_audit), (1, 1));
    assert_eq!(records[0].user, "caf\u{fffd}\u{fffd}");
}

#[test]
fn reader_caps_long_lines() {
    let long = format!("{CRAIG}, entity={}", "A".repeat(MAX_LINE_BYTES));
    // Exactly MAX_LINE_BYTES long: still read.
    let head = "mail-audit: user=<u>, service=imap, ip=1.2.3.4, entity=";
    let fits = format!("{head}{}", "B".repeat(MAX_LINE_BYTES - head.len()));
    assert_eq!(fits.len(), MAX_LINE_BYTES);
    let input = format!("{long}\n{CRAIG}\n{fits}\n{fits}B");
    let (stats, records) = read(input.as_bytes());
    assert_eq!((stats.lines, stats.records, stats.malformed), (4, 2, 2));
    let too_long = "line longer than 65536 bytes".to_string();
    assert_eq!(
        stats.first_malformed,
        vec![(1, too_long.clone()), (4, too_long)]
    );
    assert_eq!(records[0], craig());
    assert_eq!(records[1].entities[0].len(), MAX_LINE_BYTES - head.len());
}

#[test]
fn reader_keeps_the_first_ten_malformed_lines() {
    let input: String = (0..25)
        .map(|i| format!("mail-audit: user=<u{i}>, service=imap\n{HONEY}\n"))
        .collect();
    let (stats, records) = read(input.as_bytes());
    assert_eq!((stats.lines, stats.records, stats.malformed), (50, 25, 25));
    assert_eq!(records.len(), 25);
    assert_eq!(stats.first_malformed.len(), MAX_MALFORMED_KEPT);
    assert_eq!(stats.first_malformed[9], (19, "missing ip=".to_string()));
}

#[test]
fn reader_reports_io_errors_with_the_line() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let data = format!("{HONEY}\n{HONEY}\npartial");
            if self.0 >= data.len() {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(data.len() - self.0);
            buf[..n].copy_from_slice(&data.as_bytes()[self.0..self.0 + n]);
            self.0 += n;
            Ok(n)
        }
    }
    let mut seen = 0;
    let err = read_lines(BufReader::new(Failing(0)), &clock(), |_| seen += 1).unwrap_err();
    assert_eq!(seen, 2);
    assert_eq!(err.line, 3);
    assert_eq!(err.to_string(), "reading line 3: disk on fire");
}
