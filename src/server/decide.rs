//! `Decider`: one login from request to answer — look the IP up, decide against the current
//! state, write the audit line, count it.
//!
//! When the policy's pattern lists can make one decision long (their worst cases measured
//! at load add up to more than a fraction of a millisecond), the decision runs on tokio's
//! blocking pool, so the async workers keep answering other logins meanwhile. A pattern
//! that fails while matching is logged once per load of its list; a login whose matching
//! budget ran out is logged at most once per [`BUDGET_LOG_INTERVAL`] with the number of
//! others since (the audit line of each says `match_error=budget`).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::audit::{escape, AuditLine};
use crate::config::Mode;
use crate::decision::{Decision, Reason, Verdict};
use crate::facts::Facts;
use crate::geoip::maxmind_audit_line;
use crate::history::now_us;
use crate::history::writer::HistoryWriter;
use crate::lookup::Lookup;
use crate::metrics::Metrics;

use super::state::SharedState;

/// The shortest time between two log lines about logins whose matching budget ran out.
pub const BUDGET_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Lets an event through at most once per interval and counts the ones held back.
#[derive(Debug)]
struct Throttle {
    interval: Duration,
    /// When the last event was let through, and how many were held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(held back since the last one)` when this event is to be logged.
    fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match state.0 {
            Some(last) if now.duration_since(last) < self.interval => {
                state.1 += 1;
                None
            }
            _ => {
                let held = state.1;
                *state = (Some(now), 0);
                Some(held)
            }
        }
    }
}

/// The log target of audit lines (route it with `SYSLOG_IDENTIFIER=mail-audit`).
pub const AUDIT_TARGET: &str = "mail-audit";

/// The answer for one login.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub decision: Decision,
    /// Whether a block (or temporary failure) is enforced for this service.
    pub enforced: bool,
    /// What the client is told when refused.
    pub message: String,
    pub facts: Facts,
}

impl Outcome {
    /// Whether the login is refused for good.
    pub fn refused(&self) -> bool {
        self.enforced && self.decision.verdict == Verdict::Block
    }

    /// Whether the login must be retried later.
    pub fn tempfail(&self) -> bool {
        self.enforced && self.decision.verdict == Verdict::TempFail
    }
}

/// Decides logins.
#[derive(Clone)]
pub struct Decider {
    state: Arc<SharedState>,
    lookup: Lookup,
    metrics: Arc<Metrics>,
    history: Option<HistoryWriter>,
    budget_log: Arc<Throttle>,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decider")
    }
}

/// What a Dovecot `report` call says happened to a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    Success,
    Failure,
    PolicyReject,
}

impl LoginResult {
    pub fn name(self) -> &'static str {
        match self {
            LoginResult::Success => "success",
            LoginResult::Failure => "failure",
            LoginResult::PolicyReject => "policy_reject",
        }
    }
}

impl Decider {
    pub fn new(state: Arc<SharedState>, lookup: Lookup, metrics: Arc<Metrics>) -> Decider {
        Decider {
            state,
            lookup,
            metrics,
            history: None,
            budget_log: Arc::new(Throttle::new(BUDGET_LOG_INTERVAL)),
        }
    }

    /// Records every logged decision in `history` before it is answered.
    pub fn with_history(mut self, history: HistoryWriter) -> Decider {
        self.history = Some(history);
        self
    }

    pub fn history(&self) -> Option<&HistoryWriter> {
        self.history.as_ref()
    }

    pub fn state(&self) -> &Arc<SharedState> {
        &self.state
    }

    pub fn lookup(&self) -> &Lookup {
        &self.lookup
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Looks `ip` up, decides, logs and counts.
    pub async fn decide(&self, user: &str, service: &str, ip: IpAddr) -> Outcome {
        let mut report = self.lookup.facts(ip).await;
        self.metrics.observe_lookup(&report);
        let active = self.state.load();
        let decision = if active.policy.matching_can_be_slow() {
            let (decision, facts) = decide_off_workers(&active, user, service, report.facts).await;
            report.facts = facts;
            decision
        } else {
            active.policy.decide(user, service, &report.facts)
        };
        let enforced = active.config.mode_for(service) == Mode::Enforce;
        for failure in decision.pattern_failures.iter().filter(|f| f.first) {
            tracing::warn!(
                entry = %escape(&failure.entry.text),
                line = failure.entry.line,
                error = %failure.message,
                "a pattern failed on a login and counted as no match (logged once until the \
                 lists are reloaded; badclients_pattern_failures counts every failure)"
            );
        }
        if decision.reason == Reason::MatchBudgetExhausted {
            if let Some(held_back) = self.budget_log.admit() {
                tracing::error!(
                    match_budget = active.policy.match_budget,
                    verdict = ?decision.verdict,
                    others_since_last_message = held_back,
                    "the patterns used up a login's matching budget before all were tried; \
                     the login got [lookup] on_error's verdict (see the warnings about \
                     expensive patterns at the last reload)"
                );
            }
        }
        if decision.log {
            let line = AuditLine {
                user,
                service,
                facts: &report.facts,
                decision: &decision,
                enforced,
            }
            .to_string();
            let matched = decision.hit().map(|h| h.label.as_str()).unwrap_or("");
            tracing::info!(
                target: AUDIT_TARGET,
                verdict = ?decision.verdict,
                matched = %escape(matched),
                enforced,
                "{line}"
            );
            if let Some(geo) = &report.facts.maxmind {
                let line = maxmind_audit_line(user, service, ip, geo);
                tracing::info!(target: AUDIT_TARGET, "{line}");
            }
            if let Some(history) = &self.history {
                history.record_decision(
                    now_us(),
                    user,
                    service,
                    &report.facts,
                    &decision,
                    enforced,
                );
            }
        }
        self.metrics.observe_decision(service, &decision, enforced);
        Outcome {
            decision,
            enforced,
            message: active.config.http.block_message.clone(),
            facts: report.facts,
        }
    }

    /// Waits (at most `limit`) for the cache writers.
    pub async fn flush(&self, limit: std::time::Duration) {
        self.lookup.tiers().flush(limit).await;
    }

    /// Logs what Dovecot reported after authentication (no lookup is made for it).
    pub fn report(&self, user: &str, service: &str, ip: IpAddr, result: LoginResult) {
        tracing::info!(
            target: AUDIT_TARGET,
            result = result.name(),
            "mail-audit-report: user=<{}>, service={}, ip={ip}, result={}",
            escape(user),
            escape(service),
            result.name()
        );
    }
}

/// [`crate::decision::Policy::decide`] on tokio's blocking pool (the facts go there and
/// come back). Should that task fail, the login is refused for now, never allowed.
async fn decide_off_workers(
    active: &Arc<super::state::Active>,
    user: &str,
    service: &str,
    facts: Facts,
) -> (Decision, Facts) {
    let (active, user_owned, service_owned) =
        (Arc::clone(active), user.to_owned(), service.to_owned());
    let fallback = facts.clone();
    let task = tokio::task::spawn_blocking(move || {
        let decision = active.policy.decide(&user_owned, &service_owned, &facts);
        (decision, facts)
    });
    match task.await {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(error = %e, "the decision task failed; the login is refused for now");
            let decision = Decision {
                verdict: Verdict::TempFail,
                reason: Reason::LookupFailed,
                log: true,
                pattern_failures: Vec::new(),
            };
            (decision, fallback)
        }
    }
}
