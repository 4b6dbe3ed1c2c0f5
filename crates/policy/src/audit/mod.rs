//! The `mail-audit:` line: the contract's format, with every value escaped so no field
//! or line can be forged.
//!
//! Escaping rule (applied to every value that comes from a user or an upstream):
//! - a backslash becomes `\\`;
//! - control bytes (U+0000–U+001F, U+007F), C1 controls (U+0080–U+009F) and the Unicode
//!   line/paragraph separators become `\xNN` / `\u{NNNN}`;
//! - `<` and `>` become `\x3c` and `\x3e`, so a bracketed value always ends at its `>`;
//! - a `,` that is followed (after optional white space) by `word=` becomes `\x2c`, so a
//!   naive split on `, key=` finds every field exactly once.
//!
//! Everything else, including `, ` inside ordinary values such as `as_desc=<VK-AS, RU>`,
//! is printed as it is, so existing `grep`/`awk` pipelines keep working.

use std::fmt::{self, Write};

mod decision_line;
mod maxmind_line;
pub mod read;
mod report_line;

pub use decision_line::AuditLine;
pub use maxmind_line::MaxmindLine;
pub use report_line::{FailType, LoginResult, ReportLine};

/// A value displayed escaped by the rule in the module documentation.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape_into(f, self.0)
    }
}

/// Writes `value` escaped by the rule in the module documentation.
pub fn escape_into(out: &mut impl Write, value: &str) -> fmt::Result {
    for (i, c) in value.char_indices() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '<' => out.write_str("\\x3c")?,
            '>' => out.write_str("\\x3e")?,
            ',' if starts_field(&value[i + 1..]) => out.write_str("\\x2c")?,
            c if (c as u32) < 0x20 || c == '\x7f' => write!(out, "\\x{:02x}", c as u32)?,
            c if ('\u{80}'..='\u{9f}').contains(&c) || c == '\u{2028}' || c == '\u{2029}' => {
                write!(out, "\\u{{{:04x}}}", c as u32)?
            }
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// The escaped form of `value`.
pub fn escape(value: &str) -> String {
    if !needs_escape(value) {
        return value.to_string();
    }
    escape_slow(value)
}

/// The escaped form of `value`, borrowed when nothing needs escaping.
pub fn escape_cow(value: &str) -> std::borrow::Cow<'_, str> {
    if needs_escape(value) {
        std::borrow::Cow::Owned(escape_slow(value))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

fn escape_slow(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 8);
    // Writing into a String cannot fail.
    let _ = escape_into(&mut s, value);
    s
}

/// Whether [`escape_into`] would change `value`: a table lookup per byte finds the first
/// byte that could need escaping (anything but printable ASCII other than a backslash,
/// `<`, `>` and `,`), and [`needs_escape_from`] looks closely from there.
fn needs_escape(value: &str) -> bool {
    match value.bytes().position(|b| SPECIAL[usize::from(b)]) {
        Some(first) => needs_escape_from(value, first),
        None => false,
    }
}

/// The bytes [`needs_escape`] looks at closely.
static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b < 0x20 || b >= 0x7f || matches!(b as u8, b'\\' | b'<' | b'>' | b',');
        b += 1;
    }
    table
};

/// Whether [`escape_into`] would change `value`, looking at its bytes from `start` (a quick
/// byte scan; non-ASCII text is checked character by character only when it has bytes that
/// could start a C1 control or a line separator).
fn needs_escape_from(value: &str, start: usize) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().enumerate().skip(start).any(|(i, &b)| match b {
        b'\\' | b'<' | b'>' | 0x7f => true,
        b',' => starts_field(&value[i + 1..]),
        0..=0x1f => true,
        // U+0080–U+009F are C2 80–C2 9F; U+2028/U+2029 are E2 80 A8/A9.
        0xc2 => bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)),
        0xe2 => bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)),
        _ => false,
    })
}

