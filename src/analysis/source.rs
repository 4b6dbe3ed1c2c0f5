//! [`RowSource`]: the one way analysis reads decisions — from the history store or from
//! audit log files — so the report, the suggestions and the dashboard do not care which.
//!
//! A source hands out rows (a record as string ids, see [`Row`]) with the strings they
//! resolve in; the store merges identical rows into one visit with their count
//! ([`Weight`]), log lines come one by one, interned as they are read.

use serde::Serialize;

use crate::auditlog::{FilesError, LogFiles};
use crate::history::codec::{Row, Strings};
use crate::history::store::{HistoryError, HistoryStore, Weight};
use crate::history::Filter;

/// Where decisions are read from.
pub trait RowSource {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Visits every row `filter` selects, each with the strings its ids resolve in and how
    /// many identical rows it stands for (their times within one chart bucket of
    /// `bucket_us` when that is not 0). Gives the strings of every visited row and, for
    /// log lines, what was read.
    fn visit(
        &self,
        filter: &Filter,
        bucket_us: u64,
        visitor: &mut dyn FnMut(&Row, &Strings, Weight),
    ) -> Result<Visited, Self::Error>;
}

/// What a [`RowSource::visit`] leaves behind.
#[derive(Debug, Default)]
pub struct Visited {
    /// Resolves the ids of every row visited.
    pub strings: Strings,
    /// What was read, when the source was log lines.
    pub input: Option<InputStats>,
}

/// What was read when the report came from log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InputStats {
    pub lines: u64,
    pub records: u64,
    /// Lines that are no `mail-audit:` line (other log lines, `mail-audit-maxmind:`).
    pub other: u64,
    /// `mail-audit:` lines that could not be read.
    pub malformed: u64,
    /// Records outside `--since`/`--user`.
    pub filtered: u64,
    /// Records without a time (`journalctl -o cat`): `--since` cannot apply to them.
    pub undated: u64,
    /// The first malformed lines: number and reason.
    pub first_malformed: Vec<(u64, String)>,
}

impl RowSource for HistoryStore {
    type Error = HistoryError;

    /// Identical rows merged ([`HistoryStore::scan_grouped`]), over all cores.
    fn visit(
        &self,
        filter: &Filter,
        bucket_us: u64,
        visitor: &mut dyn FnMut(&Row, &Strings, Weight),
    ) -> Result<Visited, HistoryError> {
        let strings = self.strings()?;
        self.scan_grouped(&strings, filter, bucket_us, &mut |row: &Row, w: Weight| {
            visitor(row, &strings, w)
        })?;
        Ok(Visited {
            strings,
            input: None,
        })
    }
}

impl RowSource for LogFiles {
    type Error = FilesError;

    /// Every record read, interned on the way; records outside `filter` and records
    /// without a time are counted in [`InputStats`].
    fn visit(
        &self,
        filter: &Filter,
        _bucket_us: u64,
        visitor: &mut dyn FnMut(&Row, &Strings, Weight),
    ) -> Result<Visited, FilesError> {
        let mut strings = Strings::new();
        let mut added = Vec::new();
        let (mut filtered, mut undated) = (0, 0);
        let read = self.read(|record| {
            if record.time_us.is_none() {
                undated += 1;
            }
            if !record.selected(filter) {
                filtered += 1;
                return;
            }
            added.clear();
            let row = Row::intern(&record, &mut strings, &mut added);
            visitor(&row, &strings, Weight::one(row.time_us));
        })?;
        let input = InputStats {
            lines: read.lines,
            records: read.records,
            other: read.not_audit,
            malformed: read.malformed,
            filtered,
            undated,
            first_malformed: read.first_malformed,
        };
        Ok(Visited {
            strings,
            input: Some(input),
        })
    }
}
