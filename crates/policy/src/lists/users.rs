//! `user.allow.lst`: user names that are never blocked.
//!
//! A plain line or a `"` line is an exact, case-sensitive user name; a `'` line is
//! compared ignoring ASCII case.

use std::collections::HashMap;

use super::diag::FileReport;
use super::line::Line;
use super::Entry;

/// The allowed users.
#[derive(Debug, Clone, Default)]
pub struct UserAllowList {
    exact: HashMap<Vec<u8>, Entry>,
    nocase: HashMap<Vec<u8>, Entry>,
}

impl UserAllowList {
    pub(crate) fn add_line(&mut self, line: Line<'_>, report: &mut FileReport<'_>) {
        let (map, key) = match line.text[0] {
            b'\'' => (&mut self.nocase, line.text[1..].to_ascii_lowercase()),
            b'"' => (&mut self.exact, line.text[1..].to_vec()),
            _ => (&mut self.exact, line.text.to_vec()),
        };
        if key.is_empty() {
            return report.error(line.number, "empty user name: nothing follows the quote");
        }
        if let Some(first) = map.get(&key) {
            let message = format!("duplicate entry (first at line {})", first.line);
            return report.warning(line.number, message);
        }
        map.insert(key, Entry::of(line.number, line.text));
    }

    /// The entry allowing `user`.
    pub fn find(&self, user: &str) -> Option<&Entry> {
        let user = user.as_bytes();
        self.exact.get(user).or_else(|| {
            if self.nocase.is_empty() {
                None
            } else {
                self.nocase.get(&user.to_ascii_lowercase())
            }
        })
    }

    /// The number of user names.
    pub fn len(&self) -> usize {
        self.exact.len() + self.nocase.len()
    }

    /// Whether the list has no user names.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
