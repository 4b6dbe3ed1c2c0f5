//! Single-character classes: the C-locale `%a`-style classes, bracket sets
//! `[...]` and finding where one pattern item's class ends (Lua's
//! `match_class`, `matchbracketclass` and `classEnd`).
//!
//! Lua's C code relies on the NUL terminator after the pattern; here every
//! read goes through [`byte_at`], which yields `0` past the end, so the same
//! decisions are taken without reading out of bounds.

use crate::error::PatternError;

/// The escape character of Lua patterns.
pub(crate) const ESC: u8 = b'%';

/// The byte at `i`, or `0` (the C string terminator) past the end.
#[inline]
pub(crate) fn byte_at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// Does byte `c` belong to class letter `cl` (the letter after `%`)?
/// Letters of no class, and all other bytes, match themselves.
pub(crate) fn match_class(c: u8, cl: u8) -> bool {
    let res = match cl.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c < 0x20 || c == 0x7f,
        b'd' => c.is_ascii_digit(),
        b'g' => (0x21..=0x7e).contains(&c),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        // C's isspace: space, \t, \n, \v, \f, \r.
        b's' => matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        // Deprecated but still present in Lua 5.4: the NUL byte.
        b'z' => c == 0,
        _ => return cl == c,
    };
    if cl.is_ascii_uppercase() {
        !res
    } else {
        res
    }
}

/// Does `c` belong to the set whose `[` is at `p` and whose closing `]` is at
/// `ec` (both indices into `pat`)?
pub(crate) fn match_bracket_class(c: u8, pat: &[u8], p: usize, ec: usize) -> bool {
    let mut p = p;
    let mut found = true;
    if byte_at(pat, p + 1) == b'^' {
        found = false;
        p += 1;
    }
    loop {
        p += 1;
        if p >= ec {
            break;
        }
        let cur = byte_at(pat, p);
        if cur == ESC {
            p += 1;
            if match_class(c, byte_at(pat, p)) {
                return found;
            }
        } else if byte_at(pat, p + 1) == b'-' && p + 2 < ec {
            p += 2;
            if cur <= c && c <= byte_at(pat, p) {
                return found;
            }
        } else if cur == c {
            return found;
        }
    }
    !found
}

/// Does byte `c` match the single-character class at `p..ep` of `pat` (a literal,
/// `.`, `%x` or a set)? Lua's `singlematch` without the subject bounds.
pub(crate) fn class_accepts(c: u8, pat: &[u8], p: usize, ep: usize) -> bool {
    match byte_at(pat, p) {
        b'.' => true,
        ESC => match_class(c, byte_at(pat, p + 1)),
        b'[' => match_bracket_class(c, pat, p, ep.saturating_sub(1)),
        lit => lit == c,
    }
}

/// Index just past the single-character class that starts at `p`
/// (a literal, `.`, `%x` or a set). `p` must be inside the pattern.
pub(crate) fn class_end(pat: &[u8], p: usize) -> Result<usize, PatternError> {
    let first = byte_at(pat, p);
    let mut p = p + 1;
    match first {
        ESC => {
            if p >= pat.len() {
                Err(PatternError::EndsWithPercent)
            } else {
                Ok(p + 1)
            }
        }
        b'[' => {
            if byte_at(pat, p) == b'^' {
                p += 1;
            }
            // The first character of the set is taken as is, even a `]`.
            loop {
                if p >= pat.len() {
                    return Err(PatternError::MissingBracket);
                }
                let c = byte_at(pat, p);
                p += 1;
                if c == ESC && p < pat.len() {
                    p += 1; // skip the escaped character (e.g. `%]`)
                }
                if byte_at(pat, p) == b']' {
                    break;
                }
            }
            Ok(p + 1)
        }
        _ => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_members(set: &[u8]) -> Vec<u8> {
        let ep = class_end(set, 0).expect("valid set");
        (0..=255u8)
            .filter(|&c| match_bracket_class(c, set, 0, ep - 1))
            .collect()
    }

    #[test]
    fn space_class_includes_vertical_tab_and_form_feed() {
        let spaces: Vec<u8> = (0..=255u8).filter(|&c| match_class(c, b's')).collect();
        assert_eq!(spaces, b"\t\n\x0b\x0c\r ");
        assert!(!match_class(0x0b, b'S'));
    }

    #[test]
    fn unknown_class_letters_are_literal_and_case_sensitive() {
        assert!(match_class(b'Q', b'Q'));
        assert!(!match_class(b'q', b'Q'));
        assert!(match_class(b'.', b'.'));
    }

    #[test]
    fn class_end_of_sets() {
        assert_eq!(class_end(b"[]]", 0), Ok(3));
        assert_eq!(class_end(b"[^]]x", 0), Ok(4));
        assert_eq!(class_end(b"[%]]", 0), Ok(4));
        assert_eq!(class_end(b"[a", 0), Err(PatternError::MissingBracket));
        assert_eq!(class_end(b"[]", 0), Err(PatternError::MissingBracket));
        assert_eq!(class_end(b"[a%", 0), Err(PatternError::MissingBracket));
        assert_eq!(class_end(b"%", 0), Err(PatternError::EndsWithPercent));
        assert_eq!(class_end(b"%a", 0), Ok(2));
        assert_eq!(class_end(b"ab", 0), Ok(1));
    }

    #[test]
    fn bracket_sets() {
        assert_eq!(set_members(b"[a-c]"), b"abc");
        assert_eq!(set_members(b"[a-]"), b"-a");
        assert_eq!(set_members(b"[]%%]"), b"%]");
        assert_eq!(set_members(b"[a%-z]"), b"-az");
        assert_eq!(set_members(b"[%^%[%-a%]%-b]"), b"-[]^ab");
        assert_eq!(set_members(b"[^\x01-\xff]"), b"\0");
        assert_eq!(set_members(b"[%d]"), b"0123456789");
    }
}
