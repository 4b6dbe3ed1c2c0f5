//! A [`Report`] as text: aligned tables (numbers right-aligned) for the terminal, and one
//! CSV table (every row led by its section's name, cells safe from spreadsheet formulas).

use crate::history::asn_text;
use std::fmt::Write as _;

use super::Report;
use crate::analysis::time::format_minute;

impl Report {
    /// The aligned text tables.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let t = &self.totals;
        let _ = writeln!(
            out,
            "badclients report: {} .. {} UTC{}",
            format_minute(self.since_us.unwrap_or(t.first_us)),
            format_minute(t.last_us),
            self.user
                .as_ref()
                .map(|u| format!(", user {u}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "logins {}  users {}  allowed {}  blocked {}  would-block {}  tempfail {}",
            t.logins, t.users, t.allowed, t.blocked, t.would_block, t.tempfail
        );
        if t.unverified > 0 {
            let _ = writeln!(
                out,
                "unverified {}: a list matched before the password was checked (the Lua shim \
                 ahead of the password passdb); maybe password guesses, not counted as blocked users",
                t.unverified
            );
        }
        if let Some(input) = &self.input {
            let _ = writeln!(
                out,
                "read {} lines: {} audit lines, {} other lines skipped, {} malformed skipped, {} outside the filter, {} without a time",
                input.lines, input.records, input.other, input.malformed, input.filtered, input.undated
            );
            for (line, reason) in &input.first_malformed {
                let _ = writeln!(out, "  line {line}: {reason}");
            }
        }

        section(
            &mut out,
            "BLOCKED USERS",
            &["user", "blocked", "would-block", "matched", "last"],
            self.blocked_users.iter().map(|b| {
                vec![
                    b.user.clone(),
                    b.blocked.to_string(),
                    b.would_block.to_string(),
                    b.matched
                        .iter()
                        .map(|(m, n)| format!("{m} x{n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    format_minute(b.last_us),
                ]
            }),
        );
        section(
            &mut out,
            "LOGIN SOURCES PER USER",
            &[
                "user", "asn", "as_desc", "logins", "matched", "networks", "hosts", "clouds",
            ],
            self.sources.iter().map(|s| {
                vec![
                    s.user.clone(),
                    asn_text(s.asn, "None"),
                    s.as_desc.clone().unwrap_or_else(|| "None".into()),
                    s.logins.to_string(),
                    s.matched.to_string(),
                    join_capped(&s.networks, 3, false),
                    join_capped(&s.hosts, 3, s.hosts_more),
                    join_capped(&s.clouds, 3, false),
                ]
            }),
        );
        section(
            &mut out,
            "ASNS",
            &[
                "asn", "as_desc", "cc", "users", "logins", "matched", "status", "why",
            ],
            self.asns.iter().map(|a| {
                vec![
                    asn_text(a.asn, "None"),
                    a.as_desc.clone().unwrap_or_else(|| "None".into()),
                    a.as_cc.clone().unwrap_or_else(|| "None".into()),
                    a.users.to_string(),
                    a.logins.to_string(),
                    a.matched.to_string(),
                    a.status.name().into(),
                    a.why.clone(),
                ]
            }),
        );
        section(
            &mut out,
            "CLOUDS",
            &["cloud", "users", "logins", "matched", "status", "why"],
            self.clouds.iter().map(|c| {
                vec![
                    c.cloud.clone(),
                    c.users.to_string(),
                    c.logins.to_string(),
                    c.matched.to_string(),
                    c.status.name().into(),
                    c.why.clone(),
                ]
            }),
        );
        out
    }

    /// One CSV table: every row starts with its section's name.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let mut row = |cells: Vec<String>| {
            let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        };
        row(vec![
            "section".into(),
            "user".into(),
            "blocked".into(),
            "would_block".into(),
            "matched".into(),
            "last".into(),
        ]);
        for b in &self.blocked_users {
            let matched = b
                .matched
                .iter()
                .map(|(m, n)| format!("{m} x{n}"))
                .collect::<Vec<_>>()
                .join("; ");
            row(vec![
                "blocked_user".into(),
                b.user.clone(),
                b.blocked.to_string(),
                b.would_block.to_string(),
                matched,
                format_minute(b.last_us),
            ]);
        }
        row(vec![
            "section".into(),
            "user".into(),
            "asn".into(),
            "as_desc".into(),
            "logins".into(),
            "matched".into(),
            "networks".into(),
            "hosts".into(),
            "clouds".into(),
        ]);
        for s in &self.sources {
            row(vec![
                "source".into(),
                s.user.clone(),
                asn_text(s.asn, "None"),
                s.as_desc.clone().unwrap_or_default(),
                s.logins.to_string(),
                s.matched.to_string(),
                s.networks.join(" "),
                s.hosts.join(" "),
                s.clouds.join(" "),
            ]);
        }
        row(vec![
            "section".into(),
            "asn".into(),
            "as_desc".into(),
            "cc".into(),
            "users".into(),
            "logins".into(),
            "matched".into(),
            "status".into(),
            "why".into(),
        ]);
        for a in &self.asns {
            row(vec![
                "asn".into(),
                asn_text(a.asn, "None"),
                a.as_desc.clone().unwrap_or_default(),
                a.as_cc.clone().unwrap_or_default(),
                a.users.to_string(),
                a.logins.to_string(),
                a.matched.to_string(),
                a.status.name().into(),
                a.why.clone(),
            ]);
        }
        row(vec![
            "section".into(),
            "cloud".into(),
            "users".into(),
            "logins".into(),
            "matched".into(),
            "status".into(),
            "why".into(),
        ]);
        for c in &self.clouds {
            row(vec![
                "cloud".into(),
                c.cloud.clone(),
                c.users.to_string(),
                c.logins.to_string(),
                c.matched.to_string(),
                c.status.name().into(),
                c.why.clone(),
            ]);
        }
        out
    }
}

fn join_capped(items: &[String], cap: usize, more: bool) -> String {
    if items.is_empty() {
        return "-".into();
    }
    let mut s = items
        .iter()
        .take(cap)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let hidden = items.len().saturating_sub(cap);
    if hidden > 0 || more {
        let _ = write!(s, " +{hidden}{}", if more { "+" } else { "" });
    }
    s
}

fn csv_cell(cell: &str) -> String {
    // A leading = + - @ would be a formula in a spreadsheet.
    let cell = if cell.starts_with(['=', '+', '-', '@']) && cell.len() > 1 {
        format!("'{cell}")
    } else {
        cell.to_string()
    };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// Appends a titled, aligned table (numbers right-aligned); `(none)` when empty.
fn section(
    out: &mut String,
    title: &str,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) {
    let rows: Vec<Vec<String>> = rows.collect();
    let _ = writeln!(out, "\n{title}");
    if rows.is_empty() {
        let _ = writeln!(out, "(none)");
        return;
    }
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain(std::iter::once(headers[i].len()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..headers.len()).map(width).collect();
    let numeric: Vec<bool> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .all(|r| r[i].bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    let mut line = |cells: &[String]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i > 0 {
                s.push_str("  ");
            }
            if numeric[i] {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for r in &rows {
        line(r);
    }
}
