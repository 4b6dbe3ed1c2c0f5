//! Work bounds for one match call: Lua's recursion depth limit and our own
//! step budget, and [`Budget`], one budget shared by several calls.

use crate::error::MatchError;

/// Lua's `MAXCCALLS`: how deeply the matcher may recurse before it raises
/// "pattern too complex".
pub const LUA_MAX_DEPTH: u32 = 200;

/// Default step budget. One step is one single-character test, one matcher
/// call, one start position or one byte compared by a back-reference; a
/// million of them cost a few milliseconds (see the `match` benchmark).
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// Bounds on the work of one call (`find`, `match`, `matches_whole`), counted
/// across all start positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Nested matcher calls allowed per start position (Lua: 200). Exceeding
    /// it gives [`crate::MatchError::TooComplex`], exactly where Lua would.
    pub max_depth: u32,
    /// Steps allowed per call. Exceeding it gives
    /// [`crate::MatchError::TooExpensive`], never a match.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: LUA_MAX_DEPTH,
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

/// A step budget shared by several match calls (e.g. every pattern tried for one
/// login): each call spends from it, and a call that would need more than what is left
/// fails with [`crate::MatchError::TooExpensive`] and leaves the budget exhausted.
///
/// A call never spends more than its own [`Limits::max_steps`] either, so one pattern
/// cannot take more than its share when the budget is larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    left: u64,
    spent: u64,
    ran_out: bool,
}

impl Budget {
    /// A budget of `steps` steps.
    pub fn new(steps: u64) -> Budget {
        Budget {
            left: steps,
            spent: 0,
            ran_out: false,
        }
    }

    /// Steps still available.
    pub fn remaining(&self) -> u64 {
        self.left
    }

    /// Steps spent so far (a failed call counts everything it was allowed).
    pub fn spent(&self) -> u64 {
        self.spent
    }

    /// A call was stopped because this budget ran out (not because of its own
    /// [`Limits::max_steps`]): every further call fails at once.
    pub fn is_exhausted(&self) -> bool {
        self.ran_out
    }

    /// Lets a call of `limits` spend from this budget: `run` gets the steps it may
    /// spend and leaves in them what it did not spend.
    pub(crate) fn spend<T>(
        &mut self,
        limits: &Limits,
        run: impl FnOnce(&mut u64) -> Result<T, MatchError>,
    ) -> Result<T, MatchError> {
        if self.ran_out {
            return Err(MatchError::TooExpensive);
        }
        let allowed = self.left.min(limits.max_steps);
        let mut steps = allowed;
        let out = run(&mut steps);
        let used = allowed.saturating_sub(steps);
        self.left -= used;
        self.spent = self.spent.saturating_add(used);
        if matches!(out, Err(MatchError::TooExpensive)) && allowed == used && self.left == 0 {
            self.ran_out = true;
        }
        out
    }
}
