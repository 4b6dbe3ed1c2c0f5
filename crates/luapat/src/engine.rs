//! The matching machine: a port of `match` and its helpers from Lua 5.4's
//! `lstrlib.c` (`singlematch`, `matchbalance`, `max_expand`, `min_expand`,
//! captures and back-references), over byte indices, with a recursion depth
//! limit like Lua's and a step budget of our own.
//!
//! Lua's `goto init` tail calls are a loop here, so they consume no depth,
//! exactly as in C; every real recursion goes through [`MatchState::do_match`],
//! which counts depth like C's `matchdepth`.

use crate::capture::Capture;
use crate::class::{byte_at, class_end, match_bracket_class, match_class, ESC};
use crate::error::{MatchError, PatternError};
use crate::limits::Limits;

/// Lua's `LUA_MAXCAPTURES`.
pub const MAX_CAPTURES: usize = 32;

/// The state of one capture slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CapLen {
    /// Opened by `(`, not yet closed.
    Unfinished,
    /// A position capture `()`.
    Position,
    /// A closed capture of this many bytes.
    Len(usize),
}

#[derive(Debug, Clone, Copy)]
struct CapSlot {
    init: usize,
    len: CapLen,
}

/// Everything one match attempt needs (Lua's `MatchState`).
pub(crate) struct MatchState<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    level: usize,
    capture: [CapSlot; MAX_CAPTURES],
    max_depth: u32,
    depth_left: u32,
    steps_left: u64,
}

impl<'a> MatchState<'a> {
    /// A state for matching `pat` (already without a leading `^` anchor)
    /// against `src`.
    pub(crate) fn new(src: &'a [u8], pat: &'a [u8], limits: &Limits) -> Self {
        MatchState {
            src,
            pat,
            level: 0,
            capture: [CapSlot {
                init: 0,
                len: CapLen::Unfinished,
            }; MAX_CAPTURES],
            max_depth: limits.max_depth,
            depth_left: limits.max_depth,
            steps_left: limits.max_steps,
        }
    }

    /// Reset captures and depth before trying a new start position (Lua's
    /// `reprepstate`); the step budget is not reset.
    pub(crate) fn reset(&mut self) {
        self.level = 0;
        self.depth_left = self.max_depth;
    }

    /// Spend `n` steps of the budget.
    #[inline]
    pub(crate) fn tick(&mut self, n: u64) -> Result<(), MatchError> {
        match self.steps_left.checked_sub(n) {
            Some(left) => {
                self.steps_left = left;
                Ok(())
            }
            None => {
                self.steps_left = 0;
                Err(MatchError::TooExpensive)
            }
        }
    }

    /// The captures of the last successful match, as Lua pushes them.
    /// An unclosed capture is Lua's "unfinished capture" error.
    pub(crate) fn captures(&self) -> Result<Vec<Capture>, MatchError> {
        self.capture
            .iter()
            .take(self.level)
            .map(|slot| match slot.len {
                CapLen::Unfinished => Err(PatternError::UnfinishedCapture.into()),
                CapLen::Position => Ok(Capture::Position(slot.init + 1)),
                CapLen::Len(len) => Ok(Capture::Span {
                    start: slot.init,
                    end: slot.init + len,
                }),
            })
            .collect()
    }

    /// Does the subject byte at `s` match the class at `p..ep`?
    fn single_match(&mut self, s: usize, p: usize, ep: usize) -> Result<bool, MatchError> {
        self.tick(1)?;
        let Some(&c) = self.src.get(s) else {
            return Ok(false);
        };
        Ok(match byte_at(self.pat, p) {
            b'.' => true,
            ESC => match_class(c, byte_at(self.pat, p + 1)),
            b'[' => match_bracket_class(c, self.pat, p, ep.saturating_sub(1)),
            lit => lit == c,
        })
    }

