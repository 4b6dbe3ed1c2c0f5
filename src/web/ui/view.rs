//! The dashboard's pages as template contexts: what `data` read, turned into what
//! the templates of `assets/ui/templates/` show (texts, dashes for unknown values, ages,
//! sizes, links). The templates escape every value; nothing here writes HTML.

use std::sync::atomic::Ordering::Relaxed;

use askama::Template;

use super::chart::{Chart, ChartSvg};
use super::data::{Health, ListRow, Overview, ReadError, UserView};
use super::range::Range;
use crate::analysis::aggregate::{SourceSummary, UserSummary};
use crate::analysis::report::{Report, Status};
use crate::analysis::time::format_minute;
use crate::history::asn_text;
use crate::history::store::HistoryStats;
use crate::history::writer::WriterCounters;
use crate::history::{Outcome, Record};
use crate::lists::Severity;

/// The most diagnostics listed under the health table.
const DIAGNOSTICS_SHOWN: usize = 100;
/// The most chips in one cell of the login sources.
const CHIPS_SHOWN: usize = 8;

/// What every page has around its cards: the title, the range links, the search box, the
/// time it was made.
#[derive(Debug)]
pub(crate) struct Chrome {
    pub title: String,
    pub range: Option<Range>,
    pub search: String,
    pub generated: String,
    /// `&node=…` (URL-encoded) carried by the range links when a node is chosen; empty
    /// otherwise.
    pub node_query: String,
}

impl Chrome {
    pub(crate) fn new(title: String, range: Option<Range>, search: &str, now: u64) -> Chrome {
        Chrome {
            title,
            range,
            search: search.to_string(),
            generated: format_minute(now),
            node_query: String::new(),
        }
    }

    /// The range links keep `node` chosen.
    pub(crate) fn with_node(mut self, node: Option<&str>) -> Chrome {
        if let Some(node) = node {
            let encoded: String = url::form_urlencoded::byte_serialize(node.as_bytes()).collect();
            self.node_query = format!("&node={encoded}");
        }
        self
    }

    /// Each range's name and whether it is the page's.
    fn ranges(&self) -> Vec<(&'static str, bool)> {
        Range::ALL
            .into_iter()
            .map(|r| (r.name(), self.range == Some(r)))
            .collect()
    }
}

/// One figure in a row of cards.
#[derive(Debug)]
pub(crate) struct Stat {
    pub class: &'static str,
    pub label: &'static str,
    pub value: String,
}

impl Stat {
    fn new(class: &'static str, label: &'static str, value: impl ToString) -> Stat {
        Stat {
            class,
            label,
            value: value.to_string(),
        }
    }
}

/// `v`, or `—` when unknown or empty.
pub(crate) fn or_dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("—")
}

/// How long before `now` `then` was, in words (empty when unknown or in the future).
pub(crate) fn ago(now: u64, then: u64) -> String {
    if then == 0 || then > now {
        return String::new();
    }
    let secs = (now - then) / 1_000_000;
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// A file size in B, KiB, MiB, GiB or TiB.
pub(crate) fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The user page's address for `user` (its query percent-encoded).
pub(crate) fn user_href(user: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
    format!("/ui/user?q={q}")
}

/// A report status as a badge: its CSS class and name.
fn status_class(status: Status) -> &'static str {
    match status {
        Status::Unknown => "unknown",
        other => other.name(),
    }
}

/// The outcome of a decision as a badge: CSS class, name, tooltip.
fn outcome_badge(outcome: Outcome) -> (&'static str, &'static str, &'static str) {
    match outcome {
        Outcome::Allowed => ("allowed", "allowed", ""),
        Outcome::Blocked => ("blocked", "blocked", ""),
        Outcome::WouldBlock => ("would-block", "would-block", ""),
        Outcome::TempFail => ("tempfail", "tempfail", ""),
        Outcome::Unverified => (
            "unverified",
            "unverified",
            "a list matched before the password was checked: maybe a password guess",
        ),
    }
}

/// Decisions, one a row: when, who (and the service), from where (address and host), the
/// AS, the outcome, and why (the label and the list entry that matched).
#[derive(Debug, Template)]
#[template(path = "decisions.html")]
pub(crate) struct DecisionTable<'a> {
    pub records: &'a [Record],
    /// Whether user names link to their page.
    pub link_users: bool,
    /// The text of an empty table.
    pub none: &'static str,
}

