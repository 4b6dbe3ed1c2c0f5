//! `Decider`: one login from request to answer, shared by the daemon's listeners (the web
//! routes and the Postfix adapter) — look the IP up, decide against the current
//! state, write the audit line, count it.
//!
//! When the policy's pattern lists can make one decision long (their worst cases measured
//! at load add up to more than a fraction of a millisecond), the decision is first tried
//! with a small step budget; one that needs more finishes on the [`SlowMatching`]
//! threads, so the async workers keep answering other logins meanwhile. A pattern
//! that fails while matching is logged once per load of its list; a login whose matching
//! budget ran out is logged at most once per [`BUDGET_LOG_INTERVAL`] with the number of
//! others since (the audit line of each says `match_error=budget`).

pub mod slow_matching;
pub mod state;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::audit::{escape, AuditLine, MaxmindLine, ReportLine};
pub use crate::audit::{FailType, LoginResult};
use crate::config::Mode;
use crate::decision::{Decision, Reason, Verdict, QUICK_MATCHING_STEPS};
use crate::facts::Facts;
use crate::history::writer::HistoryWriter;
use crate::history::{now_us, Outcome as HistoryOutcome};
use crate::lookup::Lookup;
use crate::metrics::Metrics;

use slow_matching::SlowMatching;
use state::SharedState;

/// The shortest time between two log lines about logins whose matching budget ran out.
pub const BUDGET_LOG_INTERVAL: Duration = Duration::from_secs(10);

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
    /// The history is enabled but could not be opened: the daemon serves without it.
    history_unavailable: bool,
    budget_log: Arc<crate::warn_limit::WarnLimit>,
    /// Where decisions whose matching is long finish.
    slow: Arc<SlowMatching>,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decider")
    }
}

impl Decider {
    pub fn new(
        state: Arc<SharedState>,
        lookup: Lookup,
        metrics: Arc<Metrics>,
        slow: SlowMatching,
    ) -> Decider {
        Decider {
            state,
            lookup,
            metrics,
            history: None,
            history_unavailable: false,
            budget_log: Arc::new(crate::warn_limit::WarnLimit::new(BUDGET_LOG_INTERVAL)),
            slow: Arc::new(slow),
        }
    }

    /// Marks the history as enabled but not open (the daemon serves without it, degraded).
    pub fn with_history_unavailable(mut self) -> Decider {
        self.history_unavailable = true;
        self
    }

