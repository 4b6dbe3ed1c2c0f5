//! The Postfix policy service's decisions: an SMTP AUTH session (`sasl_username` set) from a
//! listed network gets `REJECT`; sessions without AUTH get `DUNNO` unless
//! `[postfix] check_unauthenticated = true`.

use crate::postfix::{PolicyAction, PolicyHandler, PolicyRequest};

use crate::decider::Decider;

/// Answers Postfix through the [`Decider`].
#[derive(Debug)]
pub(super) struct PostfixAdapter {
    decider: Decider,
}

impl PostfixAdapter {
    pub(super) fn new(decider: Decider) -> PostfixAdapter {
        PostfixAdapter { decider }
    }
}

impl PolicyHandler for PostfixAdapter {
    async fn check(&self, request: PolicyRequest) -> PolicyAction {
        let Some(ip) = request.client_address else {
            return PolicyAction::Dunno;
        };
        let settings = self.decider.state().load().config.postfix.clone();
        let user = match (&request.sasl_username, settings.check_unauthenticated) {
            (Some(user), _) => user.clone(),
            (None, true) => String::new(),
            (None, false) => return PolicyAction::Dunno,
        };
        // Postfix asks after SASL authentication succeeded (or, with
        // check_unauthenticated, about a session without a password at all).
        let outcome = self.decider.decide(&user, "smtp", ip, true).await;
        let action = if outcome.refused() {
            PolicyAction::Reject(settings.reject_message)
        } else if outcome.tempfail() {
            PolicyAction::Defer("4.7.1 badclients: lookups failed, try again later".into())
        } else {
            PolicyAction::Dunno
        };
        self.decider.metrics().observe_postfix(action_name(&action));
        action
    }
}

fn action_name(action: &PolicyAction) -> &'static str {
    match action {
        PolicyAction::Dunno => "dunno",
        PolicyAction::Ok => "ok",
        PolicyAction::Reject(_) => "reject",
        PolicyAction::Defer(_) => "defer",
    }
}