impl DecisionTable<'_> {
    fn time(&self, r: &Record) -> String {
        r.time_us.map(format_minute).unwrap_or_else(|| "—".into())
    }
    fn asn(&self, r: &Record) -> String {
        asn_text(r.asn, "—")
    }
    fn outcome(&self, r: &Record) -> (&'static str, &'static str, &'static str) {
        outcome_badge(r.outcome)
    }
}

/// The list health card.
#[derive(Debug, Template)]
#[template(path = "health.html")]
pub(crate) struct HealthCard<'a> {
    pub health: &'a Health,
    pub now: u64,
}

impl HealthCard<'_> {
    /// The badge's class and text: degraded, errors, warnings or clean.
    fn verdict(&self) -> (&'static str, String) {
        let d = &self.health.diagnostics;
        let errors = d.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = d.len() - errors;
        if let Some(fault) = self.health.degraded {
            (
                "bad",
                format!("degraded: {fault}; the lists in force are kept"),
            )
        } else if errors > 0 {
            ("bad", format!("{errors} errors, {warnings} warnings"))
        } else if warnings > 0 {
            ("warn", format!("{warnings} warnings"))
        } else {
            ("ok", "clean".to_string())
        }
    }
    fn dir(&self) -> String {
        self.health.dir.display().to_string()
    }
    fn config(&self) -> String {
        self.health
            .config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(defaults)".into())
    }
    fn loaded(&self) -> String {
        format_minute(self.health.loaded_at_us)
    }
    fn loaded_ago(&self) -> String {
        ago(self.now, self.health.loaded_at_us)
    }
    fn shown(&self) -> Vec<&ListRow> {
        self.health.rows.iter().filter(|r| r.shown()).collect()
    }
    fn absent(&self) -> String {
        let absent: Vec<&str> = self
            .health
            .rows
            .iter()
            .filter(|r| !r.shown())
            .map(|r| r.file)
            .collect();
        absent.join(", ")
    }
    /// The first diagnostics: class, place (`file:line` under the list directory),
    /// severity, message.
    fn diagnostics(&self) -> Vec<(&'static str, String, Severity, &str)> {
        self.health
            .diagnostics
            .iter()
            .take(DIAGNOSTICS_SHOWN)
            .map(|d| {
                let path = d.path.strip_prefix(&self.health.dir).unwrap_or(&d.path);
                let mut place = path.display().to_string();
                if let Some(line) = d.line {
                    place.push_str(&format!(":{line}"));
                }
                let class = if d.severity == Severity::Error {
                    "bad"
                } else {
                    "warn"
                };
                (class, place, d.severity, d.message.as_str())
            })
            .collect()
    }
    fn more_diagnostics(&self) -> usize {
        self.health
            .diagnostics
            .len()
            .saturating_sub(DIAGNOSTICS_SHOWN)
    }
}

/// The overview's history part.
#[derive(Debug)]
pub(crate) enum HistoryPart<'a> {
    /// `[history] enabled = false`.
    Off,
    /// The history could not be read.
    Unreadable {
        path: String,
        error: String,
    },
    Shown(Box<Shown<'a>>),
}

/// The history's cards on the overview.
#[derive(Debug)]
pub(crate) struct Shown<'a> {
    pub range: Range,
    pub report: &'a Report,
    pub totals: Vec<Stat>,
    pub chart: Chart,
    pub latest: &'a [Record],
    pub file: String,
    pub stats: &'a HistoryStats,
    pub counters: Option<&'a WriterCounters>,
    pub now: u64,
}

