//! The history journal: decisions appended to a file before the login is answered, so a
//! decision Dovecot has heard survives `kill -9` of the daemon even before its batch is in
//! the store.
//!
//! Segments are files `<history file>.journal.<n>`, one JSON record per line. The writer
//! starts a new segment for each batch; once the batch is committed (with the segment's
//! number, in the same transaction) the segment file is removed. At start, segments the
//! store has not committed are replayed; a torn last line (a write cut by the crash, never
//! acknowledged) is skipped. Appends go to the page cache without `fsync`: a process crash
//! loses nothing, a power loss at most the last flush interval.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::Record;

/// The file of segment `n` beside the history file `base`.
pub fn segment_path(base: &Path, n: u64) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".journal.{n}"));
    PathBuf::from(name)
}

/// The journal segments present beside `base`, in order.
pub fn segments(base: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let Some(dir) = base.parent() else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Some(stem) = base.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{stem}.journal.");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix(&prefix)
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push((n, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// What a segment held.
#[derive(Debug, Default)]
pub struct SegmentContents {
    pub records: Vec<Record>,
    /// Lines that were not a record (a torn last line after a crash).
    pub skipped: usize,
}

/// Reads a segment file.
pub fn read_segment(path: &Path) -> std::io::Result<SegmentContents> {
    let mut out = SegmentContents::default();
    let reader = BufReader::new(File::open(path)?);
    for line in reader.split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => out.records.push(record),
            Err(_) => out.skipped += 1,
        }
    }
    Ok(out)
}

/// An open segment being appended to.
#[derive(Debug)]
pub struct Segment {
    pub number: u64,
    file: File,
    buf: Vec<u8>,
}

impl Segment {
    /// Creates (or appends to) segment `number` beside `base`.
    pub fn open(base: &Path, number: u64) -> std::io::Result<Segment> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(segment_path(base, number))?;
        Ok(Segment {
            number,
            file,
            buf: Vec::with_capacity(512),
        })
    }

    /// Appends one record as one `write` call.
    pub fn append(&mut self, record: &Record) -> std::io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, record).map_err(std::io::Error::other)?;
        self.buf.push(b'\n');
        self.file.write_all(&self.buf)
    }
}
