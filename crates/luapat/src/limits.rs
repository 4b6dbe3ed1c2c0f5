//! Work bounds for one match call: Lua's recursion depth limit and our own
//! step budget.

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
