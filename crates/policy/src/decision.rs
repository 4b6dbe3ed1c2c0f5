//! The decision for one login: the contract's order (§3), first match wins, giving a
//! [`Verdict`] with what matched, where (file and line) and the list entry.
//!
//! 1. the service is in `disabled_services` → block (even from reserved addresses);
//! 2. the address is reserved → allow (logged only with `log_local`);
//! 3. the address is in `ignore_networks` / `ip_net.allow.lst` → allow, not logged;
//!    the user is in `user.allow.lst` → allow;
//! 4. `ip_net` → `rev_host` → `asn` → `as_cc` → `as_dscr` → `net_cc` → `net_name` →
//!    `geo_cc` (the MaxMind country) → `entity` → `cloud` (each cloud-range tag);
//! 5. with GeoIP facts: `maxmind:as_org` → city → subdivisions → country → coords;
//! 6. the DNS blocklists, when the weights of those listing the address reach
//!    `dnsbl_threshold` (`matched=dnsbl:<zone>`);
//! 7. otherwise → allow.
//!
//! Every pattern tried for one decision spends from one step budget
//! ([`Policy::match_budget`]). When it runs out, the remaining patterns are skipped (the
//! literals and the other lists are still consulted, so a later list can still block);
//! if nothing blocks, the login gets the fail mode of `[lookup] on_error` with
//! [`Reason::MatchBudgetExhausted`]: allowed (and the audit line says
//! `match_error=budget`) or refused for now.

use std::path::PathBuf;

use serde::Serialize;

use luapat::Budget;

use crate::dnsbl::{DnsblHit, DnsblZone};
use crate::facts::{Facts, GeoFacts};
use crate::lists::{CidrList, Entry, ListKind, ListSet, MatchFailure, PatternList};

/// Allow, block, or refuse for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Let the login through.
    Allow,
    /// Refuse the login.
    Block,
    /// Ask the client to try again later: the lookups failed, no list matched and
    /// `on_error = "tempfail"`.
    #[serde(rename = "tempfail")]
    TempFail,
}

/// What a login gets when the lookups failed and no list matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Let it through (the audit line says `lookup_error=…`).
    #[default]
    Allow,
    /// Refuse it temporarily.
    Tempfail,
}

/// What matched: the `matched=` label and where the entry stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The audit line's `matched=` value (`ip_net`, `entity:MAIL-RU`, `service`, …).
    pub label: String,
    /// The file holding the entry (`None` for settings from the configuration).
    pub file: Option<PathBuf>,
    /// The entry's 1-based line number in `file`.
    pub line: Option<usize>,
    /// The entry as written.
    pub entry: String,
}

/// Why the verdict is what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The service is in `disabled_services`.
    DisabledService(Hit),
    /// A reserved address (never blocked by a deny list), with the range's name.
    Reserved(&'static str),
    /// `ignore_networks` or `ip_net.allow.lst`.
    AllowedNetwork(Hit),
    /// `user.allow.lst`.
    AllowedUser(Hit),
    /// A deny list matched.
    Listed(Hit),
    /// Nothing matched.
    NoMatch,
    /// Nothing matched, but the lookups failed (with `on_error = "tempfail"`).
    LookupFailed,
    /// The matching budget ran out before every pattern was tried and nothing else
    /// matched: the verdict is `on_error`'s (allow or tempfail).
    MatchBudgetExhausted,
}

/// The outcome of [`Policy::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What the login gets.
    pub verdict: Verdict,
    /// Why (the list entry behind it, if any, is [`Decision::hit`]).
    pub reason: Reason,
    /// Whether the daemon writes an audit line for this login.
    pub log: bool,
    /// Patterns that failed while matching (too complex or too expensive): each counted
    /// as no match, and worth a warning.
    pub pattern_failures: Vec<MatchFailure>,
}

impl Decision {
    /// An allow that nothing decided (for printing facts without a login).
    pub fn unlogged_allow() -> Decision {
        Decision {
            verdict: Verdict::Allow,
            reason: Reason::NoMatch,
            log: false,
            pattern_failures: Vec::new(),
        }
    }

