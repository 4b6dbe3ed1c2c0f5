//! TEMPORARY: the templates against the old renderer.
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;

use askama::Template;

use super::data::{Health, ListRow, Overview, UserView};
use super::old_render as old;
use super::range::Range;
use super::view::*;
use crate::history::aggregate::{Counts, OutcomeCounts, SourceSummary, UserSummary};
use crate::history::report::{AsnRow, CloudRow, CountryRow, Report, Status, Totals};
use crate::history::store::{HistoryError, HistoryStats};
use crate::history::writer::WriterCounters;
use crate::history::{Outcome, Record};
use crate::lists::{Diagnostic, Severity};

const NOW: u64 = 1_764_245_400 * 1_000_000;

fn norm(s: &str) -> String {
    s.replace("&amp;", "&#38;")
        .replace("&lt;", "&#60;")
        .replace("&gt;", "&#62;")
        .replace("&quot;", "&#34;")
}

fn same(old: &str, new: &str) {
    let old = norm(old);
    if old != new {
        let at = old
            .bytes()
            .zip(new.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let lo = at.saturating_sub(200);
        panic!(
            "differ at {at}:\nOLD: {:?}\nNEW: {:?}",
            &old[lo..(at + 200).min(old.len())],
            &new[lo..(at + 200).min(new.len())]
        );
    }
}

fn record(i: u64, outcome: Outcome) -> Record {
    Record {
        time_us: if i == 3 {
            None
        } else {
            Some(NOW - i * 60_000_000)
        },
        user: format!("<img src=x onerror=alert({i})> & \"q\" 'a' ü"),
        service: "imap\"".into(),
        ip: "192.0.2.1".parse().unwrap(),
        host: if i == 2 {
            None
        } else {
            Some("evil'<b>.example".into())
        },
        asn: if i == 1 { None } else { Some(64500) },
        as_cc: Some("ZZ".into()),
        as_desc: if i == 4 {
            None
        } else {
            Some("<script>alert(2)</script>".into())
        },
        net_name: None,
        net_cc: None,
        entities: Vec::new(),
        cloud: Vec::new(),
        geo_cc: None,
        outcome,
        matched: Some("rev_host".into()),
        matched_entry: Some("rev_host.deny.lst:3: <&>".into()),
        lookup_errors: Vec::new(),
    }
}

fn records() -> Vec<Record> {
    [
        Outcome::Allowed,
        Outcome::Blocked,
        Outcome::WouldBlock,
        Outcome::TempFail,
        Outcome::Unverified,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, o)| record(i as u64, o))
    .collect()
}

