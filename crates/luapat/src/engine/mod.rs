//! The matching machine: a port of `match` and its helpers from Lua 5.4's
//! `lstrlib.c` over byte indices. [`MatchState`] holds what C's
//! `MatchState` holds plus our step budget; `step` ports the body of
//! `match` and its non-recursive helpers; `backtrack` runs the recursion of
//! `match` on an explicit stack, so the Rust stack never grows with the
//! pattern, while depth is counted exactly as C's `matchdepth`.

mod backtrack;
mod step;

use crate::capture::Capture;
use crate::error::{MatchError, PatternError};

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
    /// Activations of `match` waiting for a nested call (C's call stack).
    stack: Vec<backtrack::Frame>,
    max_depth: u32,
    steps_left: u64,
}

impl<'a> MatchState<'a> {
    /// A state for matching `pat` (already without a leading `^` anchor)
    /// against `src`, with `max_depth` nested calls and `steps` steps.
    pub(crate) fn new(src: &'a [u8], pat: &'a [u8], max_depth: u32, steps: u64) -> Self {
        MatchState {
            src,
            pat,
            level: 0,
            capture: [CapSlot {
                init: 0,
                len: CapLen::Unfinished,
            }; MAX_CAPTURES],
            stack: Vec::new(),
            max_depth,
            steps_left: steps,
        }
    }

    /// The steps not spent yet.
    pub(crate) fn steps_left(&self) -> u64 {
        self.steps_left
    }

    /// Reset captures and depth before trying a new start position (Lua's
    /// `reprepstate`); the step budget is not reset.
    pub(crate) fn reset(&mut self) {
        self.level = 0;
        self.stack.clear();
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
}
