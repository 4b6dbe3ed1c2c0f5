//! What the dashboard shows, read from the daemon: the lists as loaded ([`Health`]), the
//! history over a range ([`Overview`]) and one user's logins ([`UserView`]), from this
//! node's redb file or from the shared PostgreSQL history ([`Reader`]). Reading the history
//! blocks: these run in blocking tasks.

use std::path::{Path, PathBuf};

use super::range::Range;
use crate::analysis::aggregate::{
    summarize, summarize_store, AggregateOptions, OutcomeCounts, Summary, UserSummary,
};
use crate::analysis::known_good::KnownGood;
use crate::analysis::report::{Context, Report, ReportOptions};
use crate::audit::escape;
use crate::clock::us_since_epoch;
use crate::decider::state::Active;
use crate::history::store::{HistoryError, HistoryStats, HistoryStore};
use crate::history::{Filter, Record};
use crate::lists::{Diagnostic, ListKind, Severity};
use crate::pghistory::read::PgReader;
use crate::pghistory::PgHistoryError;

/// Where the dashboard reads the history.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reader<'a> {
    /// This node's redb file.
    Store(&'a HistoryStore),
    /// The shared history of every node (or of the node the reader was made for).
    Shared(&'a PgReader),
}

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error(transparent)]
    Store(#[from] HistoryError),
    #[error(transparent)]
    Shared(#[from] PgHistoryError),
    /// The shared history was asked for, but `[history] backend` is not `postgres`.
    #[error("the history is not in PostgreSQL")]
    NotShared,
}

impl Reader<'_> {
    fn summarize(&self, filter: &Filter, options: AggregateOptions) -> Result<Summary, ReadError> {
        Ok(match self {
            Reader::Store(store) => summarize_store(store, filter, options)?,
            Reader::Shared(pg) => summarize(*pg, filter, options)?.0,
        })
    }

    /// The latest logins a list matched, newest first.
    fn latest_matched(&self) -> Result<Vec<Record>, ReadError> {
        Ok(match self {
            Reader::Store(store) => {
                store.latest(LATEST, &mut |row| row.outcome().matched_a_list())?
            }
            Reader::Shared(pg) => pg.latest(LATEST, true, None)?,
        })
    }

    fn stats(&self) -> Result<HistoryStats, ReadError> {
        Ok(match self {
            Reader::Store(store) => store.stats()?,
            Reader::Shared(pg) => {
                let s = pg.stats()?;
                HistoryStats {
                    records: s.records,
                    blocks: 0,
                    strings: 0,
                    oldest_us: s.oldest_us,
                    file_bytes: s.bytes,
                }
            }
        })
    }
}

/// Rows in the "latest" tables.
pub(crate) const LATEST: usize = 20;
/// Rows of each ranking.
pub(crate) const TOP: usize = 10;

/// What the overview shows from the history.
#[derive(Debug)]
pub(crate) struct Overview {
    pub report: Report,
    pub buckets: Vec<(u64, OutcomeCounts)>,
    pub latest: Vec<Record>,
    pub stats: HistoryStats,
}

/// One list file in the health table.
#[derive(Debug, Clone)]
pub(crate) struct ListRow {
    pub file: &'static str,
    pub entries: usize,
    pub present: bool,
    pub errors: usize,
    pub warnings: usize,
}

impl ListRow {
    /// Whether the row is worth a line of the table (else it is named among the absent).
    pub(crate) fn shown(&self) -> bool {
        self.present || self.entries > 0 || self.errors + self.warnings > 0
    }
}

/// The lists as loaded.
#[derive(Debug)]
pub(crate) struct Health {
    pub dir: PathBuf,
    pub config_path: Option<PathBuf>,
    pub rows: Vec<ListRow>,
    pub diagnostics: Vec<Diagnostic>,
    pub loaded_at_us: u64,
    /// The last reload found the list directory unusable and kept the lists before it.
    pub degraded: Option<&'static str>,
}

