//! The history journal: decisions appended to a file before the login is answered, so a
//! decision Dovecot has heard survives `kill -9` of the daemon even before its batch is in
//! the store.
//!
//! Segments are files `<history file>.journal.<n>` of frames: the payload's length and
//! CRC-32 (4 bytes each, little endian), then the record in `codec::encode_record`'s
//! form (about 150 bytes). A segment is reserved on disk and mapped into memory: a frame
//! is one copy, with no system call on the request path. The writer starts a new segment
//! for each batch (and another when one fills up); once a segment's records are committed
//! (with the segment's number, in the same transaction) it is zeroed and kept for a later
//! batch under a new number (its pages stay mapped: no page faults), or removed. At start,
//! segments the store has not committed are replayed up to their zeroed rest; a torn last
//! frame (a copy cut by the crash, never acknowledged) ends the segment. Nothing is
//! `fsync`ed: a process crash loses nothing (the pages belong to the kernel's page cache),
//! a power loss at most the last flush interval.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

use super::codec;
use super::record::Record;

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
    // A segment's unwritten rest reads as zeros: that is its end (no frame is empty).
    while !rest.iter().take(8).all(|b| *b == 0) {
        let Some(record) = next_frame(&mut rest) else {
            out.skipped += 1;
            break;
        };
        out.records.push(record);
    }
    out
}

/// How many whole frames `bytes` starts with.
pub fn count_frames(bytes: &[u8]) -> usize {
    let mut rest = bytes;
    let mut n = 0;
    while next_payload(&mut rest).is_some() {
        n += 1;
    }
    n
}

/// The record of the frame at the start of `rest` (advancing past it), or `None` when the
/// frame is torn or damaged.
fn next_frame(rest: &mut &[u8]) -> Option<Record> {
    let payload = next_payload(rest)?;
    codec::decode_record(payload).ok()
}

/// The payload of the frame at the start of `rest` with its CRC checked (advancing past
/// it), or `None` at the end (a zero length: no frame is empty) or when the frame is torn
/// or damaged.
pub fn next_payload<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let header = rest.get(..8)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    if len == 0 {
        return None;
    }
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let payload = rest.get(8..8usize.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    *rest = &rest[8 + len..];
    Some(payload)
}

/// How many bytes a new segment reserves: about 27,000 decisions, several batches at full
/// load. A frame larger than this gets a segment of its own size.
pub const SEGMENT_BYTES: usize = 4 << 20;

/// An open segment being appended to: a file of [`SEGMENT_BYTES`] reserved on disk and
/// mapped into memory, so a frame reaches the page cache with one copy and no system
/// call. A process crash loses nothing that was copied; the unwritten rest of the file
/// reads as zeros, which replay takes as the end.
#[derive(Debug)]
pub struct Segment {
    pub number: u64,
    path: PathBuf,
    map: MmapMut,
    len: usize,
    frames: usize,
}

impl Segment {
    /// Creates segment `number` beside `base`, with room for at least `capacity` bytes.
    ///
    /// The space is allocated on disk (`fallocate`) before the file is mapped: a full disk
    /// is an error here, not a `SIGBUS` when a page is first written.
    pub fn create(base: &Path, number: u64, capacity: usize) -> std::io::Result<Segment> {
        let path = segment_path(base, number);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        let mapped = (|| {
            rustix::fs::fallocate(
                &file,
                rustix::fs::FallocateFlags::empty(),
                0,
                capacity as u64,
            )?;
            // SAFETY: the mapping is of a file this process has just created under its own
            // name and sized with real blocks; nothing else writes or truncates it (the
            // directory is the daemon's), and the map is only touched through `&mut self`
            // (one writer at a time, under the writer's lock).
            unsafe { MmapOptions::new().len(capacity).map_mut(&file) }
        })();
        match mapped {
            Ok(map) => Ok(Segment {
                number,
                path,
                map,
                len: 0,
                frames: 0,
            }),
            Err(err) => {
                let _ = std::fs::remove_file(&path);
                Err(err)
            }
        }
    }

    /// Maps segment `number` left on disk beside `base` (by an unclean stop, or a clean one
    /// that could not ship it) to take it up again: its frames up to the zeroed rest or to a
    /// torn frame, whose bytes are zeroed (nothing is appended to it again: it is sent as
    /// it is). `None` for an empty file (removed).
    pub fn open_existing(base: &Path, number: u64) -> std::io::Result<Option<Segment>> {
        let path = segment_path(base, number);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let capacity = usize::try_from(file.metadata()?.len()).map_err(std::io::Error::other)?;
        if capacity == 0 {
            drop(file);
            std::fs::remove_file(&path)?;
            return Ok(None);
        }
        // SAFETY: as in `create`: a segment file of the daemon's own directory, which nothing
        // else writes or truncates; touched only through `&mut self`.
        let mut map = unsafe { MmapOptions::new().len(capacity).map_mut(&file)? };
        let mut rest = &map[..];
        let mut frames = 0;
        while next_payload(&mut rest).is_some() {
            frames += 1;
        }
        let len = capacity - rest.len();
        if map[len..].iter().any(|b| *b != 0) {
            map[len..].fill(0);
        }
        Ok(Some(Segment {
            number,
            path,
            map,
            len,
            frames,
        }))
    }

