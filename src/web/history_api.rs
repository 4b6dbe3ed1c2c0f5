//! The history over HTTP, for `badclients report`/`suggest`/`history forget` while the
//! daemon holds the history file: `GET /v1/history/report` and `GET /v1/history/suggest`,
//! answering JSON (a [`Report`] or a list of [`Suggestion`]s), and
//! `POST /v1/history/forget?user=U`, deleting every record of one user (answering
//! `{"user", "records", "strings"}`: how many records and strings went). They show or
//! change personal data: access follows `Access` ([`Rule::PersonalData`]).
//!
//! Query parameters: `since_us`, `until_us`, `user` (its audit-line form, ignoring ASCII
//! case), `top`, `by=logins|users`, `min_users`.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::app::AppState;
use super::auth::{guard, Rule};
use super::error::WebError;
use crate::analysis::aggregate::{summarize_store, AggregateOptions, Summary};
use crate::analysis::known_good::KnownGood;
use crate::analysis::report::{Context, Report, ReportOptions};
use crate::analysis::suggest::{suggest, SuggestOptions};
use crate::audit::escape;
use crate::history::Filter;

/// The history routes, behind the rule for personal data.
pub(crate) fn routes(app: &AppState) -> Router<AppState> {
    let rule = Rule::PersonalData;
    Router::new()
        .route("/v1/history/report", guard(get(report), app, rule))
        .route("/v1/history/suggest", guard(get(suggestions), app, rule))
        .route("/v1/history/forget", guard(post(forget), app, rule))
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

/// Aggregates in a blocking task.
async fn summarize(app: &AppState, filter: Filter, for_suggest: bool) -> Result<Summary, WebError> {
    // With a shared history (PostgreSQL) there is no store here: reading it is the
    // shared history's own (until then, as if off).
    let history = app.history().ok_or(WebError::HistoryOff)?;
    let store = std::sync::Arc::clone(history.store().ok_or(WebError::HistoryOff)?);
    let options = AggregateOptions {
        bucket_us: 0,
        for_suggest,
    };
    tokio::task::spawn_blocking(move || summarize_store(&store, &filter, options))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))
}

/// `known_good.lst` as it is now (its problems logged).
fn known_good(app: &AppState) -> KnownGood {
    let path = app.active().config.known_good_path();
    let (kg, diagnostics) = KnownGood::load(&path);
    for d in diagnostics {
        tracing::warn!("{d}");
    }
    kg
}

async fn report(
    State(app): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Json<Report>, WebError> {
    let summary = summarize(&app, params.filter(), false).await?;
    let kg = known_good(&app);
    let active = app.active();
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
    Ok(Json(report))
}

async fn suggestions(
    State(app): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Response, WebError> {
    let summary = summarize(&app, params.filter(), true).await?;
    let kg = known_good(&app);
    let active = app.active();
    let cx = Context {
        lists: Some(&active.policy.lists),
        known_good: Some(&kg),
    };
    let options = SuggestOptions {
        min_users: params
            .min_users
            .unwrap_or(SuggestOptions::default().min_users),
    };
    Ok(Json(suggest(&summary, &cx, options)).into_response())
}

#[derive(Debug, Deserialize)]
struct ForgetParams {
    user: Option<String>,
}

/// Deletes every record of one user (after committing what the journal holds).
async fn forget(
    State(app): State<AppState>,
    Query(params): Query<ForgetParams>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    // A web page can send a POST to loopback (a request without a body needs no CORS
    // preflight); browsers name its origin, the commands send none.
    if headers.contains_key(header::ORIGIN) {
        return Err(WebError::FromWebPage);
    }
    let user = params
        .user
        .filter(|u| !u.is_empty())
        .ok_or(WebError::BadRequest("user= is required"))?;
    let history = app.history().ok_or(WebError::HistoryOff)?;
    match history.forget(&user).await {
        Ok(forgotten) => {
            tracing::info!(
                user = %escape(&user),
                records = forgotten.records,
                strings = forgotten.strings,
                "history: a user's records forgotten on request"
            );
            Ok(Json(json!({
                "user": user,
                "records": forgotten.records,
                "strings": forgotten.strings,
            }))
            .into_response())
        }
        Err(e) => {
            tracing::warn!(user = %escape(&user), error = %e, "history: forgetting a user failed");
            Err(WebError::Unavailable(e.to_string()))
        }
    }
}
