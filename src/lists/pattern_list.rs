//! Lists of Lua patterns and literals (`rev_host`, `as_dscr`, `net_name`, `maxmind/as_org`).
//!
//! A line starting with `'` is a literal compared ignoring ASCII case, a line starting
//! with `"` a literal compared exactly, any other line a Lua 5.4 pattern that matches when
//! the first value `string.match(value, pattern)` returns is the whole value. Literals
//! are hashed; patterns are compiled once and indexed by the literal suffix (or prefix)
//! every match must have, so a value is tried against the few patterns that can match it.

use std::collections::HashMap;

use luapat::Pattern;

use super::affix::required_affixes;
use super::diag::FileReport;
use super::line::Line;
use super::Entry;

#[derive(Debug, Clone)]
struct CompiledPattern {
    entry: usize,
    pattern: Pattern,
}

/// Affix index: a required suffix (or prefix) → the patterns requiring it. A value is
/// looked up once per distinct affix length, so the cost grows with the number of
/// distinct lengths, not with the number of patterns.
#[derive(Debug, Clone, Default)]
struct AffixIndex {
    by_key: HashMap<Vec<u8>, Vec<usize>>,
    /// The distinct key lengths present, so a lookup tries only those.
    key_lens: Vec<usize>,
}

impl AffixIndex {
    fn insert(&mut self, key: &[u8], pattern: usize) {
        if !self.key_lens.contains(&key.len()) {
            self.key_lens.push(key.len());
            self.key_lens.sort_unstable();
        }
        self.by_key.entry(key.to_vec()).or_default().push(pattern);
    }

    fn candidates<'a>(
        &'a self,
        value: &'a [u8],
        key_of: impl Fn(&'a [u8], usize) -> &'a [u8] + 'a,
    ) -> impl Iterator<Item = usize> + 'a {
        self.key_lens
            .iter()
            .filter(move |&&len| len <= value.len())
            .filter_map(move |&len| self.by_key.get(key_of(value, len)))
            .flatten()
            .copied()
    }
}

/// A compiled pattern list.
#[derive(Debug, Clone, Default)]
pub struct PatternList {
    entries: Vec<Entry>,
    /// Lower-cased `'` literals → entry.
    literal_nocase: HashMap<Vec<u8>, usize>,
    /// `"` literals → entry.
    literal_exact: HashMap<Vec<u8>, usize>,
    patterns: Vec<CompiledPattern>,
    by_suffix: AffixIndex,
    by_prefix: AffixIndex,
    /// Patterns with no required literal: tried for every value.
    unindexed: Vec<usize>,
}

/// A pattern that failed while matching (too complex or too expensive): never a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchFailure {
    pub entry: Entry,
    pub message: String,
}

impl PatternList {
    pub(crate) fn add_line(&mut self, line: Line<'_>, report: &mut FileReport<'_>) {
        let text = line.text;
        let entry_index = self.entries.len();
        match text[0] {
            quote @ (b'\'' | b'"') => {
                let literal = &text[1..];
                if literal.is_empty() {
                    report.error(line.number, "empty literal: nothing follows the quote");
                    return;
                }
                if literal.len() > 1 && literal.last() == Some(&quote) {
                    report.warning(
                        line.number,
                        format!(
                            "literal {} ends with its quote character; literals have no closing quote, so it is part of the value",
                            Line::shown(text)
                        ),
                    );
                }
                let (map, key) = if quote == b'\'' {
                    (&mut self.literal_nocase, literal.to_ascii_lowercase())
                } else {
                    (&mut self.literal_exact, literal.to_vec())
                };
                if let Some(&first) = map.get(&key) {
                    report.warning(
                        line.number,
                        format!(
                            "duplicate entry (first at line {})",
                            self.entries[first].line
                        ),
                    );
                    return;
                }
                map.insert(key, entry_index);
            }
            _ => {
                let pattern = match Pattern::compile(text) {
                    Ok(p) => p,
                    Err(e) => {
                        report.error(
                            line.number,
                            format!("malformed Lua pattern {}: {e}", Line::shown(text)),
                        );
                        return;
                    }
                };
                let index = self.patterns.len();
                let (prefix, suffix) = required_affixes(text);
                // The longer affix discriminates better.
                if !suffix.is_empty() && suffix.len() >= prefix.len() {
                    self.by_suffix.insert(&suffix, index);
                } else if !prefix.is_empty() {
                    self.by_prefix.insert(&prefix, index);
                } else {
                    self.unindexed.push(index);
                }
                self.patterns.push(CompiledPattern {
                    entry: entry_index,
                    pattern,
                });
            }
        }
        self.entries.push(Entry::of(line.number, line.text));
    }

    /// Number of entries loaded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry (in file order) matching `value`. Patterns that fail while matching
    /// are reported through `failures` and count as no match.
    pub fn find(&self, value: &[u8], failures: &mut Vec<MatchFailure>) -> Option<&Entry> {
        let mut candidates: Vec<usize> = Vec::new();
        if let Some(&e) = self.literal_exact.get(value) {
            candidates.push(e);
        }
        if !self.literal_nocase.is_empty() {
            if let Some(&e) = self.literal_nocase.get(&value.to_ascii_lowercase()) {
                candidates.push(e);
            }
        }
        let patterns = self
            .by_suffix
            .candidates(value, |v, len| &v[v.len() - len..])
            .chain(self.by_prefix.candidates(value, |v, len| &v[..len]))
            .chain(self.unindexed.iter().copied());
        // Pattern indices are stored by entry order, so sorting entries sorts both kinds.
        candidates.extend(patterns.map(|p| self.patterns[p].entry));
        candidates.sort_unstable();
        candidates.dedup();
        let mut next_pattern = 0;
        for entry in candidates {
            let Some(pattern) = self.pattern_of(entry, &mut next_pattern) else {
                return Some(&self.entries[entry]); // a literal hit
            };
            match pattern.matches_whole(value) {
                Ok(true) => return Some(&self.entries[entry]),
                Ok(false) => {}
                Err(e) => failures.push(MatchFailure {
                    entry: self.entries[entry].clone(),
                    message: e.to_string(),
                }),
            }
        }
        None
    }

    /// The compiled pattern of `entry`, or `None` when the entry is a literal.
    fn pattern_of(&self, entry: usize, hint: &mut usize) -> Option<&Pattern> {
        let pos = self.patterns[*hint..]
            .binary_search_by_key(&entry, |p| p.entry)
            .ok()?;
        *hint += pos;
        Some(&self.patterns[*hint].pattern)
    }
}
