//! `KnownGood`: the admin's list of ASes and host suffixes that are fine (the consumer
//! ISPs and partners the users log in from), never proposed as candidates by `report`
//! or `suggest`.
//!
//! File syntax (`known_good.lst` in the list directory): the list files' comments and blank
//! lines; an entry is `AS3320` or `3320` (an AS) or a host suffix (`t-ipconnect.de`,
//! `.dip0.t-ipconnect.de`) matching that name and every name under it, ignoring case.

use std::collections::HashSet;
use std::path::Path;

use crate::lists::{lines, Diagnostic, Severity};

/// Known-good ASes and host suffixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownGood {
    asns: HashSet<u32>,
    /// Lower case, without a leading dot.
    suffixes: Vec<String>,
}

impl KnownGood {
    /// Reads `path`; a missing file is an empty list. Bad lines are skipped with a
    /// diagnostic naming file and line.
    pub fn load(path: &Path) -> (KnownGood, Vec<Diagnostic>) {
        match std::fs::read(path) {
            Ok(content) => KnownGood::parse(&content, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (KnownGood::default(), Vec::new())
            }
            Err(e) => (
                KnownGood::default(),
                vec![Diagnostic {
                    path: path.to_path_buf(),
                    line: None,
                    severity: Severity::Error,
                    message: format!("cannot read the list: {e}"),
                }],
            ),
        }
    }

    pub fn parse(content: &[u8], path: &Path) -> (KnownGood, Vec<Diagnostic>) {
        let mut out = KnownGood::default();
        let mut diags = Vec::new();
        for line in lines(content) {
            let (word, _) = line.first_word();
            let text = String::from_utf8_lossy(word);
            let error = |message: String| Diagnostic {
                path: path.to_path_buf(),
                line: Some(line.number),
                severity: Severity::Error,
                message,
            };
            let number = text
                .strip_prefix("AS")
                .or_else(|| text.strip_prefix("as"))
                .unwrap_or(&text);
            if number.bytes().all(|b| b.is_ascii_digit()) && !number.is_empty() {
                match number.parse::<u32>() {
                    Ok(n) => {
                        out.asns.insert(n);
                    }
                    Err(_) => diags.push(error(format!("AS number out of range: {text}"))),
                }
                continue;
            }
            if text.starts_with("AS") && text[2..].bytes().any(|b| b.is_ascii_digit()) {
                diags.push(error(format!("not an AS number: {text}")));
                continue;
            }
            let suffix = text.trim_start_matches('.').to_ascii_lowercase();
            if suffix.is_empty()
                || !suffix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
            {
                diags.push(error(format!(
                    "not an AS number or a host suffix: {}",
                    text.escape_debug()
                )));
                continue;
            }
            out.suffixes.push(suffix);
        }
        (out, diags)
    }

    pub fn has_asn(&self, asn: u32) -> bool {
        self.asns.contains(&asn)
    }

    /// Whether `host` is one of the suffixes or under one.
    pub fn has_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.suffixes.iter().any(|s| {
            host.len() >= s.len()
                && host[host.len() - s.len()..].eq_ignore_ascii_case(s)
                && (host.len() == s.len() || host.as_bytes()[host.len() - s.len() - 1] == b'.')
        })
    }

    pub fn is_empty(&self) -> bool {
        self.asns.is_empty() && self.suffixes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_errors() {
        let text = b"# partners\nAS3320\n6830 cable\n.dip0.t-ipconnect.de\nExample.NET\nASx1\nAS99999999999\nbad/host\n";
        let (kg, diags) = KnownGood::parse(text, Path::new("known_good.lst"));
        assert!(kg.has_asn(3320) && kg.has_asn(6830) && !kg.has_asn(16509));
        assert!(kg.has_host("p5b0c1.dip0.t-ipconnect.de"));
        assert!(kg.has_host("dip0.t-ipconnect.de"));
        assert!(!kg.has_host("xdip0.t-ipconnect.de"));
        assert!(kg.has_host("mx.EXAMPLE.net."));
        let lines: Vec<_> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            lines,
            [
                "known_good.lst:6: error: not an AS number: ASx1",
                "known_good.lst:7: error: AS number out of range: AS99999999999",
                "known_good.lst:8: error: not an AS number or a host suffix: bad/host",
            ]
        );
    }
}
