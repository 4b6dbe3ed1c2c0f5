//! What a successful match returns: captures and `string.find`'s result.

/// One value returned by `string.match` (or a capture returned by
/// `string.find`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capture {
    /// A substring of the subject: bytes `start..end` (0-based, half-open).
    Span {
        /// First byte, 0-based.
        start: usize,
        /// One past the last byte.
        end: usize,
    },
    /// A position capture `()`: the 1-based position, as Lua returns it.
    Position(usize),
}

impl Capture {
    /// The captured bytes of `subject`, or `None` for a position capture
    /// (or a span that does not fit `subject`).
    pub fn bytes<'s>(&self, subject: &'s [u8]) -> Option<&'s [u8]> {
        match *self {
            Capture::Span { start, end } => subject.get(start..end),
            Capture::Position(_) => None,
        }
    }
}

/// The result of `string.find`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Found {
    /// 1-based position of the first byte of the match.
    pub start: usize,
    /// 1-based position of the last byte (`start - 1` for an empty match).
    pub end: usize,
    /// The pattern's captures (empty when it has none).
    pub captures: Vec<Capture>,
}
