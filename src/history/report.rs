//! `badclients report`: who logs in from where, what was blocked, and which ASes and
//! clouds are candidates for a list — built from a [`Summary`] and rendered as aligned
//! tables, JSON or CSV.
//!
//! A group's status says how the lists treat it: `listed` (its AS is in `asn.deny.lst`, or
//! a tag matches `cloud.deny.lst`), `caught` (every login matched some list), `partly`
//! (some did), `known-good` (in `known_good.lst`); when no list caught any login, it is a
//! `candidate` (worth a look) if it looks like hosting by [`super::hosting`] — the same
//! evidence `suggest` proposes entries on — and `unlisted` otherwise (a consumer ISP). Both
//! say why in the row's `why`.

use std::fmt::Write as _;

use serde::Serialize;

use super::aggregate::{AsnSummary, CloudSummary, Counts, Summary};
use super::asn_text;
use super::hosting::Evidence;
use super::known_good::KnownGood;
use super::time::format_minute;
use crate::facts::Asn;
use crate::lists::ListSet;

/// How the lists treat a group of logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Listed,
    Caught,
    Partly,
    KnownGood,
    /// No list caught any login, and it looks like hosting: worth a look.
    Candidate,
    /// No AS number known: nothing to list.
    Unknown,
    /// No list caught any login, but nothing says hosting (a consumer ISP, say).
    Unlisted,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Listed => "listed",
            Status::Caught => "caught",
            Status::Partly => "partly",
            Status::KnownGood => "known-good",
            Status::Candidate => "candidate",
            Status::Unknown => "-",
            Status::Unlisted => "unlisted",
        }
    }
}

/// A group's status and, when no list caught any of its logins, the hosting evidence that
/// made it a `candidate` or left it `unlisted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub evidence: Option<Evidence>,
}

impl Verdict {
    fn plain(status: Status) -> Verdict {
        Verdict {
            status,
            evidence: None,
        }
    }

    /// By the counts, and for a group no list caught, by `judge`'s hosting evidence.
    fn of_counts(c: &Counts, judge: impl FnOnce() -> Evidence) -> Verdict {
        if c.matched == 0 {
            let evidence = judge();
            let status = if evidence.looks_like_hosting() {
                Status::Candidate
            } else {
                Status::Unlisted
            };
            Verdict {
                status,
                evidence: Some(evidence),
            }
        } else if c.matched == c.logins {
            Verdict::plain(Status::Caught)
        } else {
            Verdict::plain(Status::Partly)
        }
    }

    /// Why: the evidence in a few words (empty when the lists decided).
    pub fn why(&self) -> String {
        self.evidence
            .as_ref()
            .map(Evidence::short)
            .unwrap_or_default()
    }
}

/// What a group's status is judged against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub lists: Option<&'a ListSet>,
    pub known_good: Option<&'a KnownGood>,
}

impl Context<'_> {
    pub fn asn_status(&self, a: &AsnSummary) -> Status {
        self.asn_verdict(a).status
    }

    pub fn asn_verdict(&self, a: &AsnSummary) -> Verdict {
        let Some(asn) = a.asn else {
            return Verdict::plain(Status::Unknown);
        };
        if let Some(kg) = self.known_good {
            let hosts_good = !a.hosts.is_empty()
                && a.logins_without_host == 0
                && a.hosts.iter().all(|h| kg.has_host(h));
            if kg.has_asn(asn) || hosts_good {
                return Verdict::plain(Status::KnownGood);
            }
        }
        if self.lists.is_some_and(|l| l.asn.get(&Asn(asn)).is_some()) {
            return Verdict::plain(Status::Listed);
        }
        Verdict::of_counts(&a.counts, || {
            let descs: Vec<&str> = a.as_desc.as_deref().into_iter().collect();
            Evidence::judge(&descs, &a.hosts, &a.clouds)
        })
    }

    pub fn cloud_status(&self, c: &CloudSummary) -> Status {
        self.cloud_verdict(c).status
    }

    pub fn cloud_verdict(&self, c: &CloudSummary) -> Verdict {
        if let Some(lists) = self.lists {
            if c.tags
                .iter()
                .any(|t| lists.cloud.find_alone(t.as_bytes()).is_some())
            {
                return Verdict::plain(Status::Listed);
            }
        }
        Verdict::of_counts(&c.counts, || Evidence::judge(&[], &[], &c.tags))
    }
}

/// Options of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// Rows per ranking (0: all).
    pub top: usize,
    /// Rank by distinct users (default) or by logins.
    pub by_logins: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            top: 20,
            by_logins: false,
        }
    }
}