    /// The entry behind the verdict, if any.
    pub fn hit(&self) -> Option<&Hit> {
        match &self.reason {
            Reason::DisabledService(h)
            | Reason::AllowedNetwork(h)
            | Reason::AllowedUser(h)
            | Reason::Listed(h) => Some(h),
            Reason::Reserved(_)
            | Reason::NoMatch
            | Reason::LookupFailed
            | Reason::MatchBudgetExhausted => None,
        }
    }
}

/// The default of [`Policy::match_budget`]: two million steps, a few milliseconds of
/// one core. A normal list spends a few thousand per login.
pub const DEFAULT_MATCH_BUDGET: u64 = 2_000_000;

/// The sum of worst cases (see [`crate::lists::PatternList::worst_case_steps`]) above
/// which a decision may be long enough to be run off the async workers, and the steps a
/// first, quick try of such a decision gets ([`Policy::try_quickly`]): about 0.1 ms.
pub const QUICK_MATCHING_STEPS: u64 = 30_000;

/// Everything a decision needs besides the facts: the lists and the settings.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The loaded list directory.
    pub lists: ListSet,
    /// Services always refused (compared ignoring case).
    pub disabled_services: Vec<String>,
    /// `ignore_networks` from the configuration.
    pub ignore_networks: CidrList,
    /// Also log logins from reserved addresses.
    pub log_local: bool,
    /// What a login gets when the lookups failed and no list matched.
    pub on_error: OnError,
    /// The DNS blocklists and their weights.
    pub dnsbl: Vec<DnsblZone>,
    /// The summed weight that blocks.
    pub dnsbl_threshold: f64,
    /// Matching steps shared by every pattern tried for one login (`match_budget`).
    pub match_budget: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            lists: ListSet::default(),
            disabled_services: Vec::new(),
            ignore_networks: CidrList::default(),
            log_local: false,
            on_error: OnError::default(),
            dnsbl: Vec::new(),
            dnsbl_threshold: 0.0,
            match_budget: DEFAULT_MATCH_BUDGET,
        }
    }
}

/// The matching state of one decision: the shared step budget and the patterns that
/// failed on their own.
struct Matching {
    budget: Budget,
    failures: Vec<MatchFailure>,
}

impl Policy {
    fn hit(&self, kind: ListKind, label: impl Into<String>, entry: &Entry) -> Hit {
        Hit {
            label: label.into(),
            file: Some(self.lists.path(kind)),
            line: Some(entry.line),
            entry: entry.text.clone(),
        }
    }

    /// Whether one decision can keep a thread busy long enough to matter (the pattern
    /// lists' measured worst cases add up to more than about 0.1 ms): then the daemon
    /// decides on a blocking thread, not on an async worker.
    pub fn matching_can_be_slow(&self) -> bool {
        let l = &self.lists;
        let total = [
            &l.rev_host,
            &l.as_dscr,
            &l.net_name,
            &l.cloud,
            &l.maxmind_as_org,
        ]
        .iter()
        .fold(0u64, |sum, list| {
            sum.saturating_add(list.worst_case_steps())
        });
        total.min(self.match_budget) > QUICK_MATCHING_STEPS
    }

    /// Decides one login.
    pub fn decide(&self, user: &str, service: &str, facts: &Facts) -> Decision {
        self.decide_with(user, service, facts, self.match_budget).0
    }

    /// Decides one login if its patterns need at most `steps` (and at most
    /// `match_budget`); otherwise gives back the failures seen so far, for
    /// [`Policy::decide_after`] to make the decision with the whole budget. The decision is
    /// the one [`Policy::decide`] makes: a try that ran out of steps is thrown away, never
    /// used.
    pub fn try_quickly(
        &self,
        user: &str,
        service: &str,
        facts: &Facts,
        steps: u64,
    ) -> Result<Decision, Vec<MatchFailure>> {
        let steps = steps.min(self.match_budget);
        match self.decide_with(user, service, facts, steps) {
            (decision, false) => Ok(decision),
            (decision, true) if steps == self.match_budget => Ok(decision),
            (decision, true) => Err(decision.pattern_failures),
        }
    }