/// The lists in force, with the problems of their last load and of `known_good.lst`.
pub(crate) fn health(
    active: &Active,
    config_path: Option<&Path>,
    known_good: &[Diagnostic],
) -> Health {
    let lists = &active.policy.lists;
    let mut diagnostics = active.report.diagnostics.clone();
    diagnostics.extend(known_good.iter().cloned());
    let rows = ListKind::ALL
        .into_iter()
        .map(|kind| {
            let path = lists.path(kind);
            let of = |severity| {
                diagnostics
                    .iter()
                    .filter(|d| d.path == path && d.severity == severity)
                    .count()
            };
            ListRow {
                file: kind.file_name(),
                entries: lists.len_of(kind),
                present: path.is_file(),
                errors: of(Severity::Error),
                warnings: of(Severity::Warning),
            }
        })
        .collect();
    Health {
        dir: lists.dir().to_path_buf(),
        config_path: config_path.map(Path::to_path_buf),
        rows,
        diagnostics,
        loaded_at_us: us_since_epoch(active.loaded_at),
        degraded: active.list_dir_fault.map(|f| f.describe()),
    }
}

/// The history over `range` ending `now`: the report's rankings, the chart's buckets, the
/// latest logins a list matched, the file's sizes.
pub(crate) fn load_overview(
    reader: Reader<'_>,
    active: &Active,
    known_good: &KnownGood,
    range: Range,
    now: u64,
) -> Result<Overview, ReadError> {
    let filter = Filter {
        since_us: Some(range.since_us(now)),
        ..Filter::default()
    };
    let options = AggregateOptions {
        bucket_us: range.bucket_us(),
        for_suggest: false,
    };
    let summary = reader.summarize(&filter, options)?;
    let cx = Context {
        lists: Some(&active.policy.lists),
        known_good: Some(known_good),
    };
    let report = Report::build(
        &summary,
        &cx,
        ReportOptions {
            top: TOP,
            by_logins: false,
        },
    );
    let latest = reader.latest_matched()?;
    let stats = reader.stats()?;
    Ok(Overview {
        report,
        buckets: summary.buckets,
        latest,
        stats,
    })
}

/// One user's view.
#[derive(Debug, Default)]
pub(crate) struct UserView {
    pub users: Vec<UserSummary>,
    pub latest: Vec<Record>,
}

/// The user `wanted` (ignoring case; in its audit-line form or as typed) over the whole
/// history.
pub(crate) fn load_user(reader: Reader<'_>, wanted: &str) -> Result<UserView, ReadError> {
    let store = match reader {
        Reader::Store(store) => store,
        Reader::Shared(pg) => return load_shared_user(pg, wanted),
    };
    let strings = store.strings()?;
    // Users are stored in their audit-line form; a name copied from the page may already
    // be in that form.
    let escaped = escape(wanted);
    let mut ids = strings.ids_ignoring_case(&escaped);
    let mut name = escaped;
    if ids.is_empty() {
        ids = strings.ids_ignoring_case(wanted);
        name = wanted.to_string();
    }
    if ids.is_empty() {
        return Ok(UserView::default());
    }
    let filter = Filter {
        user: Some(name),
        ..Filter::default()
    };
    let summary = summarize_store(store, &filter, AggregateOptions::default())?;
    let latest = store.latest(LATEST, &mut |row| ids.contains(&row.user))?;
    Ok(UserView {
        users: summary.users,
        latest,
    })
}

/// [`load_user`] over the shared history: the audit-line form first, then as typed.
fn load_shared_user(pg: &PgReader, wanted: &str) -> Result<UserView, ReadError> {
    let escaped = escape(wanted);
    let names = if escaped == wanted {
        vec![escaped]
    } else {
        vec![escaped, wanted.to_string()]
    };
    for name in names {
        let filter = Filter {
            user: Some(name.clone()),
            ..Filter::default()
        };
        let summary = summarize(pg, &filter, AggregateOptions::default())?.0;
        if summary.users.is_empty() {
            continue;
        }
        let latest = pg.latest(LATEST, false, Some(&name))?;
        return Ok(UserView {
            users: summary.users,
            latest,
        });
    }
    Ok(UserView::default())
}