/// What was read when the report came from log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InputStats {
    pub lines: u64,
    pub records: u64,
    /// Lines that are no `mail-audit:` line (other log lines, `mail-audit-maxmind:`).
    pub other: u64,
    /// `mail-audit:` lines that could not be read.
    pub malformed: u64,
    /// Records outside `--since`/`--user`.
    pub filtered: u64,
    /// Records without a time (`journalctl -o cat`): `--since` cannot apply to them.
    pub undated: u64,
    /// The first malformed lines: number and reason.
    pub first_malformed: Vec<(u64, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Totals {
    pub logins: u64,
    pub users: usize,
    pub allowed: u64,
    pub blocked: u64,
    pub would_block: u64,
    pub tempfail: u64,
    /// Logins a list matched before their password was checked (the Lua shim ahead of
    /// the password passdb): maybe password guesses, so not among the blocked users.
    #[serde(default)]
    pub unverified: u64,
    pub first_us: u64,
    pub last_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BlockedUser {
    pub user: String,
    pub blocked: u64,
    pub would_block: u64,
    /// `matched=` labels with counts, most frequent first.
    pub matched: Vec<(String, u64)>,
    pub last_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UserSource {
    pub user: String,
    pub asn: Option<u32>,
    pub as_desc: Option<String>,
    pub logins: u64,
    pub matched: u64,
    pub networks: Vec<String>,
    pub hosts: Vec<String>,
    pub hosts_more: bool,
    pub clouds: Vec<String>,
    pub ips: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AsnRow {
    pub asn: Option<u32>,
    pub as_desc: Option<String>,
    pub as_cc: Option<String>,
    pub logins: u64,
    pub users: usize,
    pub matched: u64,
    pub status: Status,
    /// Why a `candidate` or `unlisted` row is one (the hosting evidence); empty otherwise.
    #[serde(default)]
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CloudRow {
    pub cloud: String,
    pub logins: u64,
    pub users: usize,
    pub matched: u64,
    pub status: Status,
    /// Why a `candidate` or `unlisted` row is one (the hosting evidence); empty otherwise.
    #[serde(default)]
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CountryRow {
    pub country: Option<String>,
    pub logins: u64,
    pub users: usize,
    pub matched: u64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Report {
    pub since_us: Option<u64>,
    pub user: Option<String>,
    pub totals: Totals,
    pub blocked_users: Vec<BlockedUser>,
    pub sources: Vec<UserSource>,
    pub asns: Vec<AsnRow>,
    pub clouds: Vec<CloudRow>,
    pub countries: Vec<CountryRow>,
    pub input: Option<InputStats>,
}

fn rank<T>(
    rows: &mut Vec<T>,
    top: usize,
    key: impl Fn(&T) -> (usize, u64),
    by_logins: bool,
    tie: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    rows.sort_by(|a, b| {
        let (ua, la) = key(a);
        let (ub, lb) = key(b);
        let primary = if by_logins {
            lb.cmp(&la).then(ub.cmp(&ua))
        } else {
            ub.cmp(&ua).then(lb.cmp(&la))
        };
        primary.then_with(|| tie(a, b))
    });
    if top > 0 {
        rows.truncate(top);
    }
}

impl Report {
    pub fn build(summary: &Summary, cx: &Context<'_>, options: ReportOptions) -> Report {
        let totals = Totals {
            logins: summary.counts.logins,
            users: summary.distinct_users,
            allowed: summary.outcomes.allowed,
            blocked: summary.outcomes.blocked,
            would_block: summary.outcomes.would_block,
            tempfail: summary.outcomes.tempfail,
            unverified: summary.outcomes.unverified,
            first_us: summary.counts.first_us,
            last_us: summary.counts.last_us,
        };
        let mut blocked_users: Vec<BlockedUser> = summary
            .users
            .iter()
            .filter(|u| u.counts.matched > 0)
            .map(|u| BlockedUser {
                user: u.user.clone(),
                blocked: u.outcomes.blocked,
                would_block: u.outcomes.would_block,
                matched: u.matched.clone(),
                last_us: u.last_matched_us,
            })
            .collect();
        blocked_users.sort_by(|a, b| {
            (b.blocked + b.would_block)
                .cmp(&(a.blocked + a.would_block))
                .then_with(|| a.user.cmp(&b.user))
        });
        let sources = summary
            .users
            .iter()
            .flat_map(|u| {
                u.sources.iter().map(|s| UserSource {
                    user: u.user.clone(),
                    asn: s.asn,
                    as_desc: s.as_desc.clone(),
                    logins: s.counts.logins,
                    matched: s.counts.matched,
                    networks: s.networks.clone(),
                    hosts: s.hosts.clone(),
                    hosts_more: s.hosts_more,
                    clouds: s.clouds.clone(),
                    ips: s.ips,
                })
            })
            .collect();
        let mut asns: Vec<AsnRow> = summary
            .asns
            .iter()
            .map(|a| {
                let verdict = cx.asn_verdict(a);
                AsnRow {
                    asn: a.asn,
                    as_desc: a.as_desc.clone(),
                    as_cc: a.as_cc.clone(),
                    logins: a.counts.logins,
                    users: a.users,
                    matched: a.counts.matched,
                    status: verdict.status,
                    why: verdict.why(),
                }
            })
            .collect();
        rank(
            &mut asns,
            options.top,
            |r| (r.users, r.logins),
            options.by_logins,
            |a, b| a.asn.cmp(&b.asn),
        );
        let mut clouds: Vec<CloudRow> = summary
            .clouds
            .iter()
            .map(|c| {
                let verdict = cx.cloud_verdict(c);
                CloudRow {
                    cloud: c.service.clone(),
                    logins: c.counts.logins,
                    users: c.users,
                    matched: c.counts.matched,
                    status: verdict.status,
                    why: verdict.why(),
                }
            })
            .collect();
        rank(
            &mut clouds,
            options.top,
            |r| (r.users, r.logins),
            options.by_logins,
            |a, b| a.cloud.cmp(&b.cloud),
        );
        let mut countries: Vec<CountryRow> = summary
            .countries
            .iter()
            .map(|c| CountryRow {
                country: c.country.clone(),
                logins: c.counts.logins,
                users: c.users,
                matched: c.counts.matched,
            })
            .collect();
        rank(
            &mut countries,
            options.top,
            |r| (r.users, r.logins),
            options.by_logins,
            |a, b| a.country.cmp(&b.country),
        );
        Report {
            since_us: None,
            user: None,
            totals,
            blocked_users,
            sources,
            asns,
            clouds,
            countries,
            input: None,
        }
    }

    /// The candidates among the ranked ASes.
    pub fn candidate_asns(&self) -> impl Iterator<Item = &AsnRow> {
        self.asns.iter().filter(|a| a.status == Status::Candidate)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn asn(n: u32, desc: &str, hosts: &[&str], users: usize, matched: u64) -> AsnSummary {
        AsnSummary {
            asn: Some(n),
            as_desc: Some(desc.into()),
            as_cc: Some("US".into()),
            users,
            counts: Counts {
                logins: 10,
                matched,
                first_us: 1,
                last_us: 2,
            },
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            logins_without_host: 0,
            clouds: vec![],
        }
    }

    #[test]
    fn only_what_looks_like_hosting_is_a_candidate_and_says_why() {
        let cx = Context::default();
        let isp = asn(
            7922,
            "COMCAST-7922, US",
            &[
                "c-73-12-34-56.hsd1.ma.comcast.net",
                "dynamic-73-12-34-57.example.net",
            ],
            40,
            0,
        );
        let v = cx.asn_verdict(&isp);
        assert_eq!(v.status, Status::Unlisted);
        assert_eq!(
            v.why(),
            "consumer AS name (COMCAST); consumer host names (hsd, dynamic)"
        );
        let quiet = asn(64500, "EXNET-AS, US", &[], 40, 0);
        assert_eq!(cx.asn_verdict(&quiet).status, Status::Unlisted);
        assert_eq!(cx.asn_verdict(&quiet).why(), "no hosting evidence");

        let hosting = asn(
            24940,
            "HETZNER-AS, DE",
            &["static.1.2.3.4.clients.your-server.de"],
            1,
            0,
        );
        let v = cx.asn_verdict(&hosting);
        assert_eq!(v.status, Status::Candidate);
        assert_eq!(
            v.why(),
            "hosting AS name (HETZNER); server host names (static, server)"
        );
        // Once a list catches a login, the lists decide and there is nothing to explain.
        let v = cx.asn_verdict(&asn(24940, "HETZNER-AS, DE", &[], 3, 4));
        assert_eq!((v.status, v.why().as_str()), (Status::Partly, ""));
        assert_eq!(
            serde_json::to_value(Status::Unlisted).unwrap(),
            serde_json::json!("unlisted")
        );
    }

    #[test]
    fn a_report_row_without_why_still_reads() {
        let row: AsnRow = serde_json::from_value(serde_json::json!({
            "asn": 1, "as_desc": null, "as_cc": null, "logins": 1, "users": 1,
            "matched": 0, "status": "candidate"
        }))
        .unwrap();
        assert_eq!(row.why, "");
    }
}
