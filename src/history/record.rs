//! [`Record`]: one decision as the history keeps it (every string in its escaped
//! audit-line form), its [`Outcome`], and the [`Filter`] a view applies.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::audit::escape;
use crate::decision::{Decision, Verdict};
use crate::facts::Facts;

/// What happened to one login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allowed,
    /// A deny list matched and the service is in enforce mode.
    Blocked,
    /// A deny list matched but the service is in audit mode (`enforced=False`).
    WouldBlock,
    /// The lookups failed and `on_error = "tempfail"` refused the login for now.
    TempFail,
    /// A deny list matched a login whose password nobody had checked yet (the Lua shim
    /// asked ahead of the passdb that checks it): refused when the service is enforced, but
    /// it may be a password guess, so it is never counted as a blocked user.
    Unverified,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Allowed,
        Outcome::Blocked,
        Outcome::WouldBlock,
        Outcome::TempFail,
        Outcome::Unverified,
    ];

    /// The outcome of a decision under the service's mode, for a login whose password
    /// the mail server had (`password_checked`) or had not yet checked.
    pub fn of(verdict: Verdict, enforced: bool, password_checked: bool) -> Outcome {
        match (verdict, enforced) {
            (Verdict::Allow, _) => Outcome::Allowed,
            (Verdict::Block, _) if !password_checked => Outcome::Unverified,
            (Verdict::Block, true) => Outcome::Blocked,
            (Verdict::Block, false) => Outcome::WouldBlock,
            (Verdict::TempFail, _) => Outcome::TempFail,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Blocked => "blocked",
            Outcome::WouldBlock => "would_block",
            Outcome::TempFail => "tempfail",
            Outcome::Unverified => "unverified",
        }
    }

    /// Whether a deny list matched (enforced or not) a login whose password was right or
    /// not in question: what makes a blocked user. [`Outcome::Unverified`] is not one.
    pub fn matched_a_list(self) -> bool {
        matches!(self, Outcome::Blocked | Outcome::WouldBlock)
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Outcome::Allowed => 0,
            Outcome::Blocked => 1,
            Outcome::WouldBlock => 2,
            Outcome::TempFail => 3,
            Outcome::Unverified => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Outcome> {
        Outcome::ALL.get(usize::from(code)).copied()
    }
}

/// One decision as the history keeps it. Every string is in its escaped audit-line form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When the decision was made, in microseconds since the Unix epoch; `None` for an
    /// audit line read without a timestamp (`journalctl -o cat`).
    pub time_us: Option<u64>,
    pub user: String,
    pub service: String,
    pub ip: IpAddr,
    /// Reverse DNS name; `None` when there was no PTR record (`host=<>`).
    pub host: Option<String>,
    pub asn: Option<u32>,
    pub as_cc: Option<String>,
    pub as_desc: Option<String>,
    pub net_name: Option<String>,
    pub net_cc: Option<String>,
    /// RDAP entity handles, in the audit line's order.
    pub entities: Vec<String>,
    /// Cloud tags (`aws:EC2:us-east-1`).
    pub cloud: Vec<String>,
    /// The MaxMind country, when GeoIP is on.
    pub geo_cc: Option<String>,
    pub outcome: Outcome,
    /// The audit line's `matched=` label (`asn`, `entity:MAIL-RU`, …).
    pub matched: Option<String>,
    /// The entry that matched, as `file:line: entry` (empty for older-tool lines).
    pub matched_entry: Option<String>,
    /// Sources that failed (`rdap:timeout`).
    pub lookup_errors: Vec<String>,
}

