//! The recursion of Lua's `match`, run on an explicit stack.
//!
//! In C, `match` calls itself for captures, `?`, `max_expand` and
//! `min_expand`, and each call costs one unit of `matchdepth`; everything
//! else is a `goto init` that costs nothing. Here each waiting activation is
//! a [`Frame`] on a `Vec`, so the number of activations is `stack.len() + 1`
//! and "pattern too complex" is raised exactly when C raises it, while the
//! Rust stack stays flat whatever the pattern.

use super::step::Next;
use super::{CapLen, CapSlot, MatchState};
use crate::error::{MatchError, PatternError};

/// An activation of `match` waiting for the nested call it made, with what
/// it does when that call fails. (When a nested call succeeds, every waiting
/// activation in C just returns its result unchanged.)
#[derive(Debug, Clone, Copy)]
pub(crate) enum Frame {
    /// `start_capture`: on failure, drop the capture it opened.
    Capture,
    /// `end_capture` of capture `l`: on failure, reopen it.
    Close(usize),
    /// `x?` after `x` matched at `s`: on failure, go on without it at the
    /// pattern index after the quantifier at `ep`.
    Optional { s: usize, ep: usize },
    /// `max_expand`: tried with `i` repeats from `from`; on failure, retry
    /// with one fewer.
    MaxExpand { from: usize, i: usize, ep: usize },
    /// `min_expand` at subject `s`, class at `p..ep`: on failure, take one
    /// more repeat if the class matches.
    MinExpand { s: usize, p: usize, ep: usize },
}

/// What an activation did: returned, or called `match` nested (its frame is
/// then on the stack).
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Return(Option<usize>),
    Call(usize, usize),
}

impl MatchState<'_> {
    /// Lua's `match(ms, s, p)` from the top: the end of the match, or `None`.
    pub(crate) fn do_match(&mut self, s: usize, p: usize) -> Result<Option<usize>, MatchError> {
        self.stack.clear();
        let mut outcome = self.enter(s, p)?;
        loop {
            match outcome {
                Outcome::Call(s, p) => {
                    outcome = self.enter(s, p)?;
                    continue;
                }
                Outcome::Return(Some(end)) => return Ok(Some(end)),
                Outcome::Return(None) => {}
            }
            // The nested call failed: resume the activation waiting for it.
            let Some(frame) = self.stack.pop() else {
                return Ok(None);
            };
            outcome = self.resume(frame)?;
        }
    }

    /// Start a new activation of `match` (C's function entry).
    fn enter(&mut self, s: usize, p: usize) -> Result<Outcome, MatchError> {
        if self.stack.len() >= self.max_depth as usize {
            return Err(MatchError::TooComplex);
        }
        self.tick(1)?;
        self.run(s, p)
    }

    /// Continue an activation whose nested call failed.
    fn resume(&mut self, frame: Frame) -> Result<Outcome, MatchError> {
        Ok(match frame {
            Frame::Capture => {
                self.level -= 1;
                Outcome::Return(None)
            }
            Frame::Close(l) => {
                if let Some(slot) = self.capture.get_mut(l) {
                    slot.len = CapLen::Unfinished;
                }
                Outcome::Return(None)
            }
            Frame::Optional { s, ep } => self.run(s, ep + 1)?,
            Frame::MaxExpand { from, i, ep } => match i.checked_sub(1) {
                Some(fewer) => self.call(
                    Frame::MaxExpand { from, i: fewer, ep },
                    from + fewer,
                    ep + 1,
                ),
                None => Outcome::Return(None),
            },
            Frame::MinExpand { s, p, ep } => {
                if self.single_match(s, p, ep)? {
                    self.call(Frame::MinExpand { s: s + 1, p, ep }, s + 1, ep + 1)
                } else {
                    Outcome::Return(None)
                }
            }
        })
    }

    /// Wait in `frame` for a nested `match(s, p)`.
    fn call(&mut self, frame: Frame, s: usize, p: usize) -> Outcome {
        self.stack.push(frame);
        Outcome::Call(s, p)
    }

    /// Run one activation from `(s, p)` through its `goto init`s until it
    /// returns or makes a nested call.
    fn run(&mut self, mut s: usize, mut p: usize) -> Result<Outcome, MatchError> {
        loop {
            return Ok(match self.step(s, p)? {
                Next::Goto(next_s, next_p) => {
                    (s, p) = (next_s, next_p);
                    continue;
                }
                Next::Done(res) => Outcome::Return(res),
                Next::Capture(what, next_p) => {
                    let slot = self
                        .capture
                        .get_mut(self.level)
                        .ok_or(PatternError::TooManyCaptures)?;
                    *slot = CapSlot { init: s, len: what };
                    self.level += 1;
                    self.call(Frame::Capture, s, next_p)
                }
                Next::Close(l) => {
                    let slot = self
                        .capture
                        .get_mut(l)
                        .ok_or(PatternError::InvalidPatternCapture)?;
                    slot.len = CapLen::Len(s - slot.init);
                    self.call(Frame::Close(l), s, p + 1)
                }
                Next::Optional(ep) => self.call(Frame::Optional { s, ep }, s + 1, ep + 1),
                Next::MaxExpand(from, ep) => {
                    let i = self.count_repeats(from, p, ep)?;
                    self.call(Frame::MaxExpand { from, i, ep }, from + i, ep + 1)
                }
                Next::MinExpand(ep) => self.call(Frame::MinExpand { s, p, ep }, s, ep + 1),
            });
        }
    }
}
