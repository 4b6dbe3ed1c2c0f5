//! The search driver (Lua's `str_find_aux`): start positions, the `^`
//! anchor, `string.find`'s plain search for patterns without special
//! characters, and how results are returned. Also the raw, lazily checked
//! entry points [`lua_match`] and [`lua_find`].

use crate::capture::{Capture, Found};
use crate::engine::MatchState;
use crate::error::MatchError;
use crate::limits::Limits;

/// Lua's `SPECIALS`: a pattern with none of these is searched as plain text
/// by `string.find`.
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// True when `string.find` would search `pattern` as plain text.
pub(crate) fn no_specials(pattern: &[u8]) -> bool {
    !pattern.iter().any(|b| SPECIALS.contains(b))
}

/// First occurrence of `needle` in `hay` (empty needle: at 0).
fn plain_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Which Lua function is being emulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `string.find`: positions plus captures, plain search when possible.
    Find,
    /// `string.match`: captures, or the whole match when there are none.
    Match,
}

/// One successful match: 0-based half-open bounds and Lua's return values
/// (without find's two positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawMatch {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) values: Vec<Capture>,
}

/// Options computed once by [`crate::Pattern`] to save work; `Default` is
/// what a raw call uses.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hints<'p> {
    /// Bytes every match must start with (literal items at the start of the
    /// pattern body). Start positions without them are skipped: Lua fails
    /// there on the first literal, without recursion or error.
    pub(crate) prefix: &'p [u8],
}

/// Lua's `posrelatI` then `- 1`: a 0-based start, or `None` when it lies
/// past the end of the subject (Lua returns fail without matching).
pub(crate) fn start_index(init: i64, len: usize) -> Option<usize> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let pos = if init > 0 {
        init
    } else if init == 0 || init < -len_i {
        1
    } else {
        len_i + init + 1
    };
    let start = usize::try_from(pos - 1).ok()?;
    (start <= len).then_some(start)
}

/// Lua's `str_find_aux` from 0-based `init`, with at most `limits.max_steps` steps.
pub(crate) fn find_aux(
    pattern: &[u8],
    subject: &[u8],
    init: usize,
    mode: Mode,
    limits: &Limits,
    hints: Hints<'_>,
) -> Result<Option<RawMatch>, MatchError> {
    let mut steps = limits.max_steps;
    find_aux_spending(
        pattern,
        subject,
        init,
        mode,
        limits.max_depth,
        &mut steps,
        hints,
    )
}

/// [`find_aux`] taking its steps from `steps` (what is left is written back, also on
/// error), so several calls can share one budget.
pub(crate) fn find_aux_spending(
    pattern: &[u8],
    subject: &[u8],
    init: usize,
    mode: Mode,
    max_depth: u32,
    steps: &mut u64,
    hints: Hints<'_>,
) -> Result<Option<RawMatch>, MatchError> {
    if init > subject.len() {
        return Ok(None);
    }
    if mode == Mode::Find && no_specials(pattern) {
        let rest = subject.get(init..).unwrap_or_default();
        return Ok(plain_find(rest, pattern).map(|at| RawMatch {
            start: init + at,
            end: init + at + pattern.len(),
            values: Vec::new(),
        }));
    }
    let (anchor, body) = match pattern.split_first() {
        Some((b'^', body)) => (true, body),
        _ => (false, pattern),
    };
    let mut ms = MatchState::new(subject, body, max_depth, *steps);
    let found = search_from(&mut ms, subject, init, anchor, mode, hints);
    *steps = ms.steps_left();
    found
}

/// The start-position loop of `str_find_aux`.
fn search_from(
    ms: &mut MatchState<'_>,
    subject: &[u8],
    init: usize,
    anchor: bool,
    mode: Mode,
    hints: Hints<'_>,
) -> Result<Option<RawMatch>, MatchError> {
    let mut s1 = init;
    loop {
        ms.tick(1)?;
        let candidate = subject
            .get(s1..)
            .is_some_and(|rest| rest.starts_with(hints.prefix));
        if candidate {
            ms.reset();
            if let Some(end) = ms.do_match(s1, 0)? {
                let mut values = ms.captures()?;
                if mode == Mode::Match && values.is_empty() {
                    values.push(Capture::Span { start: s1, end });
                }
                return Ok(Some(RawMatch {
                    start: s1,
                    end,
                    values,
                }));
            }
        }
        if anchor || s1 >= subject.len() {
            return Ok(None);
        }
        s1 += 1;
    }
}

/// Lua's 1-based `find` result from a raw match.
pub(crate) fn to_found(m: RawMatch) -> Found {
    Found {
        start: m.start + 1,
        end: m.end,
        captures: m.values,
    }
}

/// `string.match(subject, pattern)` with Lua's lazy error semantics: an
/// error in the pattern is reported only if the matcher reaches it.
///
/// Returns the captures, or the whole match as the single value when the
/// pattern has none; `Ok(None)` is Lua's `nil`.
pub fn lua_match(
    pattern: &[u8],
    subject: &[u8],
    limits: &Limits,
) -> Result<Option<Vec<Capture>>, MatchError> {
    lua_match_init(pattern, subject, 1, limits)
}

/// `string.match(subject, pattern, init)`; `init` is 1-based and may be
/// negative (counted from the end), as in Lua.
pub fn lua_match_init(
    pattern: &[u8],
    subject: &[u8],
    init: i64,
    limits: &Limits,
) -> Result<Option<Vec<Capture>>, MatchError> {
    let Some(start) = start_index(init, subject.len()) else {
        return Ok(None);
    };
    let found = find_aux(
        pattern,
        subject,
        start,
        Mode::Match,
        limits,
        Hints::default(),
    )?;
    Ok(found.map(|m| m.values))
}

/// `string.find(subject, pattern)` with Lua's lazy error semantics,
/// including the plain search for patterns without special characters.
pub fn lua_find(
    pattern: &[u8],
    subject: &[u8],
    limits: &Limits,
) -> Result<Option<Found>, MatchError> {
    lua_find_init(pattern, subject, 1, limits)
}

/// `string.find(subject, pattern, init)`; `init` is 1-based and may be
/// negative (counted from the end), as in Lua.
pub fn lua_find_init(
    pattern: &[u8],
    subject: &[u8],
    init: i64,
    limits: &Limits,
) -> Result<Option<Found>, MatchError> {
    let Some(start) = start_index(init, subject.len()) else {
        return Ok(None);
    };
    let found = find_aux(
        pattern,
        subject,
        start,
        Mode::Find,
        limits,
        Hints::default(),
    )?;
    Ok(found.map(to_found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_index_follows_posrelat() {
        assert_eq!(start_index(1, 3), Some(0));
        assert_eq!(start_index(0, 3), Some(0));
        assert_eq!(start_index(4, 3), Some(3));
        assert_eq!(start_index(5, 3), None);
        assert_eq!(start_index(-1, 3), Some(2));
        assert_eq!(start_index(-3, 3), Some(0));
        assert_eq!(start_index(-10, 3), Some(0));
    }

    #[test]
    fn specials() {
        assert!(no_specials(b"abc)]"));
        assert!(!no_specials(b"a\0b.c"));
        assert!(no_specials(b""));
    }
}
