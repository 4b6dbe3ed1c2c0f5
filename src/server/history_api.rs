//! The history over HTTP, for `badclients report`/`suggest`/`history forget` while the
//! daemon holds the history file: `GET /v1/history/report` and `GET /v1/history/suggest`,
//! answering JSON (a [`Report`] or a list of [`Suggestion`]s), and
//! `POST /v1/history/forget?user=U`, deleting every record of one user (answering
//! `{"user", "records", "strings"}`: how many records and strings went). They show or
//! change personal data: access follows [`Access`].
//!
//! Query parameters: `since_us`, `until_us`, `user` (its audit-line form, ignoring ASCII
//! case), `top`, `by=logins|users`, `min_users`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::access::Access;
use super::decide::Decider;
use super::http::error;
use super::serve_http::Peer;
use crate::analysis::aggregate::{summarize_store, AggregateOptions, Summary};
use crate::analysis::known_good::KnownGood;
use crate::analysis::report::{Context, Report, ReportOptions};
use crate::analysis::suggest::{suggest, SuggestOptions};
use crate::audit::escape;
use crate::history::Filter;

/// The history routes.
pub fn routes() -> Router<Decider> {
    Router::new()
        .route("/v1/history/report", get(report))
        .route("/v1/history/suggest", get(suggestions))
        .route("/v1/history/forget", post(forget))
}

#[derive(Debug, Deserialize)]
struct Params {
    since_us: Option<u64>,
    until_us: Option<u64>,
    user: Option<String>,
    top: Option<usize>,
    by: Option<String>,
    min_users: Option<usize>,
}

impl Params {
    fn filter(&self) -> Filter {
        Filter {
            since_us: self.since_us,
            until_us: self.until_us,
            user: self.user.clone(),
        }
    }
}

/// The refusal when [`Access`] does not let the request in.
fn refusal(
    http: &crate::config::HttpSection,
    peer: Option<&Peer>,
    headers: &HeaderMap,
) -> Option<Response> {
    match Access::of(peer, headers, http) {
        Access::Allowed => None,
        refused => Some(error(refused.status(), refused.explanation())),
    }
}

/// Aggregates in a blocking task; the error response when that is not possible.
async fn summarize(
    decider: &Decider,
    peer: Option<&Peer>,
    headers: &HeaderMap,
    filter: Filter,
    for_suggest: bool,
) -> Result<Summary, Response> {
    let active = decider.state().load();
    if let Some(refused) = refusal(&active.config.http, peer, headers) {
        return Err(refused);
    }
    let Some(history) = decider.history() else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "the decision history is off ([history] enabled = false)",
        ));
    };
    let store = std::sync::Arc::clone(history.store());
    let options = AggregateOptions {
        bucket_us: 0,
        for_suggest,
    };
    tokio::task::spawn_blocking(move || summarize_store(&store, &filter, options))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn known_good(decider: &Decider) -> KnownGood {
    let active = decider.state().load();
    let path = active.config.known_good_path();
    let (kg, diagnostics) = KnownGood::load(&path);
    for d in diagnostics {
        tracing::warn!("{d}");
    }
    kg
}

async fn report(
    State(decider): State<Decider>,
    Query(params): Query<Params>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
) -> Response {
    let summary = match summarize(&decider, peer.as_deref(), &headers, params.filter(), false).await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let kg = known_good(&decider);
    let active = decider.state().load();
    let cx = Context {
        lists: Some(&active.policy.lists),
        known_good: Some(&kg),
    };
    let options = ReportOptions {
        top: params.top.unwrap_or(ReportOptions::default().top),
        by_logins: params.by.as_deref() == Some("logins"),
    };
    let mut report = Report::build(&summary, &cx, options);
    report.since_us = params.since_us;
    report.user = params.user.clone();
    Json(report).into_response()
}

async fn suggestions(
    State(decider): State<Decider>,
    Query(params): Query<Params>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
) -> Response {
    let summary = match summarize(&decider, peer.as_deref(), &headers, params.filter(), true).await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let kg = known_good(&decider);
    let active = decider.state().load();
    let cx = Context {
        lists: Some(&active.policy.lists),
        known_good: Some(&kg),
    };
    let options = SuggestOptions {
        min_users: params
            .min_users
            .unwrap_or(SuggestOptions::default().min_users),
    };
    Json(suggest(&summary, &cx, options)).into_response()
}

#[derive(Debug, Deserialize)]
struct ForgetParams {
    user: Option<String>,
}

/// Deletes every record of one user (after committing what the journal holds).
async fn forget(
    State(decider): State<Decider>,
    Query(params): Query<ForgetParams>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
) -> Response {
    let active = decider.state().load();
    if let Some(refused) = refusal(&active.config.http, peer.as_deref(), &headers) {
        return refused;
    }
    // A web page can send a POST to loopback (a request without a body needs no CORS
    // preflight); browsers name its origin, the commands send none.
    if headers.contains_key(axum::http::header::ORIGIN) {
        return error(
            StatusCode::FORBIDDEN,
            "a request with an Origin header (from a web page) may not forget",
        );
    }
    let Some(user) = params.user.filter(|u| !u.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "user= is required");
    };
    let Some(history) = decider.history() else {
        return error(
            StatusCode::NOT_FOUND,
            "the decision history is off ([history] enabled = false)",
        );
    };
    match history.forget(&user).await {
        Ok(forgotten) => {
            tracing::info!(
                user = %escape(&user),
                records = forgotten.records,
                strings = forgotten.strings,
                "history: a user's records forgotten on request"
            );
            Json(json!({
                "user": user,
                "records": forgotten.records,
                "strings": forgotten.strings,
            }))
            .into_response()
        }
        Err(e) => {
            tracing::warn!(user = %escape(&user), error = %e, "history: forgetting a user failed");
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}
