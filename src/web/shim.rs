//! The Lua shim's endpoint: `GET /v1/check?user=…&service=…&ip=…[&verified=yes|no]`,
//! answering one `key=value` per line (`verdict`, `enforced`, `matched`, `message`), or
//! JSON when the request accepts `application/json`.

use std::net::IpAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::app::AppState;
use super::auth::{guard, Counted, Rule};
use super::endpoint;
use super::error::WebError;
use crate::decision::Verdict;

/// The shim's route, behind the API key.
pub(crate) fn routes(app: &AppState) -> Router<AppState> {
    Router::new().route(
        "/v1/check",
        guard(get(check), app, Rule::Key(Counted::As(endpoint::CHECK))),
    )
}

#[derive(Debug, Deserialize)]
struct CheckQuery {
    user: String,
    service: String,
    ip: String,
    /// `yes` when an earlier passdb has checked the password, `no` when nobody has yet
    /// (the shim ahead of the password passdb). Absent: `yes`, as before it existed.
    verified: Option<String>,
}

/// The JSON answer (the keys in the order they always had).
#[derive(Serialize)]
struct JsonAnswer<'a> {
    enforced: bool,
    matched: &'a str,
    message: &'a str,
    verdict: &'a str,
}

async fn check(
    State(app): State<AppState>,
    query: Result<Query<CheckQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let response = answer(&app, query, &headers)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    app.count(endpoint::CHECK, response.status());
    response
}

async fn answer(
    app: &AppState,
    query: Result<Query<CheckQuery>, QueryRejection>,
    headers: &HeaderMap,
) -> Result<Response, WebError> {
    let Ok(Query(q)) = query else {
        return Err(WebError::BadRequest("user, service and ip are required"));
    };
    let ip: IpAddr =
        q.ip.trim()
            .parse()
            .map_err(|_| WebError::BadRequest("ip must be an IP address"))?;
    let password_checked = match q.verified.as_deref().map(str::trim) {
        None | Some("yes") => true,
        Some("no") => false,
        Some(_) => return Err(WebError::BadRequest("verified must be yes or no")),
    };
    let outcome = app.decide(&q.user, &q.service, ip, password_checked).await;
    let verdict = match outcome.decision.verdict {
        Verdict::Allow => "allow",
        Verdict::Block => "block",
        Verdict::TempFail => "tempfail",
    };
    let matched = outcome
        .decision
        .hit()
        .map(|h| h.label.as_str())
        .unwrap_or("");
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(Json(JsonAnswer {
            enforced: outcome.enforced,
            matched,
            message: &outcome.message,
            verdict,
        })
        .into_response());
    }
    // One `key=value` per line; values never hold a line break (the label and the
    // message come from lists and configuration; line breaks are replaced anyway).
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    let body = format!(
        "verdict={verdict}\nenforced={}\nmatched={}\nmessage={}\n",
        if outcome.enforced { "yes" } else { "no" },
        clean(matched),
        clean(&outcome.message)
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}
