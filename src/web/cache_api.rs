//! The lookup cache over HTTP, for `badclients check`, `lookup`, `cache stats` and
//! `cache purge` while the daemon holds the cache file:
//!
//! - `GET /v1/lookup?ip=…`: the facts of one address and how each source fared (the
//!   [`crate::lookup::LookupReport`] JSON that `lookup --json` prints), through the daemon's
//!   cache;
//! - `GET /v1/cache/stats`: how full each tier is ([`CacheSizes`]);
//! - `POST /v1/cache/purge[?ip=…]`: removes every entry, or those for one address, from the
//!   daemon's memory and the cache file: `{"store": n, "memory": m}`.
//!
//! These answers name client addresses (personal data): access follows
//! `Access` ([`Rule::PersonalData`]).

use std::net::IpAddr;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::app::AppState;
use super::auth::{guard, Rule};
use super::error::WebError;
use crate::lookup::tiers::CacheSizes;

/// The cache routes, behind the rule for personal data.
pub(crate) fn routes(app: &AppState) -> Router<AppState> {
    let rule = Rule::PersonalData;
    Router::new()
        .route("/v1/lookup", guard(get(lookup), app, rule))
        .route("/v1/cache/stats", guard(get(stats), app, rule))
        .route("/v1/cache/purge", guard(post(purge), app, rule))
}

#[derive(Debug, Deserialize)]
struct IpParam {
    ip: Option<String>,
}

impl IpParam {
    /// The address, `None` when absent.
    fn parse(&self) -> Result<Option<IpAddr>, WebError> {
        match self.ip.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| WebError::BadRequest("ip must be an IP address")),
        }
    }
}

async fn lookup(
    State(app): State<AppState>,
    Query(param): Query<IpParam>,
) -> Result<Response, WebError> {
    let ip = param
        .parse()?
        .ok_or(WebError::BadRequest("ip is required"))?;
    Ok(Json(app.lookup().facts(ip).await).into_response())
}

async fn stats(State(app): State<AppState>) -> Result<Json<CacheSizes>, WebError> {
    let lookup = app.lookup().clone();
    let sizes = tokio::task::spawn_blocking(move || lookup.cache_sizes())
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    app.metrics().observe_cache_sizes(&sizes);
    Ok(Json(sizes))
}

async fn purge(
    State(app): State<AppState>,
    Query(param): Query<IpParam>,
) -> Result<Response, WebError> {
    let ip = param.parse()?;
    let lookup = app.lookup().clone();
    // The file first: the memory entries could otherwise be written back by the writer.
    let store = tokio::task::spawn_blocking(move || match lookup.tiers().store() {
        None => Ok(0),
        Some(store) => match ip {
            None => store.purge_all(),
            Some(ip) => crate::lookup::purge::purge_ip(store, ip),
        },
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
    .map_err(|e| WebError::Internal(e.to_string()))?;
    let memory = app.lookup().purge_memory(ip);
    tracing::info!(
        ip = ip.map(|a| a.to_string()).unwrap_or_else(|| "all".into()),
        store,
        memory,
        "cache purged on request"
    );
    Ok(Json(json!({ "store": store, "memory": memory })).into_response())
}