impl Record {
    /// The values that came from a user or an upstream (every string but `matched_entry`,
    /// which names a list line): each in escaped form.
    pub fn values(&self) -> impl Iterator<Item = &str> + '_ {
        let singles = [
            &self.host,
            &self.as_cc,
            &self.as_desc,
            &self.net_name,
            &self.net_cc,
            &self.geo_cc,
            &self.matched,
        ];
        [self.user.as_str(), self.service.as_str()]
            .into_iter()
            .chain(singles.into_iter().flatten().map(String::as_str))
            .chain(self.entities.iter().map(String::as_str))
            .chain(self.cloud.iter().map(String::as_str))
            .chain(self.lookup_errors.iter().map(String::as_str))
    }

    /// The record of a decision the daemon just made.
    pub fn of_decision(
        time_us: u64,
        user: &str,
        service: &str,
        facts: &Facts,
        decision: &Decision,
        outcome: Outcome,
    ) -> Record {
        let opt = |v: &Option<String>| v.as_deref().map(escape);
        let hit = decision
            .hit()
            .filter(|_| decision.verdict == Verdict::Block);
        Record {
            time_us: Some(time_us),
            user: escape(user),
            service: escape(service),
            ip: facts.ip.reported(),
            host: opt(&facts.host),
            asn: facts.asn.map(|a| a.0),
            as_cc: opt(&facts.as_cc),
            as_desc: opt(&facts.as_desc),
            net_name: opt(&facts.net_name),
            net_cc: opt(&facts.net_cc),
            entities: facts.entities.iter().map(|e| escape(e)).collect(),
            cloud: facts.cloud.iter().map(|c| escape(c.as_str())).collect(),
            geo_cc: facts.geo_cc().map(escape),
            outcome,
            matched: hit.map(|h| escape(&h.label)),
            matched_entry: hit.map(matched_entry),
            lookup_errors: facts
                .lookup_errors
                .iter()
                .map(|e| escape(&e.to_string()))
                .collect(),
        }
    }

    /// Whether this record passes a filter on time (`since_us`) and user.
    pub fn selected(&self, filter: &Filter) -> bool {
        filter.accepts(self.time_us, &self.user)
    }
}

/// `file:line: entry` of a hit, escaped.
pub(crate) fn matched_entry(h: &crate::decision::Hit) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(64);
    // Writing into a String cannot fail.
    if let Some(file) = &h.file {
        let name = file.file_name().unwrap_or(file.as_os_str());
        s.push_str(&crate::audit::escape_cow(&name.to_string_lossy()));
        if let Some(line) = h.line {
            let _ = write!(s, ":{line}");
        }
        s.push_str(": ");
    }
    s.push_str(&crate::audit::escape_cow(&h.entry));
    s
}

/// Which records a view covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Only records at or after this time (microseconds since the epoch). Records without
    /// a time pass.
    pub since_us: Option<u64>,
    /// Only records before this time.
    pub until_us: Option<u64>,
    /// Only this user (compared with the escaped form, ignoring ASCII case).
    pub user: Option<String>,
}

impl Filter {
    pub fn accepts(&self, time_us: Option<u64>, user: &str) -> bool {
        if let (Some(since), Some(t)) = (self.since_us, time_us) {
            if t < since {
                return false;
            }
        }
        if let (Some(until), Some(t)) = (self.until_us, time_us) {
            if t >= until {
                return false;
            }
        }
        match &self.user {
            Some(u) => u.eq_ignore_ascii_case(user),
            None => true,
        }
    }
}

/// An allowed IMAP login of `user` from 192.0.2.1 with no facts but its AS number.
#[cfg(test)]
pub(crate) fn test_record(user: &str, time_us: u64) -> Record {
    Record {
        time_us: Some(time_us),
        user: user.into(),
        service: "imap".into(),
        ip: "192.0.2.1".parse().expect("an address"),
        host: None,
        asn: Some(64496),
        as_cc: None,
        as_desc: None,
        net_name: None,
        net_cc: None,
        entities: vec![],
        cloud: vec![],
        geo_cc: None,
        outcome: Outcome::Allowed,
        matched: None,
        matched_entry: None,
        lookup_errors: vec![],
    }
}
