//! Reading audit lines: [`read_lines`] over any [`BufRead`] (lines capped at
//! [`MAX_LINE_BYTES`], invalid UTF-8 read lossily), counting what it skips; [`LogFiles`]
//! over files and standard input one after the other.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::PathBuf;

use super::line::{parse_line, ParsedLine};
use super::prefix::Clock;
use crate::history::record::Record;

/// The longest line [`read_lines`] reads (without its line break); longer ones are malformed.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How many malformed lines [`ReadStats::first_malformed`] keeps.
pub const MAX_MALFORMED_KEPT: usize = 10;

/// What [`read_lines`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Every line, audit or not (`records + not_audit + malformed`).
    pub lines: u64,
    pub records: u64,
    pub not_audit: u64,
    pub malformed: u64,
    /// The first [`MAX_MALFORMED_KEPT`] malformed lines: 1-based line number and reason.
    pub first_malformed: Vec<(u64, String)>,
}

/// A read that failed part way.
#[derive(Debug, thiserror::Error)]
#[error("reading line {line}: {source}")]
pub struct ReadError {
    /// The 1-based number of the line being read.
    pub line: u64,
    pub source: std::io::Error,
}

/// Reads every line of `reader`, hands each record to `on_record` in order and counts the
/// rest. Invalid UTF-8 is read lossily; a line longer than [`MAX_LINE_BYTES`] is malformed
/// (and not kept in memory). Only an I/O error stops the read.
pub fn read_lines<R: BufRead>(
    mut reader: R,
    clock: &Clock,
    mut on_record: impl FnMut(Record),
) -> Result<ReadStats, ReadError> {
    let mut stats = ReadStats::default();
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ReadError {
                    line: stats.lines + 1,
                    source,
                })
            }
        };
        if chunk.is_empty() {
            if !line.is_empty() || too_long {
                stats.take(&line, too_long, clock, &mut on_record);
            }
            return Ok(stats);
        }
        let (part, used, ends_line) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        if !too_long {
            if line.len() + part.len() > MAX_LINE_BYTES {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(part);
            }
        }
        reader.consume(used);
        if ends_line {
            stats.take(&line, too_long, clock, &mut on_record);
            line.clear();
            too_long = false;
        }
    }
}

impl ReadStats {
    fn take(
        &mut self,
        line: &[u8],
        too_long: bool,
        clock: &Clock,
        on_record: &mut impl FnMut(Record),
    ) {
        self.lines += 1;
        let parsed = if too_long {
            ParsedLine::Malformed(format!("line longer than {MAX_LINE_BYTES} bytes"))
        } else {
            parse_line(&String::from_utf8_lossy(line), clock)
        };
        match parsed {
            ParsedLine::Record(record) => {
                self.records += 1;
                on_record(record);
            }
            ParsedLine::NotAudit => self.not_audit += 1,
            ParsedLine::Malformed(reason) => {
                self.malformed += 1;
                if self.first_malformed.len() < MAX_MALFORMED_KEPT {
                    self.first_malformed.push((self.lines, reason));
                }
            }
        }
    }
}

/// Audit log files read one after the other, `-` for standard input: what
/// `badclients report LOG…` reads instead of the history.
#[derive(Debug, Clone)]
pub struct LogFiles {
    pub files: Vec<PathBuf>,
    /// What syslog times without a year are read against.
    pub clock: Clock,
}

/// A file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("cannot read {}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}", path.display())]
    Read { path: PathBuf, source: ReadError },
}

impl LogFiles {
    /// Reads every file in order and hands each record to `on_record`; the counts are of
    /// all files together, and with several files a malformed line's reason names its file.
    /// A file that cannot be opened or read stops the read.
    pub fn read(&self, mut on_record: impl FnMut(Record)) -> Result<ReadStats, FilesError> {
        let mut total = ReadStats::default();
        for path in &self.files {
            let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                Box::new(BufReader::new(std::io::stdin().lock()))
            } else {
                let file = File::open(path).map_err(|source| FilesError::Open {
                    path: path.clone(),
                    source,
                })?;
                Box::new(BufReader::new(file))
            };
            let read = read_lines(reader, &self.clock, &mut on_record).map_err(|source| {
                FilesError::Read {
                    path: path.clone(),
                    source,
                }
            })?;
            total.lines += read.lines;
            total.records += read.records;
            total.not_audit += read.not_audit;
            total.malformed += read.malformed;
            for (line, reason) in read.first_malformed {
                if total.first_malformed.len() < MAX_MALFORMED_KEPT {
                    let reason = if self.files.len() > 1 {
                        format!("{}: {reason}", path.display())
                    } else {
                        reason
                    };
                    total.first_malformed.push((line, reason));
                }
            }
        }
        Ok(total)
    }
}
