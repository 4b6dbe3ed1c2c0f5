//! Dovecot's auth policy endpoint: `POST /?command=allow|report` with a JSON body (the
//! recommended `auth_policy_request_attributes`). `allow` is asked after the password was
//! checked and answers `{"status":-1,"msg":…}` to refuse, `{"status":0}` to go on, 503 when
//! the lookups failed; `report` logs how the login went. The daemon's busiest path: no
//! header map is copied, the query is read in place.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::app::AppState;
use super::auth::{guard, Counted, Rule};
use super::endpoint;
use super::error::WebError;
use crate::decider::{FailType, LoginResult, Outcome};

/// The Dovecot route, behind the API key (checked before the body is read).
pub(crate) fn routes(app: &AppState) -> Router<AppState> {
    Router::new().route(
        "/",
        guard(post(policy), app, Rule::Key(Counted::DovecotCommand)),
    )
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

/// Whether the request says its body is `application/json` (read from the headers in
/// place).
struct JsonBody(bool);

impl<S: Send + Sync> FromRequestParts<S> for JsonBody {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.trim_start().as_bytes();
                v.len() >= 16 && v[..16].eq_ignore_ascii_case(b"application/json")
            });
        Ok(JsonBody(json))
    }
}

/// Dovecot's answer (the keys in the order they always had).
#[derive(Serialize)]
struct Answer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    msg: Option<&'a str>,
    status: i32,
}

async fn policy(
    State(app): State<AppState>,
    uri: Uri,
    JsonBody(json): JsonBody,
    body: Bytes,
) -> Response {
    let command = endpoint::command(&uri);
    let response = answer(&app, &command, json, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    app.count(endpoint::policy(&command), response.status());
    response
}

async fn answer(
    app: &AppState,
    command: &str,
    json: bool,
    body: &[u8],
) -> Result<Response, WebError> {
    if !json {
        return Err(WebError::NotJson);
    }
    let request: PolicyRequest =
        serde_json::from_slice(body).map_err(WebError::NotAPolicyRequest)?;
    let ip = request
        .remote
        .as_deref()
        .and_then(|r| r.trim().parse::<IpAddr>().ok())
        .ok_or(WebError::BadRequest(
            "`remote` must be the client's IP address",
        ))?;
    let service = request.protocol.as_deref().unwrap_or("");
    match command {
        "allow" => {
            // Asked after the password was checked (auth_policy_check_after_auth = yes,
            // the documented setup).
            let outcome = app.decide(request.user(), service, ip, true).await;
            allow_answer(&outcome)
        }
        "report" => {
            app.report(request.user(), service, ip, request.result());
            Ok(Json(Answer {
                msg: None,
                status: 0,
            })
            .into_response())
        }
        _ => Err(WebError::BadRequest("`command` must be allow or report")),
    }
}

fn allow_answer(outcome: &Outcome) -> Result<Response, WebError> {
    if outcome.refused() {
        return Ok(Json(Answer {
            msg: Some(&outcome.message),
            status: -1,
        })
        .into_response());
    }
    if outcome.tempfail() {
        // Dovecot has no "try again" status: with auth_policy_reject_on_fail = yes this fails
        // the login, with = no it goes on.
        return Err(WebError::LookupsFailed);
    }
    Ok(Json(Answer {
        msg: None,
        status: 0,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_their_bytes() {
        let text = |a: Answer<'_>| serde_json::to_string(&a).expect("JSON");
        assert_eq!(
            text(Answer {
                msg: None,
                status: 0
            }),
            r#"{"status":0}"#
        );
        assert_eq!(
            text(Answer {
                msg: Some("go \"away\""),
                status: -1
            }),
            serde_json::json!({"status": -1, "msg": "go \"away\""}).to_string()
        );
    }
}
