//! Replay: the journal segments an unclean stop left beside the history committed to the
//! store at the next open.

use crate::history::codec::Strings;
use crate::history::journal;
use crate::history::store::{HistoryError, HistoryStore};

/// What [`replay_journal`] did.
#[derive(Debug, Default)]
pub struct Replay {
    /// Records committed from the journal.
    pub replayed: u64,
    /// The highest segment number seen (committed or replayed).
    pub last_segment: u64,
    /// What to log (torn frames skipped, records replayed).
    pub warnings: Vec<String>,
}

/// Commits the journal segments beside the history that the store has not committed (an
/// unclean stop left them) and removes every segment. The daemon does this at start;
/// `badclients report` too, when it reads the file directly, so it sees what the journal
/// holds.
pub fn replay_journal(
    store: &HistoryStore,
    strings: &mut Strings,
    path: &std::path::Path,
) -> Result<Replay, HistoryError> {
    let committed = store.committed_segment()?;
    let journal_err = |source| HistoryError::Journal {
        path: path.to_path_buf(),
        source,
    };
    let mut out = Replay {
        last_segment: committed.unwrap_or(0),
        ..Replay::default()
    };
    for (n, segment) in journal::segments(path).map_err(journal_err)? {
        out.last_segment = out.last_segment.max(n);
        if committed.is_some_and(|c| n <= c) {
            let _ = std::fs::remove_file(&segment);
            continue;
        }
        let contents = journal::read_segment(&segment).map_err(|source| HistoryError::Journal {
            path: segment.clone(),
            source,
        })?;
        if contents.skipped > 0 {
            out.warnings.push(format!(
                "history journal {}: skipped {} unreadable line(s) (a write cut by a crash)",
                segment.display(),
                contents.skipped
            ));
        }
        store.append(&contents.records, strings, Some(n))?;
        out.replayed += contents.records.len() as u64;
        let _ = std::fs::remove_file(&segment);
    }
    if out.replayed > 0 {
        out.warnings.push(format!(
            "history: replayed {} decision(s) from the journal of an unclean stop",
            out.replayed
        ));
    }
    Ok(out)
}