    /// Why storage makes the daemon degraded (for `/healthz`), if it does: the history
    /// could not be opened, or it waits to be reopened after an I/O error.
    /// What keeps lookups from working (see [`Lookup::degraded`]).
    pub fn lookup_degraded(&self) -> Vec<&'static str> {
        self.lookup.degraded()
    }

    pub fn storage_degraded(&self) -> Option<&'static str> {
        if self.history_unavailable {
            return Some("decision history unavailable");
        }
        self.history.as_ref().and_then(HistoryWriter::degraded)
    }

    /// What the stores report, for `/metrics`.
    pub fn storage_snapshot(&self) -> crate::metrics::StorageSnapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let mut snap = crate::metrics::StorageSnapshot {
            history_up: !self.history_unavailable,
            ..Default::default()
        };
        if let Some(h) = &self.history {
            let c = h.counters();
            snap.history_up = h.is_healthy();
            if let Some(store) = h.store() {
                snap.history_moved_aside = store.moved_aside();
                snap.history_reopens = store.reopens();
            }
            snap.history_lost = c.lost.load(Relaxed);
            snap.history_commit_errors = c.commit_errors.load(Relaxed);
            snap.history_journal_bytes = c.journal_bytes.load(Relaxed);
            snap.history_strings = c.strings.load(Relaxed);
            if h.store().is_none() {
                let since = c.caught_up_us.load(Relaxed);
                snap.history_shipping = Some(crate::metrics::ShipSnapshot {
                    batches: c.batches_shipped.load(Relaxed),
                    rows: c.rows_shipped.load(Relaxed),
                    failures: c.ship_failures.load(Relaxed),
                    already_shipped: c.batches_already_shipped.load(Relaxed),
                    backlog_decisions: c.backlog_decisions.load(Relaxed),
                    backlog_bytes: c.backlog_bytes.load(Relaxed),
                    seconds_behind: now_us().saturating_sub(since) as f64 / 1e6,
                });
            }
        }
        if let Some(store) = self.lookup.tiers().store() {
            snap.cache_up = Some(store.is_open());
            snap.cache_moved_aside = store.moved_aside() as u64;
            snap.cache_reopens = store.reopens() as u64;
        }
        snap
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

    /// Decides one login: looks `ip` up, decides, logs and counts. `password_checked` says whether the mail server had checked its
    /// password before it asked (the policy server after auth, Postfix after SASL, the
    /// Lua shim behind the password passdb): a block of a login whose password nobody
    /// checked is kept as [`HistoryOutcome::Unverified`], never as a blocked user.
    pub async fn decide(
        &self,
        user: &str,
        service: &str,
        ip: IpAddr,
        password_checked: bool,
    ) -> Outcome {
        let mut report = self.lookup.facts(ip).await;
        self.metrics.observe_lookup(&report);
        let active = self.state.load();
        let decision = if active.policy.matching_can_be_slow() {
            let (decision, facts) =
                decide_slow(&self.slow, &active, user, service, report.facts).await;
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
            if let Some(logins) = self.budget_log.hit() {
                tracing::error!(
                    match_budget = active.policy.match_budget,
                    verdict = ?decision.verdict,
                    logins_since_last_message = logins,
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
                password_checked,
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
                let line = MaxmindLine {
                    user,
                    service,
                    ip,
                    geo,
                };
                tracing::info!(target: AUDIT_TARGET, "{line}");
            }
            if let Some(history) = &self.history {
                history.record_decision(
                    now_us(),
                    user,
                    service,
                    &report.facts,
                    &decision,
                    HistoryOutcome::of(decision.verdict, enforced, password_checked),
                );
            }
        }
        self.metrics
            .observe_decision(service, &decision, enforced, password_checked);
        Outcome {
            decision,
            enforced,
            message: active.config.http.block_message.clone(),
            facts: report.facts,
        }
    }

    /// Waits (at most `limit`) for the cache writers.
    pub async fn flush(&self, limit: Duration) {
        self.lookup.tiers().flush(limit).await;
    }

    /// Logs what Dovecot reported after authentication (no lookup is made for it).
    pub fn report(&self, user: &str, service: &str, ip: IpAddr, result: LoginResult) {
        let line = ReportLine {
            user,
            service,
            ip,
            result,
        };
        tracing::info!(target: AUDIT_TARGET, result = result.name(), "{line}");
    }
}

/// [`crate::decision::Policy::decide`] for a policy whose matching can be long: first a
/// quick try on this async worker; when that runs out of steps, the decision again with
/// the whole budget on the [`SlowMatching`] threads (the facts go there and come back).
/// Should that fail, the login is refused for now, never allowed.
async fn decide_slow(
    slow: &SlowMatching,
    active: &Arc<state::Active>,
    user: &str,
    service: &str,
    facts: Facts,
) -> (Decision, Facts) {
    let tried = match active
        .policy
        .try_quickly(user, service, &facts, QUICK_MATCHING_STEPS)
    {
        Ok(decision) => return (decision, facts),
        Err(tried) => tried,
    };
    let (active, user_owned, service_owned) =
        (Arc::clone(active), user.to_owned(), service.to_owned());
    let fallback = facts.clone();
    let job = slow.run(move || {
        let decision = active
            .policy
            .decide_after(&user_owned, &service_owned, &facts, &tried);
        (decision, facts)
    });
    match job.await {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(error = %e, "the decision failed; the login is refused for now");
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
