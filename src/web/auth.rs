//! The one access layer in front of every route that needs one
//! ([`guard`]): it applies [`Rule`]s, answers refusals (counting those of counted
//! endpoints) and lets everything else through to the handler, which checks nothing.
//!
//! - [`Rule::Key`] (Dovecot's policy endpoint, the shim's `/v1/check`, `/metrics`): the
//!   API key in its header when one is set ([`has_key`]: constant time, trimmed), checked
//!   before the body is read, so that an unauthenticated client trickling one is refused
//!   at once;
//! - [`Rule::PersonalData`] (history and cache API) and [`Rule::Page`] (the dashboard):
//!   [`Access`], the rule for personal data; the dashboard's refusals are HTML pages with a
//!   Basic challenge.

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::access::{has_key, Access};
use super::app::AppState;
use super::endpoint;
use super::error::WebError;
use super::peer::Peer;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// The API key when one is set.
    Key(Counted),
    /// [`Access`]; refusals are JSON.
    PersonalData,
    /// [`Access`]; refusals are HTML pages.
    Page(Counted),
}

/// Whether, and under which endpoint, a refusal is counted in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    No,
    As(&'static str),
    /// The Dovecot policy endpoint: by its `command` ([`endpoint::policy`]).
    DovecotCommand,
}

/// `route` behind `rule`.
pub(crate) fn guard(
    route: MethodRouter<AppState>,
    app: &AppState,
    rule: Rule,
) -> MethodRouter<AppState> {
    route.route_layer(middleware::from_fn_with_state((app.clone(), rule), check))
}

async fn check(
    State((app, rule)): State<(AppState, Rule)>,
    request: Request,
    next: Next,
) -> Response {
    let Some(refusal) = refusal(&app, rule, &request) else {
        return next.run(request).await;
    };
    let response = refusal.into_response();
    let counted = match rule {
        Rule::Key(counted) | Rule::Page(counted) => counted,
        Rule::PersonalData => Counted::No,
    };
    match counted {
        Counted::No => {}
        Counted::As(name) => app.count(name, response.status()),
        Counted::DovecotCommand => app.count(
            endpoint::policy(&endpoint::command(request.uri())),
            response.status(),
        ),
    }
    response
}

/// Why `rule` refuses `request`, if it does.
fn refusal(app: &AppState, rule: Rule, request: &Request) -> Option<WebError> {
    let active = app.active();
    let http = &active.config.http;
    match rule {
        Rule::Key(_) => (!has_key(request.headers(), http)).then_some(WebError::NoKey),
        Rule::PersonalData | Rule::Page(_) => {
            let peer = request.extensions().get::<Peer>();
            match Access::of(peer, request.headers(), http) {
                Access::Allowed => None,
                refused if rule == Rule::PersonalData => Some(WebError::Refused(refused)),
                refused => Some(WebError::PageRefused(refused)),
            }
        }
    }
}
