//! The literal text a Lua pattern requires at the start and at the end of a value it
//! matches *whole*: the prefilter that lets a long pattern list try only a few patterns.
//!
//! Under the contract's rule a pattern matches a value when the first value
//! `string.match` returns equals the whole value. Such a match starts at byte 1 and ends
//! at the last byte, so the pattern's leading unquantified literal characters must be the
//! value's prefix and its trailing ones the value's suffix. Captures are transparent here
//! (a first capture equal to the whole value spans the whole match). Anything this module
//! does not understand ends the literal run, which only makes the prefilter weaker, never
//! wrong.

/// One item of a pattern, as far as the prefilter cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// A single literal byte.
    Literal(u8),
    /// Anything else: a class, a set, `.`, `%b`, `%f`, a back-reference.
    Other,
    /// `(` or `)`: zero width, does not break a literal run.
    Paren,
}

/// Splits `pat` into items with their quantifier flag. Returns `None` when the pattern is
/// not well formed (the compiler reports that; the prefilter just gives up).
fn items(pat: &[u8]) -> Option<Vec<(Item, bool)>> {
    let mut out = Vec::new();
    let mut i = usize::from(pat.first() == Some(&b'^'));
    while i < pat.len() {
        let (item, next) = match pat[i] {
            b'(' | b')' => (Item::Paren, i + 1),
            b'$' if i + 1 == pat.len() => break,
            b'.' => (Item::Other, i + 1),
            b'[' => (Item::Other, set_end(pat, i + 1)?),
            b'%' => {
                let c = *pat.get(i + 1)?;
                match c {
                    b'b' => {
                        if i + 3 >= pat.len() {
                            return None;
                        }
                        (Item::Other, i + 4)
                    }
                    b'f' => {
                        if pat.get(i + 2) != Some(&b'[') {
                            return None;
                        }
                        (Item::Other, set_end(pat, i + 3)?)
                    }
                    c if c.is_ascii_alphanumeric() => (Item::Other, i + 2),
                    c => (Item::Literal(c), i + 2),
                }
            }
            c => (Item::Literal(c), i + 1),
        };
        let quantified =
            item != Item::Paren && matches!(pat.get(next), Some(b'*' | b'+' | b'-' | b'?'));
        out.push((item, quantified));
        i = next + usize::from(quantified);
    }
    Some(out)
}

/// The index just past the `]` closing a set whose body starts at `i` (after the `[`).
fn set_end(pat: &[u8], mut i: usize) -> Option<usize> {
    if pat.get(i) == Some(&b'^') {
        i += 1;
    }
    // The first character of the body is always part of it, even a `]`.
    loop {
        let c = *pat.get(i)?;
        i += 1;
        if c == b'%' {
            pat.get(i)?;
            i += 1;
        }
        if pat.get(i) == Some(&b']') {
            return Some(i + 1);
        }
    }
}

/// The literal prefix and suffix every whole-matched value must have.
pub(crate) fn required_affixes(pat: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let Some(items) = items(pat) else {
        return (Vec::new(), Vec::new());
    };
    let literal = |(item, quantified): &(Item, bool)| match item {
        Item::Literal(c) if !quantified => Some(Some(*c)),
        Item::Paren => Some(None),
        _ => None,
    };
    let prefix: Vec<u8> = items.iter().map_while(literal).flatten().collect();
    if prefix.len() == items.iter().filter(|(i, _)| *i != Item::Paren).count() {
        // An all-literal pattern: prefix and suffix are the same text.
        return (prefix.clone(), prefix);
    }
    let mut suffix: Vec<u8> = items.iter().rev().map_while(literal).flatten().collect();
    suffix.reverse();
    (prefix, suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aff(p: &str) -> (String, String) {
        let (a, b) = required_affixes(p.as_bytes());
        (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap())
    }

    #[test]
    fn typical_host_patterns() {
        assert_eq!(
            aff("mail%-.+%-.+%.google%.com"),
            ("mail-".into(), ".google.com".into())
        );
        assert_eq!(
            aff("^ec2%-%d+.*amazonaws%.com$"),
            ("ec2-".into(), "amazonaws.com".into())
        );
        assert_eq!(
            aff("%d+%-%d+%.protonmail%.ch"),
            ("".into(), ".protonmail.ch".into())
        );
        assert_eq!(
            aff("rimap26%.i%.mail%.ru"),
            ("rimap26.i.mail.ru".into(), "rimap26.i.mail.ru".into())
        );
    }

    #[test]
    fn quantifiers_end_the_run() {
        assert_eq!(aff("ab*c"), ("a".into(), "c".into()));
        assert_eq!(aff("abc?"), ("ab".into(), "".into()));
        assert_eq!(aff("a-"), ("".into(), "".into()));
        assert_eq!(aff("x%.-"), ("x".into(), "".into()));
    }

    #[test]
    fn sets_classes_and_specials() {
        assert_eq!(aff("[]]x"), ("".into(), "x".into()));
        assert_eq!(aff("[^%]]+%]y"), ("".into(), "]y".into()));
        assert_eq!(aff("a%bxyb"), ("a".into(), "b".into()));
        assert_eq!(aff("a%f[%w]b"), ("a".into(), "b".into()));
        assert_eq!(aff("(ab)%1"), ("ab".into(), "".into()));
        assert_eq!(aff("a$b"), ("a$b".into(), "a$b".into()));
        assert_eq!(aff("a^"), ("a^".into(), "a^".into()));
    }

    #[test]
    fn malformed_patterns_give_no_prefilter() {
        assert_eq!(aff("abc%"), ("".into(), "".into()));
        assert_eq!(aff("[abc"), ("".into(), "".into()));
        assert_eq!(aff("%f"), ("".into(), "".into()));
    }
}