    /// Copies `frame` (made by [`frame`]) in after the frames already there; `false` when
    /// it does not fit.
    pub fn append(&mut self, frame: &[u8]) -> bool {
        let Some(end) = self.len.checked_add(frame.len()) else {
            return false;
        };
        let Some(room) = self.map.get_mut(self.len..end) else {
            return false;
        };
        room.copy_from_slice(frame);
        self.len = end;
        self.frames += 1;
        true
    }

    /// The frames copied in so far.
    pub fn bytes(&self) -> &[u8] {
        &self.map[..self.len]
    }

    /// How many bytes the segment holds at most.
    pub fn capacity(&self) -> usize {
        self.map.len()
    }

    /// How many frames were copied in.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Zeroes what was copied in, so the segment can take another batch's frames: its
    /// pages stay mapped and writable, and the next batch copies without a page fault.
    /// Call this only once the frames are committed (the segment's number is then one the
    /// store has, which replay skips).
    pub fn clear(&mut self) {
        self.map[..self.len].fill(0);
        self.len = 0;
        self.frames = 0;
    }

    /// Renames a cleared segment to number `number` (a new batch's).
    pub fn renumber(&mut self, base: &Path, number: u64) -> std::io::Result<()> {
        let path = segment_path(base, number);
        std::fs::rename(&self.path, &path)?;
        self.path = path;
        self.number = number;
        Ok(())
    }

    /// Unmaps and deletes the segment (once its records are committed).
    pub fn remove(self) -> std::io::Result<()> {
        let Segment { path, map, .. } = self;
        drop(map);
        std::fs::remove_file(path)
    }
}

/// The journal frame of `record`.
pub fn line(record: &Record) -> std::io::Result<Vec<u8>> {
    frame(|out| codec::encode_record(out, record))
}

/// A journal frame around what `encode` writes (a record in `codec::encode_record`'s
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

    fn record(user: &str) -> Record {
        crate::history::test_record(user, 1)
    }

    #[test]
    fn a_segment_ends_at_its_zeroed_rest_or_at_a_torn_or_damaged_frame() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("h.redb");
        let mut segment = Segment::create(&base, 3, 4096).unwrap();
        for user in ["a", "b", "c"] {
            assert!(segment.append(&line(&record(user)).unwrap()));
        }
        let used = segment.bytes().len();
        assert_eq!(segment.frames(), 3);
        // What the mapping holds is in the file at once (the page cache), with the rest of
        // the reserved space zeroed.
        let path = segment_path(&base, 3);
        let whole = std::fs::read(&path).unwrap();
        assert_eq!(whole.len(), 4096);
        assert_eq!(&whole[..used], segment.bytes());
        assert!(whole[used..].iter().all(|b| *b == 0));
        let users =
            |c: &SegmentContents| c.records.iter().map(|r| r.user.clone()).collect::<Vec<_>>();
        let c = read_segment(&path).unwrap();
        assert_eq!(
            (users(&c), c.skipped),
            (vec!["a".into(), "b".into(), "c".into()], 0)
        );
        assert_eq!(count_frames(&whole), 3);
        // A copy cut by a crash: the second half of the last frame is not there.
        let last = line(&record("c")).unwrap().len();
        let mut torn = whole.clone();
        torn[used - last / 2..used].fill(0);
        std::fs::write(&path, &torn).unwrap();
        let c = read_segment(&path).unwrap();
        assert_eq!((users(&c), c.skipped), (vec!["a".into(), "b".into()], 1));
        // A flipped bit in the second frame's payload.
        let mut damaged = whole.clone();
        let second = used / 3 + 10;
        damaged[second] ^= 0x40;
        std::fs::write(&path, &damaged).unwrap();
        let c = read_segment(&path).unwrap();
        assert_eq!((users(&c), c.skipped), (vec!["a".into()], 1));
        assert_eq!(segments(&base).unwrap(), vec![(3, path.clone())]);
        // A full segment takes no more frames; removing it deletes the file.
        let big = vec![7u8; 4096 - used + 1];
        assert!(!segment.append(&big));
        assert_eq!(segment.frames(), 3);
        segment.remove().unwrap();
        assert!(!path.exists());
    }
}
