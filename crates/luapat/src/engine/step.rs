//! One step of Lua's `match` (the body between two `goto init`s) and the
//! non-recursive helpers it uses: `singlematch`, `matchbalance`, back-
//! references (`match_capture`), `%f` and the greedy count of `max_expand`.
//! Reads past either end go through [`byte_at`], which yields C's NUL.

use super::{CapLen, MatchState, MAX_CAPTURES};
use crate::class::{byte_at, class_accepts, class_end, match_bracket_class, ESC};
use crate::error::{MatchError, PatternError};

/// What one non-recursive step of `match` decided.
#[derive(Debug, Clone, Copy)]
pub(super) enum Next {
    /// Continue at these subject and pattern positions (C's `goto init`).
    Goto(usize, usize),
    /// The answer of this call.
    Done(Option<usize>),
    /// Open a capture of this kind, then match from this pattern position.
    Capture(CapLen, usize),
    /// Close capture `l`, then match from the next pattern position.
    Close(usize),
    /// `x?` whose `x` matched; the quantifier is at this index.
    Optional(usize),
    /// `x*` or `x+`: repeat greedily from this subject position; quantifier
    /// index.
    MaxExpand(usize, usize),
    /// `x-`; quantifier index.
    MinExpand(usize),
}

impl MatchState<'_> {
    /// Does the subject byte at `s` match the class at `p..ep`?
    pub(super) fn single_match(
        &mut self,
        s: usize,
        p: usize,
        ep: usize,
    ) -> Result<bool, MatchError> {
        self.tick(1)?;
        let Some(&c) = self.src.get(s) else {
            return Ok(false);
        };
        Ok(class_accepts(c, self.pat, p, ep))
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

    /// How many subject bytes from `s` on match the class at `p..ep`
    /// (the greedy part of Lua's `max_expand`).
    pub(super) fn count_repeats(
        &mut self,
        s: usize,
        p: usize,
        ep: usize,
    ) -> Result<usize, MatchError> {
        let mut i = 0usize;
        while self.single_match(s + i, p, ep)? {
            i += 1;
        }
        Ok(i)
    }

    /// One step of `match` at pattern position `p`, subject position `s`,
    /// without recursing: either the next positions (C's `goto init`), a
    /// final answer, or which recursive case [`MatchState::do_match`] runs.
    pub(super) fn step(&mut self, s: usize, p: usize) -> Result<Next, MatchError> {
        let Some(&pc) = self.pat.get(p) else {
            return Ok(Next::Done(Some(s)));
        };
        match pc {
            b'(' => {
                if self.level >= MAX_CAPTURES {
                    return Err(PatternError::TooManyCaptures.into());
                }
                return Ok(if byte_at(self.pat, p + 1) == b')' {
                    Next::Capture(CapLen::Position, p + 2)
                } else {
                    Next::Capture(CapLen::Unfinished, p + 1)
                });
            }
            b')' => return Ok(Next::Close(self.capture_to_close()?)),
            b'$' if p + 1 == self.pat.len() => {
                return Ok(Next::Done((s == self.src.len()).then_some(s)));
            }
            ESC => match byte_at(self.pat, p + 1) {
                b'b' => {
                    return Ok(match self.match_balance(s, p + 2)? {
                        Some(next) => Next::Goto(next, p + 4),
                        None => Next::Done(None),
                    });
                }
                b'f' => return self.frontier(s, p + 2),
                digit @ b'0'..=b'9' => {
                    return Ok(match self.match_capture(s, digit)? {
                        Some(next) => Next::Goto(next, p + 2),
                        None => Next::Done(None),
                    });
                }
                _ => {}
            },
            _ => {}
        }
        // Default: a single-character class, maybe with a quantifier.
        let ep = class_end(self.pat, p)?;
        let quantifier = if ep < self.pat.len() {
            byte_at(self.pat, ep)
        } else {
            0
        };
        if !self.single_match(s, p, ep)? {
            return Ok(if matches!(quantifier, b'*' | b'?' | b'-') {
                Next::Goto(s, ep + 1)
            } else {
                Next::Done(None)
            });
        }
        Ok(match quantifier {
            b'?' => Next::Optional(ep),
            b'+' => Next::MaxExpand(s + 1, ep),
            b'*' => Next::MaxExpand(s, ep),
            b'-' => Next::MinExpand(ep),
            _ => Next::Goto(s + 1, ep),
        })
    }

    /// `%f[set]` with the `[` at `p`.
    fn frontier(&mut self, s: usize, p: usize) -> Result<Next, MatchError> {
        if byte_at(self.pat, p) != b'[' {
            return Err(PatternError::FrontierWithoutSet.into());
        }
        let ep = class_end(self.pat, p)?;
        self.tick(1)?;
        // Before the subject C uses '\0' explicitly; after it, C reads the
        // string's terminating NUL: `byte_at` gives 0 there too.
        let previous = if s == 0 { 0 } else { byte_at(self.src, s - 1) };
        let current = byte_at(self.src, s);
        Ok(
            if !match_bracket_class(previous, self.pat, p, ep - 1)
                && match_bracket_class(current, self.pat, p, ep - 1)
            {
                Next::Goto(s, ep)
            } else {
                Next::Done(None)
            },
        )
    }
}