/// Whether `rest` (the text after a comma) looks like ` key=`.
fn starts_field(rest: &str) -> bool {
    let rest = rest.trim_start_matches([' ', '\t']);
    let key_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']'))
        .count();
    key_len > 0 && rest.as_bytes().get(key_len) == Some(&b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Decision, Verdict};
    use crate::facts::Facts;

    /// Splits a line the naive way an admin's script would.
    fn naive_fields(line: &str) -> Vec<&str> {
        line.split(", ").filter(|p| p.contains('=')).collect()
    }

    #[test]
    fn the_quick_scan_agrees_with_the_escaper() {
        let samples = [
            "plain",
            "VK-AS, RU",
            "a,b=c",
            "a, b",
            "x>y",
            "<",
            "back\\slash",
            "tab\there",
            "del\x7f",
            "c1\u{85}",
            "c1\u{9f}",
            "ok\u{a0}",
            "ls\u{2028}",
            "ps\u{2029}",
            "u\u{2027}",
            "müller",
            "日本",
            "a,  subdivision[0]=X",
            "",
        ];
        for s in samples {
            let mut slow = String::new();
            escape_into(&mut slow, s).unwrap();
            assert_eq!(needs_escape(s), slow != s, "{s:?}");
            assert_eq!(escape(s), slow, "{s:?}");
        }
    }

    #[test]
    fn the_quick_test_agrees_with_escaping_at_every_position() {
        // Pieces that need escaping, or only in some places, or never; joined into strings
        // of up to ~50 bytes so they fall inside, across and after the 16-byte runs.
        let pieces = [
            "a",
            "ab",
            "0123456789abcdef",
            " ",
            ",",
            ", x=",
            ",x",
            "\\",
            "<",
            ">",
            "\x7f",
            "\n",
            "\u{85}",
            "\u{a0}",
            "ü",
            "\u{2028}",
            "\u{2027}",
            "日本",
            "=",
            "[0]=",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..next(8) {
                s.push_str(pieces[next(pieces.len())]);
            }
            let mut slow = String::new();
            escape_into(&mut slow, &s).unwrap();
            assert_eq!(needs_escape(&s), slow != s, "{s:?}");
        }
    }

    #[test]
    fn ordinary_values_are_untouched() {
        assert_eq!(escape("VK-AS, RU"), "VK-AS, RU");
        assert_eq!(
            escape("Triara.com, S.A. de C.V."),
            "Triara.com, S.A. de C.V."
        );
        assert_eq!(escape("honey-craig"), "honey-craig");
        assert_eq!(escape("müller@example.org"), "müller@example.org");
    }

    #[test]
    fn forging_characters_are_escaped() {
        assert_eq!(escape("x>, service=imap"), "x\\x3e\\x2c service=imap");
        assert_eq!(
            escape("a\nmail-audit: user=<b>"),
            "a\\x0amail-audit: user=\\x3cb\\x3e"
        );
        assert_eq!(escape("a\r\0\x1b\x7f"), "a\\x0d\\x00\\x1b\\x7f");
        assert_eq!(escape("back\\slash"), "back\\\\slash");
        assert_eq!(escape("a,entity=X"), "a\\x2centity=X");
        assert_eq!(escape("a,  subdivision[0]=X"), "a\\x2c  subdivision[0]=X");
        assert_eq!(escape("line\u{2028}sep\u{85}"), "line\\u{2028}sep\\u{0085}");
        assert_eq!(escape("a, b"), "a, b");
        assert_eq!(escape("a, =b"), "a, =b");
    }

    #[test]
    fn audit_mode_marks_blocks_as_not_enforced() {
        use crate::decision::{Hit, Reason};
        let facts = Facts::unknown("176.112.169.218".parse().unwrap());
        let hit = Hit {
            label: "ip_net".into(),
            file: None,
            line: Some(1),
            entry: "176.112.168.0/21".into(),
        };
        let decision = Decision {
            verdict: Verdict::Block,
            reason: Reason::Listed(hit),
            log: true,
            pattern_failures: Vec::new(),
        };
        let line = |enforced, password_checked| {
            AuditLine {
                user: "u",
                service: "imap",
                facts: &facts,
                decision: &decision,
                enforced,
                password_checked,
            }
            .to_string()
        };
        assert!(line(true, true).ends_with(", entity=None, blocked=True, matched=ip_net"));
        assert!(line(false, true).ends_with(", blocked=True, matched=ip_net, enforced=False"));
        assert!(line(true, false)
            .ends_with(", entity=None, blocked=True, matched=ip_net, password_checked=False"));
        // An allowed login says nothing about enforcement.
        let allow = Decision::unlogged_allow();
        let text = AuditLine {
            user: "u",
            service: "imap",
            facts: &facts,
            decision: &allow,
            enforced: false,
            password_checked: true,
        }
        .to_string();
        assert!(text.ends_with("entity=None"), "{text}");
    }

    #[test]
    fn escaped_values_contain_no_field_separator() {
        for hostile in [
            "x>, service=imap, ip=1.2.3.4",
            "x, blocked=True",
            "x\n, y=1",
        ] {
            let e = escape(hostile);
            assert!(!e.contains('\n') && !e.contains('>') && !e.contains('<'));
            assert_eq!(naive_fields(&format!("k={e}")).len(), 1, "{e}");
        }
    }
}
