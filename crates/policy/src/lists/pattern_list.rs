//! Lists of Lua patterns and literals (`rev_host`, `as_dscr`, `net_name`, `maxmind/as_org`).
//!
//! A line starting with `'` is a literal compared ignoring ASCII case, a line starting
//! with `"` a literal compared exactly, any other line a Lua 5.4 pattern that matches when
//! the first value `string.match(value, pattern)` returns is the whole value. Literals
//! are hashed; patterns are compiled once and indexed by the literal suffix (or prefix)
//! every match must have, so a value is tried against the few patterns that can match it.
//!
//! Matching is bounded: every pattern tried for one decision spends from one shared
//! [`Budget`] of steps; once it is exhausted the remaining patterns are not tried (literals
//! still are) and the caller learns it from the budget. Each pattern's worst case is
//! measured at load on adversarial subjects ([`Pattern::adversarial_subjects`], as long as
//! the longest host name) and an expensive one gets a warning.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use luapat::{Budget, Pattern};

use super::affix::required_affixes;
use super::diag::FileReport;
use super::line::Line;
use super::Entry;

/// Length of the subjects a pattern's worst case is measured on. A quarter of the
/// longest host name (253 bytes) keeps the measurement of a large list quick; a pattern
/// whose cost grows faster than the square of the length shows on it already.
pub(crate) const WORST_CASE_SUBJECT_LEN: usize = 64;

/// Steps above which a pattern's measured worst case gets a warning at load. A pattern
/// with nested runs (`.-.-x`, `%w*%w*…`) spends more on 64 bytes, and on a 254-byte name
/// it spends more than a tenth of the default per-login budget
/// ([`crate::decision::DEFAULT_MATCH_BUDGET`]); one run over the subject (`.*dyn.*`,
/// about 8,000 steps) stays below it.
pub(crate) const EXPENSIVE_STEPS: u64 = 20_000;

#[derive(Debug, Clone)]
struct CompiledPattern {
    entry: usize,
    pattern: Pattern,
    /// Set by the first failure while matching since the list was loaded, so the failure
    /// is logged once per load, not once per login.
    failed: Arc<AtomicBool>,
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
    /// The sum of the patterns' measured worst cases (each capped at just above
    /// [`EXPENSIVE_STEPS`]): a bound on how long one value can keep a thread busy, up to
    /// the per-login budget.
    worst_case_steps: u64,
}

/// A pattern that failed while matching (too complex or too expensive on its own): never
/// a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchFailure {
    /// The pattern's entry.
    pub entry: Entry,
    /// Why matching failed (the matcher's error).
    pub message: String,
    /// The first failure of this pattern since its list was loaded (log it; later ones
    /// are only counted).
    pub first: bool,
}