    /// [`Policy::decide`] after a [`Policy::try_quickly`] that did not finish: a pattern
    /// whose first failure since the load happened in that try is still reported as the
    /// first (so it is logged once).
    pub fn decide_after(
        &self,
        user: &str,
        service: &str,
        facts: &Facts,
        tried: &[MatchFailure],
    ) -> Decision {
        let mut decision = self.decide(user, service, facts);
        for failure in &mut decision.pattern_failures {
            failure.first |= tried.iter().any(|t| {
                t.first && t.entry.line == failure.entry.line && t.entry.text == failure.entry.text
            });
        }
        decision
    }

    /// Decides with a budget of `steps`; also says whether the budget ran out.
    fn decide_with(
        &self,
        user: &str,
        service: &str,
        facts: &Facts,
        steps: u64,
    ) -> (Decision, bool) {
        let mut m = Matching {
            budget: Budget::new(steps),
            failures: Vec::new(),
        };
        let (verdict, reason, log) = self.reason(user, service, facts, &mut m);
        let decision = Decision {
            verdict,
            reason,
            log,
            pattern_failures: m.failures,
        };
        (decision, m.budget.is_exhausted())
    }

    fn reason(
        &self,
        user: &str,
        service: &str,
        facts: &Facts,
        m: &mut Matching,
    ) -> (Verdict, Reason, bool) {
        use Verdict::{Allow, Block, TempFail};
        if let Some(s) = self
            .disabled_services
            .iter()
            .find(|s| s.eq_ignore_ascii_case(service))
        {
            let hit = Hit {
                label: "service".into(),
                file: None,
                line: None,
                entry: s.clone(),
            };
            return (Block, Reason::DisabledService(hit), true);
        }
        if let Some(range) = facts.ip.reserved() {
            return (Allow, Reason::Reserved(range.name), self.log_local);
        }
        if let Some(e) = self.ignore_networks.find(facts.ip.canonical()) {
            let hit = Hit {
                label: "ignore_networks".into(),
                file: None,
                line: None,
                entry: e.text.clone(),
            };
            return (Allow, Reason::AllowedNetwork(hit), false);
        }
        if let Some(e) = self.lists.ip_net_allow.find(facts.ip.canonical()) {
            let hit = self.hit(ListKind::IpNetAllow, "ip_net.allow", e);
            return (Allow, Reason::AllowedNetwork(hit), false);
        }
        if let Some(e) = self.lists.user_allow.find(user) {
            let hit = self.hit(ListKind::UserAllow, "user.allow", e);
            return (Allow, Reason::AllowedUser(hit), true);
        }
        let fail_mode = match self.on_error {
            OnError::Allow => Allow,
            OnError::Tempfail => TempFail,
        };
        match self.deny_hit(facts, m) {
            Some(hit) => (Block, Reason::Listed(hit), true),
            None if m.budget.is_exhausted() => (fail_mode, Reason::MatchBudgetExhausted, true),
            None if !facts.lookup_errors.is_empty() && self.on_error == OnError::Tempfail => {
                (TempFail, Reason::LookupFailed, true)
            }
            None => (Allow, Reason::NoMatch, true),
        }
    }

    fn pattern_hit(
        &self,
        kind: ListKind,
        list: &PatternList,
        value: Option<&str>,
        m: &mut Matching,
    ) -> Option<Hit> {
        let value = value?;
        let label = match kind {
            ListKind::MaxmindAsOrg => "maxmind:as_org",
            other => other.file_name().trim_end_matches(".deny.lst"),
        };
        list.find(value.as_bytes(), &mut m.budget, &mut m.failures)
            .map(|e| self.hit(kind, label, e))
    }

