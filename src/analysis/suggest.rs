//! `badclients suggest`: deny-list entries proposed from the history, for networks where
//! several distinct users log in and that look like hosting or a cloud rather than a
//! consumer ISP. Each proposal carries its evidence; nothing is ever written to a list.
//!
//! Kinds: an AS (`asn.deny.lst`), a cloud service (`cloud.deny.lst`), a reverse-DNS shape
//! (`rev_host.deny.lst`, a Lua pattern generalised from the host names and checked with
//! the same matcher the daemon uses against every host it stands for) and an RDAP entity
//! (`entity.deny.lst`).
//!
//! Whether something looks like hosting is [`super::hosting`]'s judgement, the same one
//! that makes an AS or a cloud a `candidate` in `report`: an AS is proposed exactly when
//! the report calls it a candidate and enough users log in from it.

use std::fmt::Write as _;

use serde::Serialize;

use super::aggregate::{Counts, EvidenceSummary, Summary};
use super::hosting::Evidence;
use super::shape::escape_lua;
use super::status::{Context, Status};
use super::time::format_minute;
use crate::facts::CloudTag;

/// What kind of entry a suggestion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Asn,
    Cloud,
    RevHost,
    Entity,
}

impl Kind {
    /// The list file the line belongs in.
    pub fn file(self) -> &'static str {
        match self {
            Kind::Asn => "asn.deny.lst",
            Kind::Cloud => "cloud.deny.lst",
            Kind::RevHost => "rev_host.deny.lst",
            Kind::Entity => "entity.deny.lst",
        }
    }
}

/// One proposed list line with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Suggestion {
    pub kind: Kind,
    /// The line to paste.
    pub line: String,
    /// What the line stands for (`AS16509 AMAZON-02, US`).
    pub subject: String,
    pub users: Vec<String>,
    pub logins: u64,
    pub first_us: u64,
    pub last_us: u64,
    /// Why it looks like hosting.
    pub why: Vec<String>,
    /// Hosts it was seen with (a few).
    pub hosts: Vec<String>,
}

/// Settings of `suggest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestOptions {
    /// At least this many distinct users.
    pub min_users: usize,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions { min_users: 3 }
    }
}

