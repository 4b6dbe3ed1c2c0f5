//! `PolicyAction`: the answer to one policy request and its `action=…` reply line.
//!
//! The reply is always exactly `action=<ACTION>\n\n`. Texts are sanitised first so that
//! nothing a caller puts into a text can split the line or smuggle a second attribute:
//! every byte outside printable US-ASCII (RFC 5321 reply text) becomes `?` (control
//! characters and tabs a space), runs of spaces collapse, and the text is capped at
//! [`MAX_TEXT_BYTES`].
//!
//! The temporary refusal is `DEFER_IF_PERMIT <text>`: postconf(5) says `defer_if_permit`
//! "is useful when a denylisting feature fails due to a temporary problem". It defers
//! (code 450, access(5)) only when the rest of the restrictions would have let the
//! request through; a later restriction that rejects still rejects for good. A bare
//! `451 4.7.1 <text>` would defer unconditionally, turning a later permanent rejection
//! into pointless retries.

use std::fmt;

/// The longest text kept in a reply (an SMTP reply line is at most 512 bytes, and
/// Postfix adds the code, the address and its own words).
pub const MAX_TEXT_BYTES: usize = 256;

/// What Postfix is told to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyAction {
    /// No decision: Postfix goes on with the next restriction.
    Dunno,
    /// Accept the request (skips the rest of this restriction list).
    Ok,
    /// Refuse for good: `REJECT <text>` (Postfix answers with `$access_map_reject_code`).
    Reject(String),
    /// Refuse for now: `DEFER_IF_PERMIT <text>` (450 unless a later restriction rejects).
    Defer(String),
}

impl PolicyAction {
    /// The full reply: `action=<ACTION>\n\n`, a single line then the empty line.
    pub fn reply(&self) -> String {
        format!("action={self}\n\n")
    }
}

impl fmt::Display for PolicyAction {
    /// The action value: `DUNNO`, `OK`, `REJECT text`, `DEFER_IF_PERMIT text`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyAction::Dunno => f.write_str("DUNNO"),
            PolicyAction::Ok => f.write_str("OK"),
            PolicyAction::Reject(text) => write_with_text(f, "REJECT", text),
            PolicyAction::Defer(text) => write_with_text(f, "DEFER_IF_PERMIT", text),
        }
    }
}

/// `VERB` alone when the sanitised text is empty (Postfix then uses its generic text),
/// otherwise `VERB text`.
fn write_with_text(f: &mut fmt::Formatter<'_>, verb: &str, text: &str) -> fmt::Result {
    let text = sanitize_text(text);
    if text.is_empty() {
        f.write_str(verb)
    } else {
        write!(f, "{verb} {text}")
    }
}

/// Makes `text` safe for one reply line: printable ASCII only, single spaces, no
/// leading or trailing space, at most [`MAX_TEXT_BYTES`] bytes.
pub fn sanitize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT_BYTES));
    for c in text.chars().map(safe_char) {
        if out.len() >= MAX_TEXT_BYTES {
            break;
        }
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    out
}

/// Printable ASCII stays; whitespace and control characters become a space; anything
/// else (non-ASCII) becomes `?`.
fn safe_char(c: char) -> char {
    match c {
        ' '..='~' => c,
        c if c.is_whitespace() || c.is_control() => ' ',
        _ => '?',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_action() {
        assert_eq!(PolicyAction::Dunno.reply(), "action=DUNNO\n\n");
        assert_eq!(PolicyAction::Ok.reply(), "action=OK\n\n");
        assert_eq!(
            PolicyAction::Reject("5.7.1 go away".into()).reply(),
            "action=REJECT 5.7.1 go away\n\n"
        );
        assert_eq!(
            PolicyAction::Defer("4.7.1 try later".into()).reply(),
            "action=DEFER_IF_PERMIT 4.7.1 try later\n\n"
        );
    }

    #[test]
    fn empty_text_gives_the_bare_verb() {
        assert_eq!(PolicyAction::Reject(String::new()).to_string(), "REJECT");
        assert_eq!(
            PolicyAction::Defer(" \r\n\t ".into()).to_string(),
            "DEFER_IF_PERMIT"
        );
    }

    #[test]
    fn newlines_and_controls_never_reach_the_reply() {
        let evil = "no\n\naction=OK\r\nx\0y\x1b[31m\u{85}z\u{2028}w\x7f";
        let reply = PolicyAction::Reject(evil.into()).reply();
        assert_eq!(reply, "action=REJECT no action=OK x y [31m z w\n\n");
        assert_eq!(reply.matches('\n').count(), 2);
        assert!(reply.ends_with("\n\n"));
    }

    #[test]
    fn non_ascii_becomes_question_marks() {
        assert_eq!(sanitize_text("Grüße 🙂"), "Gr??e ?");
    }

    #[test]
    fn text_is_capped_on_ascii() {
        let long = "é".repeat(1000);
        let text = sanitize_text(&long);
        assert_eq!(text.len(), MAX_TEXT_BYTES);
        assert!(text.bytes().all(|b| b == b'?'));
    }

    #[test]
    fn spaces_collapse_and_trim() {
        assert_eq!(sanitize_text("  a \t\t b  "), "a b");
    }
}
