//! The HTTP endpoints: Dovecot's auth policy (`POST /?command=allow|report`), the Lua
//! shim's `GET /v1/check`, `GET /metrics` and `GET /healthz`; the history API
//! ([`super::history_api`]) and the `/ui` dashboard ([`super::ui`]) are merged in.
//!
//! Every request but `/healthz` must carry the API key when one is configured (compared in
//! constant time, the header value trimmed as Dovecot sends it with extra blanks); the
//! policy endpoint, the only one that reads a body, checks it before reading the body, so
//! an unauthenticated client trickling one is refused at once. Bodies are capped; anything
//! malformed is a 4xx with a JSON `error`, and the daemon serves on.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::decide::{Decider, FailType, LoginResult, Outcome};
use crate::config::HttpSection;
use crate::decision::Verdict;
use crate::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;

/// Builds the router. `max_body_bytes` caps request bodies (413 beyond).
pub fn router(decider: Decider, max_body_bytes: usize) -> Router {
    Router::new()
        .route(
            "/",
            post(dovecot_policy).route_layer(middleware::from_fn_with_state(
                decider.clone(),
                require_api_key,
            )),
        )
        .route("/v1/check", get(shim_check))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .merge(super::history_api::routes())
        .merge(super::cache_api::routes())
        .merge(super::ui::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(decider)
}

/// The JSON error answer of every API endpoint: `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// `200 ok`, or `503 degraded: …` with each thing that is degraded: the list directory
/// could not be taken as it is, the history is not writing, or HTTPS lookups cannot work
/// (no CA certificates). The reasons name no path and no entry.
async fn healthz(State(decider): State<Decider>) -> Response {
    let lists = decider.state().load().list_dir_fault.map(|f| f.describe());
    let reasons: Vec<&str> = lists
        .into_iter()
        .chain(decider.storage_degraded())
        .chain(decider.lookup_degraded())
        .collect();
    if reasons.is_empty() {
        "ok\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("degraded: {}\n", reasons.join("; ")),
        )
            .into_response()
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

/// Whether the request carries the configured API key (always, when none is set).
pub(super) fn authorized(headers: &HeaderMap, http: &HttpSection) -> bool {
    super::access::has_key(headers, http)
}

fn finish(decider: &Decider, endpoint: &str, response: Response) -> Response {
    decider
        .metrics()
        .observe_http(endpoint, response.status().as_u16());
    response
}

/// The fields badclients reads from Dovecot's policy request (other fields are ignored;
/// the names are those of the recommended `auth_policy_request_attributes`).
#[derive(Debug, Deserialize)]
struct PolicyRequest {
    remote: Option<String>,
    protocol: Option<String>,
    login: Option<String>,
    user: Option<String>,
    success: Option<bool>,
    policy_reject: Option<bool>,
    fail_type: Option<String>,
}

impl PolicyRequest {
    fn user(&self) -> &str {
        self.user
            .as_deref()
            .filter(|u| !u.is_empty())
            .or(self.login.as_deref())
            .unwrap_or("")
    }

    /// 2.3 says `success` and `policy_reject`; 2.4 adds `fail_type` (when it is among the
    /// request attributes, as it is by default), which names why a login failed.
    fn result(&self) -> LoginResult {
        let fail_type = self.fail_type.as_deref().map(str::trim).unwrap_or("");
        if self.policy_reject == Some(true) || fail_type == "policy" {
            LoginResult::PolicyReject
        } else if self.success == Some(true) {
            LoginResult::Success
        } else {
            LoginResult::Failure(FailType::parse(fail_type))
        }
    }
}

/// Refuses a policy request without the API key before its body is read (the handler's
/// body extractor runs only after this).
async fn require_api_key(State(decider): State<Decider>, request: Request, next: Next) -> Response {
    let active = decider.state().load();
    if authorized(request.headers(), &active.config.http) {
        drop(active);
        return next.run(request).await;
    }
    let command = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .ok()
        .and_then(|Query(q)| q.get("command").cloned())
        .unwrap_or_default();
    let response = error(StatusCode::UNAUTHORIZED, "missing or wrong API key");
    finish(&decider, policy_endpoint(&command), response)
}

fn policy_endpoint(command: &str) -> &'static str {
    match command {
        "allow" => "policy_allow",
        "report" => "policy_report",
        _ => "other",
    }
}

async fn dovecot_policy(
    State(decider): State<Decider>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let command = query.get("command").map(String::as_str).unwrap_or("");
    let endpoint = policy_endpoint(command);
    let response = policy_response(&decider, command, &headers, &body).await;
    finish(&decider, endpoint, response)
}

async fn policy_response(
    decider: &Decider,
    command: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    // The API key was checked before the body was read (`require_api_key`).
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json_type {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json",
        );
    }
    let request: PolicyRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("not a policy request: {e}"),
            )
        }
    };
    let Some(ip) = request
        .remote
        .as_deref()
        .and_then(|r| r.trim().parse::<IpAddr>().ok())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "`remote` must be the client's IP address",
        );
    };
    let service = request.protocol.as_deref().unwrap_or("");
    match command {
        "allow" => {
            // Asked after the password was checked (auth_policy_check_after_auth = yes,
            // the documented setup).
            let outcome = decider.decide(request.user(), service, ip, true).await;
            dovecot_answer(&outcome)
        }
        "report" => {
            decider.report(request.user(), service, ip, request.result());
            Json(json!({ "status": 0 })).into_response()
        }
        _ => error(StatusCode::BAD_REQUEST, "`command` must be allow or report"),
    }
}

fn dovecot_answer(outcome: &Outcome) -> Response {
    if outcome.refused() {
        return Json(json!({ "status": -1, "msg": outcome.message })).into_response();
    }
    if outcome.tempfail() {
        // Dovecot has no "try again" status: with auth_policy_reject_on_fail = yes this fails
        // the login, with = no it goes on.
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "lookups failed; try again later",
        );
    }
    Json(json!({ "status": 0 })).into_response()
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

async fn shim_check(
    State(decider): State<Decider>,
    query: Result<Query<CheckQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let response = shim_response(&decider, query, &headers).await;
    finish(&decider, "check", response)
}

async fn shim_response(
    decider: &Decider,
    query: Result<Query<CheckQuery>, axum::extract::rejection::QueryRejection>,
    headers: &HeaderMap,
) -> Response {
    let active = decider.state().load();
    if !authorized(headers, &active.config.http) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong API key");
    }
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "user, service and ip are required");
    };
    let Ok(ip) = q.ip.trim().parse::<IpAddr>() else {
        return error(StatusCode::BAD_REQUEST, "ip must be an IP address");
    };
    let password_checked = match q.verified.as_deref().map(str::trim) {
        None | Some("yes") => true,
        Some("no") => false,
        Some(_) => return error(StatusCode::BAD_REQUEST, "verified must be yes or no"),
    };
    let outcome = decider
        .decide(&q.user, &q.service, ip, password_checked)
        .await;
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
        return Json(json!({
            "verdict": verdict,
            "enforced": outcome.enforced,
            "matched": matched,
            "message": outcome.message,
        }))
        .into_response();
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
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn metrics(State(decider): State<Decider>, headers: HeaderMap) -> Response {
    let active = decider.state().load();
    let response = if !authorized(&headers, &active.config.http) {
        error(StatusCode::UNAUTHORIZED, "missing or wrong API key")
    } else {
        decider
            .metrics()
            .observe_storage(&decider.storage_snapshot());
        match decider.metrics().encode() {
            Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    };
    finish(&decider, "metrics", response)
}
