//! `badclients report`: who logs in from where, what was blocked, and which ASes and
//! clouds are candidates for a list — built from a [`Summary`] and judged by
//! [`super::status`]; `render.rs` writes it as aligned tables or CSV (JSON is its serde
//! form).
//!
//! A group's status says how the lists treat it: `listed` (its AS is in `asn.deny.lst`, or
//! a tag matches `cloud.deny.lst`), `caught` (every login matched some list), `partly`
//! (some did), `known-good` (in `known_good.lst`); when no list caught any login, it is a
//! `candidate` (worth a look) if it looks like hosting by [`super::hosting`] — the same
//! evidence `suggest` proposes entries on — and `unlisted` otherwise (a consumer ISP). Both
//! say why in the row's `why`.

mod render;

use serde::Serialize;

use super::aggregate::Summary;
pub use super::source::InputStats;
pub use super::status::{Context, Status, Verdict};

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
}

#[cfg(test)]
mod tests {
    use super::*;

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