impl<'a> Shown<'a> {
    pub(crate) fn new(
        range: Range,
        now: u64,
        file: String,
        o: &'a Overview,
        counters: Option<&'a WriterCounters>,
    ) -> Shown<'a> {
        Shown {
            range,
            report: &o.report,
            totals: totals(&o.report),
            chart: Chart::build(&o.buckets, range, now),
            latest: &o.latest,
            file,
            stats: &o.stats,
            counters,
            now,
        }
    }
    fn chart_svg(&self) -> ChartSvg<'_> {
        ChartSvg { chart: &self.chart }
    }
    fn latest_table(&self) -> DecisionTable<'_> {
        DecisionTable {
            records: self.latest,
            link_users: true,
            none: "nothing blocked yet",
        }
    }
    fn asn(&self, asn: Option<u32>) -> String {
        asn_text(asn, "—")
    }
    fn oldest(&self) -> String {
        self.stats
            .oldest_us
            .map(|t| format!("{} UTC", format_minute(t)))
            .unwrap_or_else(|| "—".into())
    }
    fn oldest_ago(&self) -> String {
        self.stats
            .oldest_us
            .map(|t| ago(self.now, t))
            .unwrap_or_default()
    }
    /// Written, pruned, commit errors, journal errors since start.
    fn written(&self) -> Option<(u64, u64, u64, u64)> {
        self.counters.map(|c| {
            (
                c.committed.load(Relaxed),
                c.pruned.load(Relaxed),
                c.commit_errors.load(Relaxed),
                c.journal_errors.load(Relaxed),
            )
        })
    }
}

/// The totals over the range as cards (tempfail and unverified only when they happened).
fn totals(report: &Report) -> Vec<Stat> {
    let t = &report.totals;
    let mut cards = vec![
        Stat::new("", "logins", t.logins),
        Stat::new("", "users", t.users),
        Stat::new("allowed", "allowed", t.allowed),
        Stat::new("blocked", "blocked", t.blocked),
        Stat::new("would-block", "would-block (audit)", t.would_block),
    ];
    if t.tempfail > 0 {
        cards.push(Stat::new("tempfail", "tempfail", t.tempfail));
    }
    if t.unverified > 0 {
        cards.push(Stat::new(
            "unverified",
            "refused before the password was checked",
            t.unverified,
        ));
    }
    cards.push(Stat::new(
        "candidate",
        "candidate ASes",
        report.candidate_asns().count(),
    ));
    cards
}

/// `GET /ui`.
#[derive(Debug, Template)]
#[template(path = "overview.html")]
pub(crate) struct OverviewPage<'a> {
    pub chrome: Chrome,
    /// The node selector (the shared history only).
    pub nodes: Option<NodePicker>,
    pub history: HistoryPart<'a>,
    pub health: HealthCard<'a>,
}

/// The nodes of the shared history to choose from, and the one shown (`None`: all).
#[derive(Debug, Default)]
pub(crate) struct NodePicker {
    pub range: &'static str,
    pub names: Vec<String>,
    pub current: Option<String>,
}

impl NodePicker {
    fn is_current(&self, name: &str) -> bool {
        self.current.as_deref() == Some(name)
    }
}

/// The user page's main part.
#[derive(Debug)]
pub(crate) enum UserPart<'a> {
    /// Nothing searched for yet.
    Search,
    /// `[history] enabled = false`.
    HistoryOff,
    /// The history could not be read.
    Unreadable(String),
    /// The user is not in the history.
    NoLogins,
    Found(&'a UserView),
}

/// `GET /ui/user?q=…`.
#[derive(Debug, Template)]
#[template(path = "user.html")]
pub(crate) struct UserPage<'a> {
    pub chrome: Chrome,
    pub wanted: &'a str,
    pub part: UserPart<'a>,
}

