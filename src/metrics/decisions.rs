//! The decision metrics: logins decided (by service, verdict, the list that matched and
//! enforcement), logins whose matching ran out of budget, patterns that failed; and the
//! mappings that keep their labels to fixed sets ([`service_label`], [`verdict_label`],
//! [`matched_label`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::decision::{Decision, Reason, Verdict};

/// The services that get their own `service` label value; anything else is `other`.
pub const SERVICES: [&str; 8] = [
    "imap",
    "pop3",
    "smtp",
    "submission",
    "sieve",
    "managesieve",
    "lmtp",
    "doveadm",
];

/// The list names a [`crate::decision::Hit`] label can carry as it is (`entity:…`,
/// `dnsbl:…` and `maxmind:geoloc:…` are reduced to `entity`, `dnsbl` and `maxmind:geoloc`).
/// Every label a decision can carry has its value here: `other` is never one of them.
const LISTS: [&str; 17] = [
    "service",
    "ignore_networks",
    "ip_net.allow",
    "user.allow",
    "ip_net",
    "rev_host",
    "asn",
    "as_cc",
    "as_dscr",
    "net_cc",
    "net_name",
    "geo_cc",
    "cloud",
    "maxmind:as_org",
    "maxmind:geoloc_city",
    "maxmind:geoloc_subdiv",
    "maxmind:geoloc_country",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    service: &'static str,
    verdict: &'static str,
    matched: &'static str,
    enforced: &'static str,
}

/// Logins decided.
#[derive(Debug)]
pub(super) struct DecisionFamilies {
    decisions: Family<DecisionLabels, Counter>,
}

impl DecisionFamilies {
    pub(super) fn register(registry: &mut Registry) -> DecisionFamilies {
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "badclients_decisions",
            "Logins decided, by service, verdict (allow, block, tempfail, or unverified: a \
             deny list matched a login whose password had not been checked yet), the list \
             that matched and whether the verdict was enforced (false in audit mode)",
            decisions.clone(),
        );
        DecisionFamilies { decisions }
    }

    /// Counts one decision for a login to `service`; `enforced` is false in audit mode.
    /// A block of a login whose password nobody had checked is counted as
    /// `verdict="unverified"`, never as a block.
    #[inline]
    pub(super) fn observe_decision(
        &self,
        service: &str,
        decision: &Decision,
        enforced: bool,
        password_checked: bool,
    ) {
        let verdict = match decision.verdict {
            Verdict::Block if !password_checked => "unverified",
            v => verdict_label(v),
        };
        let labels = DecisionLabels {
            service: service_label(service),
            verdict,
            matched: matched_label(decision),
            enforced: if enforced { "true" } else { "false" },
        };
        self.decisions.get_or_create(&labels).inc();
    }
}

/// What went wrong while matching: the budget spent, patterns that failed.
#[derive(Debug)]
pub(super) struct MatchingFamilies {
    match_budget_exhausted: Counter,
    pattern_failures: Counter,
}

impl MatchingFamilies {
    pub(super) fn register(registry: &mut Registry) -> MatchingFamilies {
        let match_budget_exhausted = Counter::default();
        registry.register(
            "badclients_match_budget_exhausted",
            "Logins whose pattern matching ran out of its step budget (match_budget) before \
             every pattern was tried",
            match_budget_exhausted.clone(),
        );
        let pattern_failures = Counter::default();
        registry.register(
            "badclients_pattern_failures",
            "Patterns that failed on their own while matching a login (too complex or too \
             expensive) and counted as no match",
            pattern_failures.clone(),
        );
        MatchingFamilies {
            match_budget_exhausted,
            pattern_failures,
        }
    }

    /// Counts what went wrong while matching for one decision: a budget run out, the
    /// patterns that failed.
    #[inline]
    pub(super) fn observe_decision(&self, decision: &Decision) {
        if decision.reason == Reason::MatchBudgetExhausted {
            self.match_budget_exhausted.inc();
        }
        if !decision.pattern_failures.is_empty() {
            self.pattern_failures
                .inc_by(decision.pattern_failures.len() as u64);
        }
    }
}

/// The `service` label value: one of [`SERVICES`] (compared ignoring ASCII case), or
/// `other`.
pub fn service_label(service: &str) -> &'static str {
    SERVICES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(service))
        .copied()
        .unwrap_or("other")
}

/// The `verdict` label value.
pub fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allow => "allow",
        Verdict::Block => "block",
        Verdict::TempFail => "tempfail",
    }
}

/// The `matched` label value: the name of the list that decided, never the entry —
/// `entity:MAIL-RU` → `entity`, `maxmind:geoloc:52,13,50,0.5` → `maxmind:geoloc`,
/// `reserved` for a reserved address, `none` when nothing matched, `other` for a label
/// this module does not know.
pub fn matched_label(decision: &Decision) -> &'static str {
    match &decision.reason {
        Reason::Reserved(_) => "reserved",
        Reason::NoMatch | Reason::LookupFailed => "none",
        Reason::MatchBudgetExhausted => "match_budget",
        Reason::DisabledService(h)
        | Reason::AllowedNetwork(h)
        | Reason::AllowedUser(h)
        | Reason::Listed(h) => list_label(&h.label),
    }
}

/// A [`crate::decision::Hit`] label reduced to its list name.
fn list_label(label: &str) -> &'static str {
    if label == "entity" || label.starts_with("entity:") {
        return "entity";
    }
    if label.starts_with("maxmind:geoloc:") {
        return "maxmind:geoloc";
    }
    if label.starts_with("dnsbl:") {
        return "dnsbl";
    }
    LISTS
        .iter()
        .find(|l| **l == label)
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_labels() {
        assert_eq!(list_label("entity:MAIL-RU"), "entity");
        assert_eq!(list_label("maxmind:geoloc:52,13,50,0.5"), "maxmind:geoloc");
        assert_eq!(list_label("maxmind:geoloc_city"), "maxmind:geoloc_city");
        assert_eq!(list_label("ip_net.allow"), "ip_net.allow");
        assert_eq!(list_label("rev_host"), "rev_host");
        assert_eq!(list_label("cloud"), "cloud");
        assert_eq!(list_label("geo_cc"), "geo_cc");
        assert_eq!(list_label("dnsbl:zen.spamhaus.org"), "dnsbl");
        // Every deny list's label, as the decision makes it from the file name.
        for kind in crate::lists::ListKind::ALL {
            let label = kind.file_name().trim_end_matches(".deny.lst");
            let label = label.trim_end_matches(".lst");
            let label = match kind {
                crate::lists::ListKind::MaxmindAsOrg => "maxmind:as_org",
                crate::lists::ListKind::MaxmindGeoLoc => "maxmind:geoloc_country",
                crate::lists::ListKind::MaxmindCoords => "maxmind:geoloc:1,2,3,0.5",
                crate::lists::ListKind::Entity => "entity:ORG-1",
                _ => label,
            };
            assert_ne!(list_label(label), "other", "{kind:?} ({label})");
        }
        assert_eq!(list_label("alice@example.org"), "other");
        assert_eq!(list_label(""), "other");
    }
}
