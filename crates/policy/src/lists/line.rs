//! The line syntax shared by every list file: comments, blank lines, entries and trailing
//! comments.
//!
//! A line is ignored when it is empty or only white space, or when its first non-blank
//! characters are `#`, `;` or `--`. Lines are bytes: a list may hold any encoding, since
//! patterns match bytes. A trailing `\r` (a file saved with CRLF line ends) is dropped.

/// One meaningful line of a list file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: usize,
    /// The line without leading and trailing white space.
    pub text: &'a [u8],
}

impl<'a> Line<'a> {
    /// The first white-space separated word, and whether anything follows it (a trailing
    /// comment, for the lists whose entries are single words).
    pub fn first_word(&self) -> (&'a [u8], &'a [u8]) {
        let end = self
            .text
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(self.text.len());
        (&self.text[..end], trim(&self.text[end..]))
    }

    /// The text for messages: lossy UTF-8, at most 80 characters.
    pub fn shown(bytes: &[u8]) -> String {
        let s = String::from_utf8_lossy(bytes);
        let mut out: String = s.chars().take(80).collect();
        if s.chars().nth(80).is_some() {
            out.push('…');
        }
        out.escape_debug().to_string()
    }
}

/// Trims ASCII white space (including `\v` and `\f`) at both ends.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| b.is_ascii_whitespace() || *b == 0x0b;
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

fn is_comment(text: &[u8]) -> bool {
    text.is_empty() || text[0] == b'#' || text[0] == b';' || text.starts_with(b"--")
}

/// The meaningful lines of a file's contents, with their numbers.
pub fn lines(content: &[u8]) -> impl Iterator<Item = Line<'_>> {
    content
        .split(|b| *b == b'\n')
        .enumerate()
        .filter_map(|(i, raw)| {
            let text = trim(raw);
            (!is_comment(text)).then_some(Line {
                number: i + 1,
                text,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(content: &[u8]) -> Vec<(usize, &[u8])> {
        lines(content).map(|l| (l.number, l.text)).collect()
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let content = b"# hash\n ; semi\n\t-- dashes\n\n   \nAS1\r\n  AS2 trailing\n-x\n";
        assert_eq!(
            texts(content),
            vec![(6, &b"AS1"[..]), (7, &b"AS2 trailing"[..]), (8, &b"-x"[..])]
        );
    }

    #[test]
    fn first_word_and_rest() {
        let l = Line {
            number: 1,
            text: b"10.0.0.0/8   office VPN",
        };
        assert_eq!(l.first_word(), (&b"10.0.0.0/8"[..], &b"office VPN"[..]));
        let l = Line {
            number: 1,
            text: b"AS1",
        };
        assert_eq!(l.first_word(), (&b"AS1"[..], &b""[..]));
    }

    #[test]
    fn non_utf8_is_kept() {
        assert_eq!(texts(b"caf\xe9\n"), vec![(1, &b"caf\xe9"[..])]);
    }

    #[test]
    fn vertical_tab_and_form_feed_are_white_space() {
        assert_eq!(trim(b"\x0b\x0cx\x0b"), b"x");
    }
}