impl<'a> UserPage<'a> {
    pub(crate) fn new(
        wanted: &'a str,
        view: Option<&'a Result<UserView, ReadError>>,
        now: u64,
    ) -> UserPage<'a> {
        let title = if wanted.is_empty() {
            "user search · badclients".to_string()
        } else {
            format!("{wanted} · badclients")
        };
        let part = match view {
            _ if wanted.is_empty() => UserPart::Search,
            None => UserPart::HistoryOff,
            Some(Err(e)) => UserPart::Unreadable(e.to_string()),
            Some(Ok(v)) if v.users.is_empty() => UserPart::NoLogins,
            Some(Ok(v)) => UserPart::Found(v),
        };
        UserPage {
            chrome: Chrome::new(title, None, wanted, now),
            wanted,
            part,
        }
    }

    /// A user's figures as cards.
    fn stats(&self, u: &UserSummary) -> Vec<Stat> {
        let o = &u.outcomes;
        vec![
            Stat::new("", "logins", u.counts.logins),
            Stat::new("allowed", "allowed", o.allowed),
            Stat::new("blocked", "blocked", o.blocked),
            Stat::new("would-block", "would-block (audit)", o.would_block),
            Stat::new("when", "first seen (UTC)", format_minute(u.counts.first_us)),
            Stat::new("when", "last seen (UTC)", format_minute(u.counts.last_us)),
        ]
    }
    fn asn(&self, s: &SourceSummary) -> String {
        asn_text(s.asn, "—")
    }
    fn minute(&self, us: u64) -> String {
        format_minute(us)
    }
    /// The first chips of a cell and how many more there are (`+` when even more were
    /// seen than kept).
    fn chips<'b>(&self, items: &'b [String], more: bool) -> (&'b [String], String) {
        let shown = &items[..items.len().min(CHIPS_SHOWN)];
        let hidden = items.len() - shown.len();
        let rest = if hidden > 0 || more {
            format!("+{hidden}{} more", if more { "+" } else { "" })
        } else {
            String::new()
        };
        (shown, rest)
    }
    fn latest_table(&self, view: &'a UserView) -> DecisionTable<'a> {
        DecisionTable {
            records: &view.latest,
            link_users: false,
            none: "no decisions",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::analysis::report::{AsnRow, CloudRow};

    const NOW: u64 = 1_764_245_400 * 1_000_000; // 2025-11-27 12:10 UTC

    fn hostile_record() -> Record {
        Record {
            time_us: Some(NOW),
            user: "<img src=x onerror=alert(1)>".into(),
            service: "imap\"".into(),
            ip: "192.0.2.1".parse().unwrap(),
            host: Some("evil'<b>.example".into()),
            asn: Some(64500),
            as_cc: Some("ZZ".into()),
            as_desc: Some("<script>alert(2)</script>".into()),
            net_name: None,
            net_cc: None,
            entities: Vec::new(),
            cloud: Vec::new(),
            geo_cc: None,
            outcome: Outcome::Blocked,
            matched: Some("rev_host".into()),
            matched_entry: Some("rev_host.deny.lst:3: <&>".into()),
            lookup_errors: Vec::new(),
        }
    }

    #[test]
    fn pages_escape_what_clients_and_registries_send() {
        let records = [hostile_record()];
        let out = DecisionTable {
            records: &records,
            link_users: true,
            none: "nothing blocked yet",
        }
        .render()
        .unwrap();
        assert!(!out.contains("<img"), "{out}");
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<b>"), "{out}");
        assert!(
            out.contains("&#60;img src=x onerror=alert(1)&#62;"),
            "{out}"
        );
        assert!(out.contains("evil&#39;&#60;b&#62;.example"), "{out}");
        assert!(
            out.contains("rev_host.deny.lst:3: &#60;&#38;&#62;"),
            "{out}"
        );
        assert!(out.contains("imap&#34;"), "{out}");
        // The link's query is percent-encoded, then escaped.
        assert!(out.contains("href=\"/ui/user?q=%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E\""));

        let page = UserPage::new("<i>\"x\"</i>", None, NOW).render().unwrap();
        assert!(!page.contains("<i>"), "{page}");
        assert!(
            page.contains("value=\"&#60;i&#62;&#34;x&#34;&#60;/i&#62;\""),
            "{page}"
        );
        assert!(page.contains("<title>&#60;i&#62;"), "{page}");
        assert!(page.contains("history is off"));
    }

    #[test]
    fn the_five_characters_are_escaped_in_text_and_attributes() {
        let records = [Record {
            user: "a&b<c>d\"e'f".into(),
            ..hostile_record()
        }];
        let out = DecisionTable {
            records: &records,
            link_users: false,
            none: "",
        }
        .render()
        .unwrap();
        assert!(
            out.contains("<td>a&#38;b&#60;c&#62;d&#34;e&#39;f<div"),
            "{out}"
        );
    }

    fn report(asns: Vec<AsnRow>, clouds: Vec<CloudRow>) -> Report {
        Report {
            since_us: None,
            user: None,
            totals: Default::default(),
            blocked_users: vec![],
            sources: vec![],
            asns,
            clouds,
            countries: vec![],
            input: None,
        }
    }

    fn overview_page(health: &Health, history: HistoryPart<'_>) -> String {
        OverviewPage {
            chrome: Chrome::new("badclients dashboard".into(), Some(Range::Day), "", NOW),
            nodes: None,
            history,
            health: HealthCard { health, now: NOW },
        }
        .render()
        .unwrap()
    }

    fn health() -> Health {
        Health {
            dir: PathBuf::from("/etc/badclients/lists"),
            config_path: None,
            rows: vec![ListRow {
                file: "ip_net.deny.lst",
                entries: 3,
                present: true,
                errors: 0,
                warnings: 0,
            }],
            diagnostics: Vec::new(),
            loaded_at_us: NOW,
            degraded: None,
        }
    }

    #[test]
    fn the_top_asns_and_clouds_say_why_a_row_is_a_candidate_or_not() {
        let row = |asn: u32, status: Status, why: &str| AsnRow {
            asn: Some(asn),
            as_desc: Some(format!("AS-{asn}")),
            as_cc: None,
            logins: 9,
            users: 6,
            matched: 0,
            status,
            why: why.into(),
        };
        let overview = Overview {
            report: report(
                vec![
                    row(7922, Status::Unlisted, "consumer host names (hsd)"),
                    row(24940, Status::Candidate, "hosting AS name (HETZNER) <&>"),
                ],
                vec![CloudRow {
                    cloud: "aws:EC2".into(),
                    logins: 3,
                    users: 3,
                    matched: 0,
                    status: Status::Candidate,
                    why: "cloud ranges aws:EC2:eu-central-1".into(),
                }],
            ),
            buckets: vec![],
            latest: vec![],
            stats: HistoryStats {
                records: 0,
                blocks: 0,
                strings: 0,
                oldest_us: None,
                file_bytes: 0,
            },
        };
        let health = health();
        let shown = Shown::new(Range::Day, NOW, "/h.redb".into(), &overview, None);
        let out = overview_page(&health, HistoryPart::Shown(Box::new(shown)));
        assert!(
            out.contains(
                "<span class=\"badge st-candidate\" title=\"cloud ranges aws:EC2:eu-central-1\">"
            ),
            "{out}"
        );
        let line = |asn: &str| {
            out.lines()
                .find(|l| l.contains(asn))
                .unwrap_or_else(|| panic!("no {asn} row: {out}"))
        };
        let isp = line(">AS7922<");
        assert!(!isp.contains("class=\"candidate\""), "{isp}");
        assert!(isp.contains("st-unlisted"), "{isp}");
        assert!(isp.contains("<td>consumer host names (hsd)</td>"), "{isp}");
        let hosting = line(">AS24940<");
        assert!(hosting.starts_with("<tr class=\"candidate\">"), "{hosting}");
        assert!(
            hosting.contains("<td>hosting AS name (HETZNER) &#60;&#38;&#62;</td>"),
            "{hosting}"
        );
        assert!(out.contains("<svg class=\"chart\""), "{out}");
        assert!(out.contains("id=\"history-stats\""), "{out}");
    }

    #[test]
    fn an_unknown_user_says_no_logins() {
        let view = Ok(UserView::default());
        let page = UserPage::new("nobody", Some(&view), NOW).render().unwrap();
        assert!(page.contains("id=\"no-logins\""));
        assert!(page.contains("No logins recorded"));
    }

    #[test]
    fn the_overview_says_when_the_history_is_off() {
        let page = overview_page(&health(), HistoryPart::Off);
        assert!(page.contains("id=\"history-off\""), "{page}");
        assert!(page.contains("[history] enabled = false"));
        assert!(page.contains("id=\"list-health\""));
        assert!(page.contains("2025-11-27 12:10 UTC"));
        assert!(!page.contains("<svg"));
    }

    #[test]
    fn sizes_and_ages() {
        assert_eq!(bytes_text(512), "512 B");
        assert_eq!(bytes_text(1536), "1.5 KiB");
        assert_eq!(bytes_text(3 * 1024 * 1024), "3.0 MiB");
        let now = 10_000_000_000;
        assert_eq!(ago(now, now - 5_000_000), "just now");
        assert_eq!(ago(now, now - 120_000_000), "2 min ago");
        assert_eq!(ago(now, now - 7_200_000_000), "2 h ago");
        assert_eq!(ago(now, 0), "");
        assert_eq!(user_href("a b&c"), "/ui/user?q=a+b%26c");
    }
}