fn health(diags: usize, degraded: bool) -> Health {
    let dir = PathBuf::from("/etc/badclients/<lists>");
    Health {
        dir: dir.clone(),
        config_path: if degraded {
            None
        } else {
            Some(PathBuf::from("/etc/b&c.toml"))
        },
        rows: vec![
            ListRow {
                file: "ip_net.deny.lst",
                entries: 3,
                present: true,
                errors: 1,
                warnings: 0,
            },
            ListRow {
                file: "asn.deny.lst",
                entries: 0,
                present: false,
                errors: 0,
                warnings: 2,
            },
            ListRow {
                file: "rev_host.deny.lst",
                entries: 0,
                present: false,
                errors: 0,
                warnings: 0,
            },
            ListRow {
                file: "user.allow.lst",
                entries: 0,
                present: false,
                errors: 0,
                warnings: 0,
            },
        ],
        diagnostics: (0..diags)
            .map(|i| Diagnostic {
                path: if i % 2 == 0 {
                    dir.join("ip_net.deny.lst")
                } else {
                    PathBuf::from("/elsewhere/k.lst")
                },
                line: if i % 3 == 0 { None } else { Some(i) },
                severity: if i % 2 == 0 {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                message: format!("bad <entry> & \"{i}\""),
            })
            .collect(),
        loaded_at_us: NOW - 7_200_000_000,
        degraded: degraded.then_some("the list directory is <gone>"),
    }
}

fn report(empty: bool) -> Report {
    let row = |asn: Option<u32>, status: Status, why: &str| AsnRow {
        asn,
        as_desc: asn.map(|a| format!("AS-<{a}>")),
        as_cc: if asn == Some(1) {
            Some(String::new())
        } else {
            Some("DE".into())
        },
        logins: 9,
        users: 6,
        matched: 1,
        status,
        why: why.into(),
    };
    Report {
        since_us: None,
        user: None,
        totals: Totals {
            logins: 10,
            users: 3,
            allowed: 5,
            blocked: 2,
            would_block: 1,
            tempfail: if empty { 0 } else { 1 },
            unverified: if empty { 0 } else { 1 },
            first_us: 0,
            last_us: 0,
        },
        blocked_users: vec![],
        sources: vec![],
        asns: if empty {
            vec![]
        } else {
            vec![
                row(Some(7922), Status::Unlisted, "consumer host names (hsd)"),
                row(
                    Some(24940),
                    Status::Candidate,
                    "hosting AS name (HETZNER) <&>",
                ),
                row(None, Status::Unknown, ""),
                row(Some(1), Status::Listed, "x"),
            ]
        },
        clouds: if empty {
            vec![]
        } else {
            vec![
                CloudRow {
                    cloud: "aws:EC2".into(),
                    logins: 3,
                    users: 3,
                    matched: 0,
                    status: Status::Candidate,
                    why: "cloud ranges <aws>".into(),
                },
                CloudRow {
                    cloud: "gcp".into(),
                    logins: 3,
                    users: 3,
                    matched: 0,
                    status: Status::Caught,
                    why: String::new(),
                },
            ]
        },
        countries: if empty {
            vec![]
        } else {
            vec![
                CountryRow {
                    country: Some("DE".into()),
                    logins: 1,
                    users: 1,
                    matched: 0,
                },
                CountryRow {
                    country: None,
                    logins: 1,
                    users: 1,
                    matched: 0,
                },
            ]
        },
        input: None,
    }
}

fn overview(empty: bool) -> Overview {
    let hour = Range::Day.bucket_us();
    let this = NOW / hour * hour;
    Overview {
        report: report(empty),
        buckets: if empty {
            vec![]
        } else {
            vec![
                (
                    this - 2 * hour,
                    OutcomeCounts {
                        allowed: 3,
                        blocked: 1,
                        would_block: 2,
                        tempfail: 1,
                        unverified: 3,
                    },
                ),
                (
                    this,
                    OutcomeCounts {
                        allowed: 1,
                        ..OutcomeCounts::default()
                    },
                ),
            ]
        },
        latest: if empty { vec![] } else { records() },
        stats: HistoryStats {
            records: 12,
            blocks: 1,
            strings: 3,
            oldest_us: if empty {
                None
            } else {
                Some(NOW - 90_000_000_000)
            },
            file_bytes: 3 * 1024 * 1024 + 5,
        },
    }
}

fn new_overview(
    range: Range,
    health: &Health,
    o: Option<&(PathBuf, Result<Overview, HistoryError>)>,
    counters: Option<&WriterCounters>,
) -> String {
    let history = match o {
        None => HistoryPart::Off,
        Some((path, Err(e))) => HistoryPart::Unreadable {
            path: path.display().to_string(),
            error: e.to_string(),
        },
        Some((path, Ok(o))) => {
            HistoryPart::Shown(Box::new(Shown::new(range, NOW, path, o, counters)))
        }
    };
    OverviewPage {
        chrome: Chrome::new("badclients dashboard".into(), Some(range), "", NOW),
        history,
        health: HealthCard { health, now: NOW },
    }
    .render()
    .unwrap()
}

#[test]
fn overviews_match() {
    let counters = WriterCounters::default();
    counters.commit_errors.store(2, Relaxed);
    let quiet = WriterCounters::default();
    for (diags, degraded) in [(0, false), (3, false), (120, true), (1, false)] {
        let h = health(diags, degraded);
        for range in Range::ALL {
            for empty in [false, true] {
                let o = (PathBuf::from("/var/lib/<h>.redb"), Ok(overview(empty)));
                for c in [None, Some(&counters), Some(&quiet)] {
                    let mut out = String::new();
                    old::render_overview(&mut out, range, NOW, &h, Some(&o), c).unwrap();
                    same(&out, &new_overview(range, &h, Some(&o), c));
                }
            }
            let mut out = String::new();
            old::render_overview(&mut out, range, NOW, &h, None, None).unwrap();
            same(&out, &new_overview(range, &h, None, None));
            let e = (
                PathBuf::from("/x<y>"),
                Err(HistoryError::Journal {
                    path: PathBuf::from("/j<&>"),
                    source: std::io::Error::other("<boom>"),
                }),
            );
            let mut out = String::new();
            old::render_overview(&mut out, range, NOW, &h, Some(&e), None).unwrap();
            same(&out, &new_overview(range, &h, Some(&e), None));
        }
    }
}

fn user(i: usize) -> UserSummary {
    UserSummary {
        user: format!("<u{i}>"),
        counts: Counts {
            logins: 4,
            matched: 1,
            first_us: NOW - 1_000_000_000,
            last_us: NOW,
        },
        outcomes: OutcomeCounts {
            allowed: 1,
            blocked: 2,
            would_block: 1,
            tempfail: 0,
            unverified: 0,
        },
        matched: if i == 0 {
            vec![]
        } else {
            vec![("rev<host>".into(), 3), ("asn".into(), 1)]
        },
        last_matched_us: 0,
        sources: vec![
            SourceSummary {
                asn: Some(3320),
                as_desc: Some("DTAG <x>".into()),
                counts: Counts {
                    logins: 3,
                    matched: 1,
                    first_us: 1,
                    last_us: NOW,
                },
                outcomes: OutcomeCounts::default(),
                networks: (0..10).map(|n| format!("10.{n}.0.0/16")).collect(),
                hosts: vec!["a<b>.example".into()],
                hosts_more: true,
                clouds: vec![],
                ips: 5,
            },
            SourceSummary {
                asn: None,
                as_desc: None,
                counts: Counts {
                    logins: 1,
                    matched: 0,
                    first_us: 1,
                    last_us: NOW,
                },
                outcomes: OutcomeCounts::default(),
                networks: vec!["10.0.0.0/8".into()],
                hosts: vec![],
                hosts_more: false,
                clouds: vec!["aws:EC2".into()],
                ips: 1,
            },
        ],
    }
}

#[test]
fn user_pages_match() {
    let found = Ok(UserView {
        users: vec![user(0), user(1)],
        latest: records(),
    });
    let nobody = Ok(UserView::default());
    let broken = Err(HistoryError::Journal {
        path: PathBuf::from("/j<&>"),
        source: std::io::Error::other("<boom>"),
    });
    for wanted in ["", "<i>\"x\"</i>", "alice"] {
        for view in [None, Some(&found), Some(&nobody), Some(&broken)] {
            let mut out = String::new();
            old::render_user(&mut out, wanted, view).unwrap();
            let new = UserPage::new(wanted, view, crate::clock::now_us())
                .render()
                .unwrap();
            same(&out, &new);
        }
    }
}