    /// `%bxy` with `x` at `p`: the end of a balanced run starting at `s`.
    fn match_balance(&mut self, s: usize, p: usize) -> Result<Option<usize>, MatchError> {
        if p + 1 >= self.pat.len() {
            return Err(PatternError::BalanceWithoutArgs.into());
        }
        let open = byte_at(self.pat, p);
        let close = byte_at(self.pat, p + 1);
        if self.src.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut depth = 1usize;
        let mut i = s + 1;
        while let Some(&c) = self.src.get(i) {
            self.tick(1)?;
            if c == close {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some(i + 1));
                }
            } else if c == open {
                depth += 1;
            }
            i += 1;
        }
        Ok(None)
    }

    /// Greedy repetition (`*`, and `+` after its first character).
    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> Result<Option<usize>, MatchError> {
        let mut i = 0usize;
        while self.single_match(s + i, p, ep)? {
            i += 1;
        }
        loop {
            if let Some(res) = self.do_match(s + i, ep + 1)? {
                return Ok(Some(res));
            }
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
        }
    }

    /// Lazy repetition (`-`).
    fn min_expand(&mut self, s: usize, p: usize, ep: usize) -> Result<Option<usize>, MatchError> {
        let mut s = s;
        loop {
            if let Some(res) = self.do_match(s, ep + 1)? {
                return Ok(Some(res));
            }
            if self.single_match(s, p, ep)? {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, what: CapLen) -> Result<Option<usize>, MatchError> {
        let level = self.level;
        let Some(slot) = self.capture.get_mut(level) else {
            return Err(PatternError::TooManyCaptures.into());
        };
        *slot = CapSlot { init: s, len: what };
        self.level = level + 1;
        let res = self.do_match(s, p)?;
        if res.is_none() {
            self.level -= 1;
        }
        Ok(res)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> Result<Option<usize>, MatchError> {
        let l = self.capture_to_close()?;
        let init = self.capture[l].init;
        self.capture[l].len = CapLen::Len(s - init);
        let res = self.do_match(s, p)?;
        if res.is_none() {
            self.capture[l].len = CapLen::Unfinished;
        }
        Ok(res)
    }

    /// The innermost open capture, which a `)` closes.
    fn capture_to_close(&self) -> Result<usize, MatchError> {
        (0..self.level)
            .rev()
            .find(|&l| self.capture[l].len == CapLen::Unfinished)
            .ok_or(MatchError::Pattern(PatternError::InvalidPatternCapture))
    }

    /// A back-reference `%digit` at subject position `s`.
    fn match_capture(&mut self, s: usize, digit: u8) -> Result<Option<usize>, MatchError> {
        let invalid = PatternError::InvalidCaptureIndex(digit.wrapping_sub(b'0'));
        let Some(l) = usize::from(digit).checked_sub(usize::from(b'1')) else {
            return Err(invalid.into());
        };
        if l >= self.level {
            return Err(invalid.into());
        }
        let slot = self.capture[l];
        let len = match slot.len {
            CapLen::Unfinished => return Err(invalid.into()),
            // In C the length -2 becomes a huge unsigned size: never matches.
            CapLen::Position => return Ok(None),
            CapLen::Len(len) => len,
        };
        self.tick(len as u64)?;
        let captured = self.src.get(slot.init..slot.init + len);
        let here = self.src.get(s..).and_then(|rest| rest.get(..len));
        Ok(match (captured, here) {
            (Some(a), Some(b)) if a == b => Some(s + len),
            _ => None,
        })
    }

    /// Lua's `match`: try to match the pattern from `p` on at subject
    /// position `s`; the end of the match, or `None`.
    pub(crate) fn do_match(&mut self, s: usize, p: usize) -> Result<Option<usize>, MatchError> {
        if self.depth_left == 0 {
            return Err(MatchError::TooComplex);
        }
        self.depth_left -= 1;
        self.tick(1)?;
        let res = self.match_loop(s, p)?;
        self.depth_left += 1;
        Ok(res)
    }

    /// The body of `match`; `continue` is C's `goto init`.
    fn match_loop(&mut self, mut s: usize, mut p: usize) -> Result<Option<usize>, MatchError> {
        loop {
            let Some(&pc) = self.pat.get(p) else {
                return Ok(Some(s));
            };
            match pc {
                b'(' => {
                    return if byte_at(self.pat, p + 1) == b')' {
                        self.start_capture(s, p + 2, CapLen::Position)
                    } else {
                        self.start_capture(s, p + 1, CapLen::Unfinished)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                b'$' if p + 1 == self.pat.len() => {
                    return Ok((s == self.src.len()).then_some(s));
                }
                ESC => match byte_at(self.pat, p + 1) {
                    b'b' => {
                        match self.match_balance(s, p + 2)? {
                            Some(next) => {
                                s = next;
                                p += 4;
                                continue;
                            }
                            None => return Ok(None),
                        };
                    }
                    b'f' => {
                        p += 2;
                        if byte_at(self.pat, p) != b'[' {
                            return Err(PatternError::FrontierWithoutSet.into());
                        }
                        let ep = class_end(self.pat, p)?;
                        self.tick(1)?;
                        let previous = if s == 0 { 0 } else { byte_at(self.src, s - 1) };
                        let current = byte_at(self.src, s);
                        if !match_bracket_class(previous, self.pat, p, ep - 1)
                            && match_bracket_class(current, self.pat, p, ep - 1)
                        {
                            p = ep;
                            continue;
                        }
                        return Ok(None);
                    }
                    digit @ b'0'..=b'9' => match self.match_capture(s, digit)? {
                        Some(next) => {
                            s = next;
                            p += 2;
                            continue;
                        }
                        None => return Ok(None),
                    },
                    _ => {}
                },
                _ => {}
            }
            // Default: a single-character class, maybe with a quantifier.
            let ep = class_end(self.pat, p)?;
            let quantifier = byte_at(self.pat, ep);
            if !self.single_match(s, p, ep)? {
                if matches!(quantifier, b'*' | b'?' | b'-') && ep < self.pat.len() {
                    p = ep + 1;
                    continue;
                }
                return Ok(None);
            }
            if ep >= self.pat.len() {
                s += 1;
                p = ep;
                continue;
            }
            match quantifier {
                b'?' => match self.do_match(s + 1, ep + 1)? {
                    Some(res) => return Ok(Some(res)),
                    None => {
                        p = ep + 1;
                        continue;
                    }
                },
                b'+' => return self.max_expand(s + 1, p, ep),
                b'*' => return self.max_expand(s, p, ep),
                b'-' => return self.min_expand(s, p, ep),
                _ => {
                    s += 1;
                    p = ep;
                }
            }
        }
    }
}
