//! [`Strings`]: the history's interned strings (user names, host names, AS and network
//! names…), each kept once, cut to [`MAX_STRING_BYTES`].

use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Strings and their ids. Id 0 is reserved for "none".
///
/// Ids are never reused: a string that no stored record uses any more is dropped by
/// [`HistoryStore::prune`](crate::history::store::HistoryStore::prune) (and from here by
/// [`Strings::forget`]), and its id stays unused, so the table's memory follows the strings
/// in use, not every string ever seen.
#[derive(Debug, Default, Clone)]
pub struct Strings {
    /// Both maps share each string (one allocation per string).
    ids: FxHashMap<Arc<str>, u32>,
    names: FxHashMap<u32, Arc<str>>,
    /// The id the next new string gets.
    next: u32,
    /// The count after the last collection (or at load): the next one is due when the
    /// table has grown to twice this.
    collected_at: usize,
}

/// The longest string the history keeps (user names, host names, AS and network names…):
/// a longer one is cut at a character boundary and ends in `…`, so a client sending a
/// 20 KB user name costs the history and every report 256 bytes.
pub const MAX_STRING_BYTES: usize = 256;

/// The most items a record keeps of a list (entities, cloud tags, lookup errors); of a
/// longer list the last item kept says how many more there were.
pub const MAX_LIST_ITEMS: usize = 32;

/// `s`, or its first bytes up to [`MAX_STRING_BYTES`] (at a character boundary) with `…`.
pub(crate) fn capped(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_STRING_BYTES {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut end = MAX_STRING_BYTES - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}…", &s[..end]))
}

/// Interns the items of a list into `into`, at most [`MAX_LIST_ITEMS`] of them.
pub(super) fn intern_list<'s>(
    items: impl ExactSizeIterator<Item = std::borrow::Cow<'s, str>>,
    strings: &mut Strings,
    added: &mut Vec<(u32, String)>,
    into: &mut Vec<u32>,
) {
    into.clear();
    let n = items.len();
    let keep = if n > MAX_LIST_ITEMS {
        MAX_LIST_ITEMS - 1
    } else {
        n
    };
    for item in items.take(keep) {
        into.push(strings.intern(&item, added));
    }
    if n > keep {
        into.push(strings.intern(&format!("… {} more", n - keep), added));
    }
}

/// Below this many strings the table is never collected.
const COLLECT_MIN: usize = 10_000;

impl Strings {
    pub fn new() -> Strings {
        Strings {
            ids: FxHashMap::default(),
            names: FxHashMap::default(),
            next: 1,
            collected_at: 0,
        }
    }

    /// Rebuilds the table from stored `(id, string)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, String)>) -> Strings {
        let mut s = Strings::new();
        for (id, name) in pairs {
            if id == 0 {
                continue;
            }
            s.next = s.next.max(id.saturating_add(1));
            let name: Arc<str> = Arc::from(name);
            s.ids.insert(Arc::clone(&name), id);
            s.names.insert(id, name);
        }
        // Not collected yet in this process: a table an earlier version let grow is
        // collected at the first prune.
        s.collected_at = 0;
        s
    }

    /// The id of `name` (cut to [`MAX_STRING_BYTES`]), adding it (and reporting it through `added`) when
    /// new.
    pub fn intern(&mut self, name: &str, added: &mut Vec<(u32, String)>) -> u32 {
        let name = &*capped(name);
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.next;
        self.next = self.next.saturating_add(1);
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(id, Arc::clone(&shared));
        self.ids.insert(shared, id);
        added.push((id, name.to_string()));
        id
    }

    /// The string behind `id` (`""` for 0 or an unknown id).
    pub fn get(&self, id: u32) -> &str {
        self.names.get(&id).map(|s| &**s).unwrap_or("")
    }

    /// The string behind `id`, `None` for 0.
    pub fn opt(&self, id: u32) -> Option<&str> {
        (id != 0).then(|| self.get(id))
    }

    /// Number of strings (without the reserved 0).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids whose string equals `name` ignoring ASCII case.
    pub fn ids_ignoring_case(&self, name: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .names
            .iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(&i, _)| i)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Whether the table has doubled since it was last collected (and is not small), so
    /// that the strings no record uses should be looked for: each collection reads every
    /// stored record once, and it comes only after as many new strings as were kept.
    pub fn collection_due(&self) -> bool {
        self.len() >= COLLECT_MIN && self.len() >= self.collected_at.saturating_mul(2)
    }

    /// The ids of the strings that `in_use` does not hold.
    pub fn unused(&self, in_use: &rustc_hash::FxHashSet<u32>) -> Vec<u32> {
        self.names
            .keys()
            .copied()
            .filter(|id| !in_use.contains(id))
            .collect()
    }

    /// Drops the strings `ids` (their records are gone) and marks the table collected.
    pub fn forget(&mut self, ids: &[u32]) {
        self.remove(ids);
        self.names.shrink_to_fit();
        self.ids.shrink_to_fit();
        self.collected_at = self.len();
    }

    /// Drops the strings `ids` (their records are gone: one user's, forgotten) without
    /// changing when the next collection is due.
    pub fn remove(&mut self, ids: &[u32]) {
        for id in ids {
            if let Some(name) = self.names.remove(id) {
                self.ids.remove(&name);
            }
        }
    }
}
