//! Eager validation: walks a pattern body once, in the same order as the
//! matcher does, and reports the first error Lua could raise for some
//! subject. Also collects facts that [`crate::Pattern`] precomputes.
//!
//! The matcher only ever moves forward through the pattern, and whether a
//! capture is open or closed at a given pattern position does not depend on
//! the subject. So the errors the matcher can meet, and their order, are
//! known without a subject: the first one on this walk is the only pattern
//! error any subject can produce (besides "pattern too complex", a run-time
//! limit).

use crate::class::{byte_at, class_end, ESC};
use crate::engine::MAX_CAPTURES;
use crate::error::PatternError;

/// What validation learns about a pattern body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Number of captures (position captures included).
    pub(crate) captures: usize,
    /// Bytes every match starts with: the leading literal items that carry
    /// no quantifier.
    pub(crate) prefix: Vec<u8>,
}

/// Is the item at `p..ep` a plain literal byte? Returns that byte.
fn literal_item(body: &[u8], p: usize, ep: usize) -> Option<u8> {
    match byte_at(body, p) {
        b'(' | b')' | b'.' | b'[' | b'$' => None,
        ESC if ep == p + 2 => {
            let c = byte_at(body, p + 1);
            // Escaped non-alphanumerics always stand for themselves.
            (!c.is_ascii_alphanumeric()).then_some(c)
        }
        ESC => None,
        c => Some(c),
    }
}

/// Validate a pattern body (the pattern without its leading `^`).
pub(crate) fn validate(body: &[u8]) -> Result<Shape, PatternError> {
    // true = closed (or a position capture), false = still open.
    let mut closed: Vec<bool> = Vec::new();
    let mut prefix = Vec::new();
    let mut in_prefix = true;
    let mut p = 0usize;
    while p < body.len() {
        let pc = byte_at(body, p);
        let next = byte_at(body, p + 1);
        let special = match pc {
            b'(' => {
                if closed.len() >= MAX_CAPTURES {
                    return Err(PatternError::TooManyCaptures);
                }
                if next == b')' {
                    closed.push(true);
                    p += 2;
                } else {
                    closed.push(false);
                    p += 1;
                }
                true
            }
            b')' => {
                let open = closed.iter().rposition(|&c| !c);
                match open.and_then(|l| closed.get_mut(l)) {
                    Some(slot) => *slot = true,
                    None => return Err(PatternError::InvalidPatternCapture),
                }
                p += 1;
                true
            }
            b'$' if p + 1 == body.len() => {
                p += 1;
                true
            }
            ESC => match next {
                b'b' => {
                    if p + 3 >= body.len() {
                        return Err(PatternError::BalanceWithoutArgs);
                    }
                    p += 4;
                    true
                }
                b'f' => {
                    p += 2;
                    if byte_at(body, p) != b'[' {
                        return Err(PatternError::FrontierWithoutSet);
                    }
                    p = class_end(body, p)?;
                    true
                }
                d @ b'0'..=b'9' => {
                    let valid = usize::from(d)
                        .checked_sub(usize::from(b'1'))
                        .and_then(|l| closed.get(l))
                        .copied()
                        .unwrap_or(false);
                    if !valid {
                        return Err(PatternError::InvalidCaptureIndex(d - b'0'));
                    }
                    p += 2;
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if special {
            in_prefix = false;
            continue;
        }
        let ep = class_end(body, p)?;
        let quantified = ep < body.len() && matches!(byte_at(body, ep), b'*' | b'+' | b'?' | b'-');
        if in_prefix {
            match literal_item(body, p, ep) {
                Some(c) if !quantified => prefix.push(c),
                _ => in_prefix = false,
            }
        }
        p = if quantified { ep + 1 } else { ep };
    }
    if closed.iter().any(|&c| !c) {
        return Err(PatternError::UnfinishedCapture);
    }
    Ok(Shape {
        captures: closed.len(),
        prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_stops_at_first_non_literal() {
        assert_eq!(
            validate(b"mail%.example").map(|s| s.prefix),
            Ok(b"mail.example".to_vec())
        );
        assert_eq!(validate(b"ab*c").map(|s| s.prefix), Ok(b"a".to_vec()));
        assert_eq!(validate(b"%d+x").map(|s| s.prefix), Ok(Vec::new()));
        assert_eq!(validate(b"a(b)").map(|s| s.prefix), Ok(b"a".to_vec()));
        assert_eq!(validate(b"a$").map(|s| s.prefix), Ok(b"a".to_vec()));
        assert_eq!(validate(b"%Qx").map(|s| s.prefix), Ok(Vec::new()));
    }

    #[test]
    fn errors_in_walk_order() {
        assert_eq!(validate(b"(%1)"), Err(PatternError::InvalidCaptureIndex(1)));
        assert_eq!(
            validate(b"(a)%1"),
            Ok(Shape {
                captures: 1,
                prefix: Vec::new()
            })
        );
        assert_eq!(validate(b"()%1").map(|s| s.captures), Ok(1));
        assert_eq!(validate(b"(a"), Err(PatternError::UnfinishedCapture));
        assert_eq!(validate(b"a)"), Err(PatternError::InvalidPatternCapture));
        assert_eq!(validate(b"%bx"), Err(PatternError::BalanceWithoutArgs));
        assert_eq!(
            validate(b"%bxy*"),
            Ok(Shape {
                captures: 0,
                prefix: Vec::new()
            })
        );
        assert_eq!(validate(b"%fa"), Err(PatternError::FrontierWithoutSet));
        assert_eq!(validate(b"%f[a"), Err(PatternError::MissingBracket));
        assert_eq!(validate(b"x%"), Err(PatternError::EndsWithPercent));
        assert_eq!(validate(b"%0"), Err(PatternError::InvalidCaptureIndex(0)));
        let many = b"()".repeat(33);
        assert_eq!(validate(&many), Err(PatternError::TooManyCaptures));
        assert_eq!(validate(&many[..64]).map(|s| s.captures), Ok(32));
    }
}
