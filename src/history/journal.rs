//! The history journal: decisions appended to a file before the login is answered, so a
//! decision Dovecot has heard survives `kill -9` of the daemon even before its batch is in
//! the store.
//!
//! Segments are files `<history file>.journal.<n>` of frames: the payload's length and
//! CRC-32 (4 bytes each, little endian), then the record in [`codec::encode_record`]'s
//! form (about 150 bytes: less page cache to fill per login than JSON). The writer
//! starts a new segment for each batch; once the batch is committed (with the segment's
//! number, in the same transaction) the segment file is removed. At start, segments the
//! store has not committed are replayed; a torn last frame (a write cut by the crash, never
//! acknowledged) ends the segment. Appends go to the page cache without `fsync`: a process crash
//! loses nothing, a power loss at most the last flush interval.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{codec, Record};

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

/// Reads a segment file: its frames up to the end or to the first torn one.
pub fn read_segment(path: &Path) -> std::io::Result<SegmentContents> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(parse_frames(&bytes))
}

/// The records of consecutive frames, up to the end or to the first torn one.
pub fn parse_frames(bytes: &[u8]) -> SegmentContents {
    let mut out = SegmentContents::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(record) = next_frame(&mut rest) else {
            out.skipped += 1;
            break;
        };
        out.records.push(record);
    }
    out
}

/// The record of the frame at the start of `rest` (advancing past it), or `None` when the
/// frame is torn or damaged.
fn next_frame(rest: &mut &[u8]) -> Option<Record> {
    let payload = next_payload(rest)?;
    codec::decode_record(payload).ok()
}

/// The payload of the frame at the start of `rest` with its CRC checked (advancing past
/// it), or `None` when the frame is torn or damaged.
pub fn next_payload<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let header = rest.get(..8)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let payload = rest.get(8..8usize.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    *rest = &rest[8 + len..];
    Some(payload)
}

/// An open segment being appended to. The file is opened with `O_APPEND`, so requests
/// write their lines concurrently without a lock (each line is one `write`).
#[derive(Debug, Clone)]
pub struct Segment {
    pub number: u64,
    file: Arc<File>,
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
            file: Arc::new(file),
        })
    }

    /// Appends one line made by [`line`] with one `write` call.
    pub fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let written = (&*self.file).write(line)?;
        if written != line.len() {
            // The rest follows in another write; a crash in between leaves a torn line,
            // which replay skips.
            (&*self.file).write_all(&line[written..])?;
        }
        Ok(())
    }
}

/// The journal frame of `record`.
pub fn line(record: &Record) -> std::io::Result<Vec<u8>> {
    frame(|out| codec::encode_record(out, record))
}

/// A journal frame around what `encode` writes (a record in [`codec::encode_record`]'s
/// form).
pub fn frame(encode: impl FnOnce(&mut Vec<u8>)) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&[0; 8]);
    encode(&mut buf);
    let len = u32::try_from(buf.len() - 8).map_err(std::io::Error::other)?;
    let crc = crc32fast::hash(&buf[8..]);
    buf[..4].copy_from_slice(&len.to_le_bytes());
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    fn record(user: &str) -> Record {
        Record {
            time_us: Some(1),
            user: user.into(),
            service: "imap".into(),
            ip: "192.0.2.1".parse().unwrap(),
            host: None,
            asn: Some(64496),
            as_cc: None,
            as_desc: None,
            net_name: None,
            net_cc: None,
            entities: vec![],
            cloud: vec![],
            geo_cc: None,
            outcome: Outcome::Allowed,
            matched: None,
            matched_entry: None,
            lookup_errors: vec![],
        }
    }

    #[test]
    fn a_torn_or_damaged_frame_ends_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("h.redb");
        let segment = Segment::open(&base, 3).unwrap();
        for user in ["a", "b", "c"] {
            segment.append(&line(&record(user)).unwrap()).unwrap();
        }
        let path = segment_path(&base, 3);
        let whole = std::fs::read(&path).unwrap();
        let users =
            |c: &SegmentContents| c.records.iter().map(|r| r.user.clone()).collect::<Vec<_>>();
        let c = read_segment(&path).unwrap();
        assert_eq!(
            (users(&c), c.skipped),
            (vec!["a".into(), "b".into(), "c".into()], 0)
        );
        // A write cut by a crash: the last frame is incomplete.
        std::fs::write(&path, &whole[..whole.len() - 3]).unwrap();
        let c = read_segment(&path).unwrap();
        assert_eq!((users(&c), c.skipped), (vec!["a".into(), "b".into()], 1));
        // A flipped bit in the second frame's payload.
        let mut damaged = whole.clone();
        let second = whole.len() / 3 + 10;
        damaged[second] ^= 0x40;
        std::fs::write(&path, &damaged).unwrap();
        let c = read_segment(&path).unwrap();
        assert_eq!((users(&c), c.skipped), (vec!["a".into()], 1));
        assert_eq!(segments(&base).unwrap(), vec![(3, path)]);
    }
}