/// The most steps `pattern` spends on its adversarial subjects framed by the literal
/// `prefix` and `suffix` every whole match needs, measuring at most `cap` steps each and
/// stopping at the first subject that reaches it.
fn worst_case_steps(pattern: &Pattern, prefix: &[u8], suffix: &[u8], cap: u64) -> u64 {
    let fill = WORST_CASE_SUBJECT_LEN.saturating_sub(prefix.len() + suffix.len());
    let mut worst = 0;
    for middle in pattern.adversarial_subjects(fill) {
        let subject = [prefix, &middle, suffix].concat();
        let mut budget = Budget::new(cap);
        // The answer does not matter, only what it cost.
        let _ = pattern.matches_whole_within(&subject, &mut budget);
        worst = worst.max(budget.spent());
        if worst >= cap {
            break;
        }
    }
    worst
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
                let worst = worst_case_steps(&pattern, &prefix, &suffix, EXPENSIVE_STEPS + 1);
                self.worst_case_steps = self.worst_case_steps.saturating_add(worst);
                if worst > EXPENSIVE_STEPS {
                    report.warning(
                        line.number,
                        format!(
                            "Lua pattern {} is expensive: more than {EXPENSIVE_STEPS} matching \
                             steps on a {WORST_CASE_SUBJECT_LEN}-byte value (nested repetitions \
                             backtrack); a few of these use up a login's matching budget",
                            Line::shown(text)
                        ),
                    );
                }
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
                    failed: Arc::default(),
                });
            }
        }
        self.entries.push(Entry::of(line.number, line.text));
    }

    /// Number of entries loaded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries loaded, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sum of the patterns' worst cases measured at load (each capped just above
    /// `EXPENSIVE_STEPS`, the load warning's threshold): 0 for a list of literals.
    pub fn worst_case_steps(&self) -> u64 {
        self.worst_case_steps
    }

    /// The first entry (in file order) matching `value`, spending the patterns' steps from
    /// `budget`. Patterns that fail on their own while matching are reported through
    /// `failures` and count as no match. Once `budget` is exhausted no pattern is tried
    /// any more (literals still are): the caller sees it in [`Budget::is_exhausted`].
    pub fn find(
        &self,
        value: &[u8],
        budget: &mut Budget,
        failures: &mut Vec<MatchFailure>,
    ) -> Option<&Entry> {
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
            let Some(compiled) = self.pattern_of(entry, &mut next_pattern) else {
                return Some(&self.entries[entry]); // a literal hit
            };
            if budget.is_exhausted() {
                continue;
            }
            match compiled.pattern.matches_whole_within(value, budget) {
                Ok(true) => return Some(&self.entries[entry]),
                Ok(false) => {}
                // The shared budget ran out: the decision's failure, not this pattern's.
                Err(_) if budget.is_exhausted() => {}
                Err(e) => failures.push(MatchFailure {
                    entry: self.entries[entry].clone(),
                    message: e.to_string(),
                    first: !compiled.failed.swap(true, Ordering::Relaxed),
                }),
            }
        }
        None
    }

    /// [`PatternList::find`] for one value outside a decision (reports, suggestions): a
    /// budget of its own ([`crate::decision::DEFAULT_MATCH_BUDGET`]), failures counted as
    /// no match.
    pub fn find_alone(&self, value: &[u8]) -> Option<&Entry> {
        let mut budget = Budget::new(crate::decision::DEFAULT_MATCH_BUDGET);
        self.find(value, &mut budget, &mut Vec::new())
    }

    /// The compiled pattern of `entry`, or `None` when the entry is a literal.
    fn pattern_of(&self, entry: usize, hint: &mut usize) -> Option<&CompiledPattern> {
        let pos = self.patterns[*hint..]
            .binary_search_by_key(&entry, |p| p.entry)
            .ok()?;
        *hint += pos;
        Some(&self.patterns[*hint])
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lists::{ListKind, ListSet};

    fn rev_host(content: &str) -> (ListSet, Vec<crate::lists::Diagnostic>) {
        let mut set = ListSet::default();
        let diags = set.parse_into(ListKind::RevHost, Path::new("r.lst"), content.as_bytes());
        (set, diags)
    }

    #[test]
    fn one_budget_for_every_pattern_of_a_value() {
        let hostile = ".-.-.-.-.-.-.-.-.-.-%d\n".repeat(5);
        let (set, diags) = rev_host(&format!("{hostile}'{}\n", "a".repeat(200)));
        assert_eq!(diags.len(), 5, "{diags:?}");
        assert!(diags.iter().all(|d| d.message.contains("is expensive")));
        let list = &set.rev_host;
        assert!(list.worst_case_steps() > 5 * EXPENSIVE_STEPS);
        let mut budget = Budget::new(1_500_000);
        let mut failures = Vec::new();
        let value = "a".repeat(200);
        // The literal on the last line still matches after the budget ran out.
        let hit = list.find(value.as_bytes(), &mut budget, &mut failures);
        assert_eq!(hit.map(|e| e.line), Some(6));
        assert!(budget.is_exhausted());
        assert_eq!(budget.spent(), 1_500_000);
        // The first pattern failed on its own (its own 1,000,000 steps), once.
        assert_eq!(failures.len(), 1);
        assert!(failures[0].first);
        let mut again = Vec::new();
        list.find(value.as_bytes(), &mut Budget::new(1_500_000), &mut again);
        assert_eq!(again.len(), 1);
        assert!(!again[0].first, "logged once per load");
    }

    #[test]
    fn cheap_patterns_are_not_warned_and_spend_little() {
        let (set, diags) = rev_host("^mail%d+%.example%.com$\n.*dyn.*\n%.dsl%.example%.net$\n");
        assert!(diags.is_empty(), "{diags:?}");
        let mut budget = Budget::new(1_000_000);
        let hit = set
            .rev_host
            .find(b"host-1.dyn.example.net", &mut budget, &mut Vec::new());
        assert_eq!(hit.map(|e| e.line), Some(2));
        assert!(budget.spent() < 2_000, "{}", budget.spent());
    }
}