/// The proposals in `summary` (aggregated with `for_suggest`), strongest first.
pub fn suggest(summary: &Summary, cx: &Context<'_>, options: SuggestOptions) -> Vec<Suggestion> {
    let kg = cx.known_good;
    let lists = cx.lists;
    let mut out = Vec::new();
    let desc_of = |asn: u32| {
        summary
            .asns
            .iter()
            .find(|a| a.asn == Some(asn))
            .and_then(|a| a.as_desc.as_deref())
    };
    let users_of_asn = |asn: Option<u32>| -> Vec<String> {
        let mut v: Vec<String> = summary
            .users
            .iter()
            .filter(|u| u.sources.iter().any(|s| s.asn == asn))
            .map(|u| u.user.clone())
            .collect();
        v.sort();
        v
    };

    for a in &summary.asns {
        if a.users < options.min_users {
            continue;
        }
        let verdict = cx.asn_verdict(a);
        if verdict.status != Status::Candidate {
            continue;
        }
        let Some(asn) = a.asn else { continue };
        let why = verdict.evidence.map(|e| e.sentences()).unwrap_or_default();
        out.push(proposal(
            Kind::Asn,
            format!("AS{asn}"),
            format!("AS{asn} {}", a.as_desc.as_deref().unwrap_or("None")),
            users_of_asn(a.asn),
            &a.counts,
            why,
            &a.hosts,
        ));
    }

    for c in &summary.clouds {
        if c.users < options.min_users || cx.cloud_status(c) != Status::Candidate {
            continue;
        }
        let mut line = String::new();
        escape_lua(&mut line, &c.service);
        if c.tags.iter().any(|t| t.len() > c.service.len()) {
            line.push_str(":.*");
        }
        let users: Vec<String> = summary
            .users
            .iter()
            .filter(|u| {
                u.sources.iter().any(|s| {
                    s.clouds
                        .iter()
                        .any(|t| CloudTag::provider_and_service_of(t) == c.service)
                })
            })
            .map(|u| u.user.clone())
            .collect();
        out.push(proposal(
            Kind::Cloud,
            line,
            format!("cloud {}", c.service),
            users,
            &c.counts,
            vec![format!(
                "the provider publishes these addresses as {}",
                c.service
            )],
            &[],
        ));
    }

    let caught = |e: &EvidenceSummary| e.counts.matched == e.counts.logins;
    for shape in &summary.shapes {
        if shape.users.len() < options.min_users || caught(shape) {
            continue;
        }
        if kg.is_some_and(|kg| shape.hosts.iter().all(|h| kg.has_host(h))) {
            continue;
        }
        let Ok(pattern) = luapat::Pattern::compile(shape.key.as_bytes()) else {
            continue;
        };
        // The shape must stand for every host it was made from, under the list's
        // whole-value rule.
        if !shape.hosts.iter().all(|h| {
            pattern
                .matches_whole(h.to_ascii_lowercase().as_bytes())
                .unwrap_or(false)
        }) {
            continue;
        }
        if lists.is_some_and(|l| {
            shape
                .hosts
                .iter()
                .all(|h| l.rev_host.find_alone(h.as_bytes()).is_some())
        }) {
            continue;
        }
        let descs: Vec<&str> = shape.asns.iter().filter_map(|&a| desc_of(a)).collect();
        let evidence = Evidence::judge(&descs, &shape.hosts, &shape.clouds);
        if !evidence.looks_like_hosting() {
            continue;
        }
        let why = evidence.sentences();
        out.push(proposal(
            Kind::RevHost,
            shape.key.clone(),
            format!(
                "hosts like {}",
                shape.hosts.first().cloned().unwrap_or_default()
            ),
            shape.users.clone(),
            &shape.counts,
            why,
            &shape.hosts,
        ));
    }

    for e in &summary.entities {
        if e.users.len() < options.min_users || caught(e) {
            continue;
        }
        // Registry maintainers stand behind whole regions, not one network.
        let upper = e.key.to_ascii_uppercase();
        if upper.starts_with("RIPE-NCC-") || upper == "IANA" || e.asns.len() > 3 {
            continue;
        }
        if lists.is_some_and(|l| {
            l.entity
                .get(upper.to_ascii_lowercase().as_bytes())
                .is_some()
        }) {
            continue;
        }
        if kg.is_some_and(|kg| e.asns.iter().all(|&a| kg.has_asn(a)) && !e.asns.is_empty()) {
            continue;
        }
        let descs: Vec<&str> = e.asns.iter().filter_map(|&a| desc_of(a)).collect();
        let evidence = Evidence::judge(&descs, &e.hosts, &e.clouds);
        if !evidence.looks_like_hosting() {
            continue;
        }
        let why = evidence.sentences();
        out.push(proposal(
            Kind::Entity,
            e.key.clone(),
            format!("RDAP entity {}", e.key),
            e.users.clone(),
            &e.counts,
            why,
            &e.hosts,
        ));
    }

    out.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(b.users.len().cmp(&a.users.len()))
            .then(b.logins.cmp(&a.logins))
            .then_with(|| a.line.cmp(&b.line))
    });
    out
}

fn proposal(
    kind: Kind,
    line: String,
    subject: String,
    users: Vec<String>,
    counts: &Counts,
    why: Vec<String>,
    hosts: &[String],
) -> Suggestion {
    Suggestion {
        kind,
        line,
        subject,
        users,
        logins: counts.logins,
        first_us: counts.first_us,
        last_us: counts.last_us,
        why,
        hosts: hosts.iter().take(3).cloned().collect(),
    }
}

/// The proposals as list lines with comments, grouped by file.
pub fn render(suggestions: &[Suggestion], options: SuggestOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# badclients suggest: entries seen with at least {} distinct users that look like hosting.",
        options.min_users
    );
    let _ = writeln!(
        out,
        "# Nothing was written to the lists: paste what you agree with."
    );
    if suggestions.is_empty() {
        let _ = writeln!(out, "# (no suggestions)");
        return out;
    }
    let mut current = None;
    for s in suggestions {
        if current != Some(s.kind) {
            let _ = writeln!(out, "\n# ---- {} ----", s.kind.file());
            current = Some(s.kind);
        }
        let shown: Vec<&str> = s.users.iter().take(5).map(String::as_str).collect();
        let more = s.users.len().saturating_sub(shown.len());
        let _ = writeln!(
            out,
            "# {}: {} users ({}{}), {} logins, {} .. {}",
            s.subject,
            s.users.len(),
            shown.join(", "),
            if more > 0 {
                format!(", +{more}")
            } else {
                String::new()
            },
            s.logins,
            format_minute(s.first_us),
            format_minute(s.last_us)
        );
        for why in &s.why {
            let _ = writeln!(out, "#   {why}");
        }
        if !s.hosts.is_empty() && s.kind != Kind::Cloud {
            let _ = writeln!(out, "#   e.g. {}", s.hosts.join(" "));
        }
        let _ = writeln!(out, "{}", s.line);
    }
    out
}