    /// Steps 4 and 5: the deny lists, first match wins.
    fn deny_hit(&self, facts: &Facts, m: &mut Matching) -> Option<Hit> {
        let l = &self.lists;
        if let Some(e) = l.ip_net.find(facts.ip.canonical()) {
            return Some(self.hit(ListKind::IpNet, "ip_net", e));
        }
        let host = facts.host.as_deref().unwrap_or("<>");
        if let Some(h) = self.pattern_hit(ListKind::RevHost, &l.rev_host, Some(host), m) {
            return Some(h);
        }
        let geo = facts.maxmind.as_ref();
        for asn in [facts.asn, geo.and_then(|g| g.asn)].into_iter().flatten() {
            if let Some(e) = l.asn.get(&asn) {
                return Some(self.hit(ListKind::Asn, "asn", e));
            }
        }
        let as_cc = facts.as_cc.as_deref().unwrap_or("None");
        if let Some(e) = l.as_cc.get(as_cc) {
            return Some(self.hit(ListKind::AsCc, "as_cc", e));
        }
        let as_desc = facts.as_desc.as_deref();
        if let Some(h) = self.pattern_hit(ListKind::AsDscr, &l.as_dscr, as_desc, m) {
            return Some(h);
        }
        let net_cc = facts.net_cc.as_deref().unwrap_or("None");
        if let Some(e) = l.net_cc.get(net_cc) {
            return Some(self.hit(ListKind::NetCc, "net_cc", e));
        }
        let net_name = facts.net_name.as_deref();
        if let Some(h) = self.pattern_hit(ListKind::NetName, &l.net_name, net_name, m) {
            return Some(h);
        }
        if let Some(e) = facts.geo_cc().and_then(|cc| l.geo_cc.get(cc)) {
            return Some(self.hit(ListKind::GeoCc, "geo_cc", e));
        }
        if let Some(h) = self.entity_hit(facts) {
            return Some(h);
        }
        for tag in &facts.cloud {
            if let Some(h) = self.pattern_hit(ListKind::Cloud, &l.cloud, Some(tag.as_str()), m) {
                return Some(h);
            }
        }
        geo.and_then(|g| self.geo_hit(g, m))
            .or_else(|| self.dnsbl_hit(facts))
    }

    /// Step 6: the DNS blocklists, when their weights reach the threshold. The label names
    /// the heaviest zone that counts.
    fn dnsbl_hit(&self, facts: &Facts) -> Option<Hit> {
        let mut total = 0.0;
        let mut heaviest: Option<(&DnsblZone, &DnsblHit)> = None;
        for zone in &self.dnsbl {
            let fact = facts
                .dnsbl
                .iter()
                .find(|hit| hit.zone == zone.name() && zone.counts(hit.code));
            if let Some(fact) = fact {
                total += zone.weight;
                if heaviest.is_none_or(|(h, _)| zone.weight > h.weight) {
                    heaviest = Some((zone, fact));
                }
            }
        }
        let (zone, fact) = heaviest?;
        (total >= self.dnsbl_threshold && total > 0.0).then(|| Hit {
            label: format!("dnsbl:{}", zone.name()),
            file: None,
            line: None,
            entry: fact.to_string(),
        })
    }

    /// The entity entry that comes first in the file among the facts' entities.
    fn entity_hit(&self, facts: &Facts) -> Option<Hit> {
        if self.lists.entity.is_empty() {
            return None;
        }
        facts
            .entities
            .iter()
            .filter_map(|ent| {
                let key = ent.as_bytes().to_ascii_lowercase();
                self.lists.entity.get(key.as_slice()).map(|e| (e, ent))
            })
            .min_by_key(|(e, _)| e.line)
            .map(|(e, ent)| self.hit(ListKind::Entity, format!("entity:{ent}"), e))
    }

    /// Step 5: the `maxmind/` lists.
    fn geo_hit(&self, geo: &GeoFacts, m: &mut Matching) -> Option<Hit> {
        let l = &self.lists;
        let as_org = geo.as_org.as_deref();
        if let Some(h) = self.pattern_hit(ListKind::MaxmindAsOrg, &l.maxmind_as_org, as_org, m) {
            return Some(h);
        }
        let places = geo
            .city
            .iter()
            .map(|p| ("maxmind:geoloc_city", p))
            .chain(
                geo.subdivisions
                    .iter()
                    .map(|p| ("maxmind:geoloc_subdiv", p)),
            )
            .chain(geo.country.iter().map(|p| ("maxmind:geoloc_country", p)));
        for (label, place) in places {
            if let Some(e) = place.geoname_id.and_then(|id| l.maxmind_geo_loc.get(&id)) {
                return Some(self.hit(ListKind::MaxmindGeoLoc, label, e));
            }
        }
        let loc = geo.location.as_ref()?;
        let accuracy = f64::from(loc.accuracy_radius?);
        let circle = l
            .maxmind_coords
            .find(loc.latitude, loc.longitude, accuracy)?;
        Some(self.hit(ListKind::MaxmindCoords, circle.label(), &circle.entry))
    }
}
