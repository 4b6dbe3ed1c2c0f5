//! Error types: [`PatternError`] for malformed patterns (Lua's own messages,
//! byte for byte) and [`MatchError`] for everything a match attempt can fail
//! with (a pattern error reached lazily, Lua's depth limit, or our step budget).

use thiserror::Error;

/// A malformed pattern. The `Display` text is exactly the message that
/// `lua5.4` raises for the same defect (e.g. from `pcall(string.match, s, p)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum PatternError {
    /// The pattern ends with a lone `%`.
    #[error("malformed pattern (ends with '%')")]
    EndsWithPercent,
    /// A set `[...]` is never closed.
    #[error("malformed pattern (missing ']')")]
    MissingBracket,
    /// `%f` is not followed by a set.
    #[error("missing '[' after '%f' in pattern")]
    FrontierWithoutSet,
    /// `%b` is not followed by two characters.
    #[error("malformed pattern (missing arguments to '%b')")]
    BalanceWithoutArgs,
    /// A back-reference `%0`..`%9` names no closed capture. The payload is
    /// the digit as written (0..=9), as Lua prints it.
    #[error("invalid capture index %{0}")]
    InvalidCaptureIndex(u8),
    /// A `)` closes no open capture.
    #[error("invalid pattern capture")]
    InvalidPatternCapture,
    /// A capture is still open when the match succeeds.
    #[error("unfinished capture")]
    UnfinishedCapture,
    /// More than [`crate::MAX_CAPTURES`] captures.
    #[error("too many captures")]
    TooManyCaptures,
}

/// Why a match attempt produced no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum MatchError {
    /// The matcher reached a malformed part of the pattern.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The recursion depth limit (Lua's `MAXCCALLS`, 200) was exceeded.
    #[error("pattern too complex")]
    TooComplex,
    /// The step budget of [`crate::Limits::max_steps`] was used up. This is
    /// our own bound, not a Lua error: Lua would keep going.
    #[error("pattern too expensive (step budget exceeded)")]
    TooExpensive,
}
