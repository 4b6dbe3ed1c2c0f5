//! [`Pattern`]: a pattern validated once, eagerly, and matched many times
//! with precomputed hints and configurable [`Limits`].

use std::fmt;

use crate::capture::{Capture, Found};
use crate::error::{MatchError, PatternError};
use crate::limits::{Budget, Limits};
use crate::search::{find_aux, find_aux_spending, to_found, Hints, Mode, RawMatch};
use crate::validate::validate;

/// A compiled Lua pattern.
///
/// [`Pattern::compile`] rejects every pattern for which Lua could raise a
/// pattern error on some subject, so matching a `Pattern` can only fail with
/// [`MatchError::TooComplex`] or [`MatchError::TooExpensive`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    source: Vec<u8>,
    anchored: bool,
    captures: usize,
    prefix: Vec<u8>,
    limits: Limits,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pattern")
            .field("source", &String::from_utf8_lossy(&self.source))
            .field("anchored", &self.anchored)
            .field("captures", &self.captures)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Pattern {
    /// Validate `source` completely and keep it with default [`Limits`].
    pub fn compile(source: &[u8]) -> Result<Pattern, PatternError> {
        let (anchored, body) = match source.split_first() {
            Some((b'^', body)) => (true, body),
            _ => (false, source),
        };
        let shape = validate(body)?;
        Ok(Pattern {
            source: source.to_vec(),
            anchored,
            captures: shape.captures,
            prefix: shape.prefix,
            limits: Limits::default(),
        })
    }

    /// The same pattern with other limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Pattern {
        self.limits = limits;
        self
    }

    /// The limits used by the matching methods.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The pattern as given to [`Pattern::compile`].
    pub fn as_bytes(&self) -> &[u8] {
        &self.source
    }

    /// Does the pattern start with the `^` anchor?
    pub fn is_anchored(&self) -> bool {
        self.anchored
    }

    /// Number of captures, position captures included.
    pub fn capture_count(&self) -> usize {
        self.captures
    }

    fn hints(&self) -> Hints<'_> {
        Hints {
            prefix: &self.prefix,
        }
    }

    fn run(&self, subject: &[u8], mode: Mode) -> Result<Option<RawMatch>, MatchError> {
        find_aux(&self.source, subject, 0, mode, &self.limits, self.hints())
    }

    /// A few subjects of `len` bytes built from the bytes this pattern's classes
    /// accept, on which a bad worst case shows (see [`Pattern::matches_whole_within`]
    /// to measure the steps). A cheap answer on them is no proof of a cheap pattern.
    pub fn adversarial_subjects(&self, len: usize) -> Vec<Vec<u8>> {
        let body = if self.anchored {
            self.source.get(1..).unwrap_or_default()
        } else {
            &self.source[..]
        };
        crate::worst::adversarial_subjects(body, len)
    }

    /// `string.find(subject, pattern)`.
    pub fn find(&self, subject: &[u8]) -> Result<Option<Found>, MatchError> {
        Ok(self.run(subject, Mode::Find)?.map(to_found))
    }

    /// `string.match(subject, pattern)`: the captures, or the whole match
    /// when the pattern has none.
    pub fn match_captures(&self, subject: &[u8]) -> Result<Option<Vec<Capture>>, MatchError> {
        Ok(self.run(subject, Mode::Match)?.map(|m| m.values))
    }

    /// The whole-match rule: `string.match(subject, pattern) == subject`.
    ///
    /// True when the first value `string.match` returns is a string equal to
    /// the whole subject: the whole match for a pattern without captures,
    /// otherwise the first capture. A position capture is a number in Lua
    /// and never equals a string, so it gives `false`.
    pub fn matches_whole(&self, subject: &[u8]) -> Result<bool, MatchError> {
        Ok(is_whole(subject, self.run(subject, Mode::Match)?))
    }

    /// [`Pattern::matches_whole`] spending its steps from a `budget` shared with
    /// other calls (and at most this pattern's own [`Limits::max_steps`]).
    ///
    /// When the budget runs out the answer is [`MatchError::TooExpensive`] and
    /// [`Budget::is_exhausted`] is true; otherwise the answer is exactly that of
    /// [`Pattern::matches_whole`].
    pub fn matches_whole_within(
        &self,
        subject: &[u8],
        budget: &mut Budget,
    ) -> Result<bool, MatchError> {
        let found = budget.spend(&self.limits, |steps| {
            let depth = self.limits.max_depth;
            find_aux_spending(
                &self.source,
                subject,
                0,
                Mode::Match,
                depth,
                steps,
                self.hints(),
            )
        })?;
        Ok(is_whole(subject, found))
    }
}

/// The whole-match rule on the first match (see [`Pattern::matches_whole`]).
fn is_whole(subject: &[u8], found: Option<RawMatch>) -> bool {
    let Some(m) = found else {
        return false;
    };
    match m.values.first() {
        Some(Capture::Span { start, end }) => subject.get(*start..*end) == Some(subject),
        Some(Capture::Position(_)) | None => false,
    }
}

impl TryFrom<&str> for Pattern {
    type Error = PatternError;

    fn try_from(source: &str) -> Result<Self, Self::Error> {
        Pattern::compile(source.as_bytes())
    }
}
