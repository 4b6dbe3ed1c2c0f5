//! The operations endpoints: `GET /metrics` (the Prometheus text, behind the API key) and
//! `GET /healthz` (open: `ok`, or `503 degraded: …` naming what is degraded — the list
//! directory, the history, HTTPS lookups without CA certificates; never a path or an entry).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::app::AppState;
use super::auth::{guard, Counted, Rule};
use super::endpoint;
use super::error::WebError;
use crate::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;

/// `/metrics` behind the API key, `/healthz` open.
pub(crate) fn routes(app: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/metrics",
            guard(get(metrics), app, Rule::Key(Counted::As(endpoint::METRICS))),
        )
        .route("/healthz", get(healthz))
}

async fn healthz(State(app): State<AppState>) -> Response {
    let reasons = app.degraded();
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

async fn metrics(State(app): State<AppState>) -> Response {
    app.metrics().observe_storage(&app.storage_snapshot());
    let response = match app.metrics().encode() {
        Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(e) => WebError::Internal(e.to_string()).into_response(),
    };
    app.count(endpoint::METRICS, response.status());
    response
}
