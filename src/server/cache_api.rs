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
//! These answers name client addresses (personal data): access follows [`Access`].

use std::net::IpAddr;

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
use crate::config::HttpSection;
use crate::lookup::tiers::CacheSizes;

/// The cache routes.
pub fn routes() -> Router<Decider> {
    Router::new()
        .route("/v1/lookup", get(lookup))
        .route("/v1/cache/stats", get(stats))
        .route("/v1/cache/purge", post(purge))
}

#[derive(Debug, Deserialize)]
struct IpParam {
    ip: Option<String>,
}

impl IpParam {
    /// The address, `None` when absent; the refusal when it is not an address.
    fn parse(&self) -> Result<Option<IpAddr>, Refusal> {
        match self.ip.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| (StatusCode::BAD_REQUEST, "ip must be an IP address")),
        }
    }
}

/// Why a request is not answered: the status and the `error` text.
pub type Refusal = (StatusCode, &'static str);

fn refused((status, message): Refusal) -> Response {
    error(status, message)
}

/// Whether a request may use these endpoints ([`Access`]; `peer` `None`: unknown, treated
/// as remote).
pub fn allowed(
    peer: Option<&Peer>,
    headers: &HeaderMap,
    http: &HttpSection,
) -> Result<(), Refusal> {
    match Access::of(peer, headers, http) {
        Access::Allowed => Ok(()),
        refusal => Err((refusal.status(), refusal.explanation())),
    }
}

fn check(
    decider: &Decider,
    peer: Option<Extension<Peer>>,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let active = decider.state().load();
    allowed(peer.as_deref(), headers, &active.config.http)
}

async fn lookup(
    State(decider): State<Decider>,
    peer: Option<Extension<Peer>>,
    Query(param): Query<IpParam>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = check(&decider, peer, &headers) {
        return refused(refusal);
    }
    match param.parse() {
        Ok(Some(ip)) => Json(decider.lookup().facts(ip).await).into_response(),
        Ok(None) => error(StatusCode::BAD_REQUEST, "ip is required"),
        Err(refusal) => refused(refusal),
    }
}

async fn stats(
    State(decider): State<Decider>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = check(&decider, peer, &headers) {
        return refused(refusal);
    }
    let lookup = decider.lookup().clone();
    let sizes: Result<CacheSizes, String> =
        match tokio::task::spawn_blocking(move || lookup.cache_sizes()).await {
            Ok(Ok(sizes)) => Ok(sizes),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
    match sizes {
        Ok(sizes) => {
            decider.metrics().observe_cache_sizes(&sizes);
            Json(sizes).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn purge(
    State(decider): State<Decider>,
    peer: Option<Extension<Peer>>,
    Query(param): Query<IpParam>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = check(&decider, peer, &headers) {
        return refused(refusal);
    }
    let ip = match param.parse() {
        Ok(ip) => ip,
        Err(refusal) => return refused(refusal),
    };
    let lookup = decider.lookup().clone();
    // The file first: the memory entries could otherwise be written back by the writer.
    let store = tokio::task::spawn_blocking(move || match lookup.tiers().store() {
        None => Ok(0),
        Some(store) => match ip {
            None => store.purge_all(),
            Some(ip) => crate::lookup::build::purge_ip(store, ip),
        },
    })
    .await;
    let store = match store {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let memory = decider.lookup().purge_memory(ip);
    tracing::info!(
        ip = ip.map(|a| a.to_string()).unwrap_or_else(|| "all".into()),
        store,
        memory,
        "cache purged on request"
    );
    Json(json!({ "store": store, "memory": memory })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn http(key: Option<&str>) -> HttpSection {
        HttpSection {
            api_key: key.map(String::from),
            ..HttpSection::default()
        }
    }

    fn status(result: Result<(), Refusal>) -> u16 {
        result.map_or_else(|(s, _)| s.as_u16(), |()| 200)
    }

    #[test]
    fn the_key_when_set_else_only_local_peers() {
        let local = Peer::Tcp("127.0.0.1:4000".parse().unwrap());
        let remote = Peer::Tcp("192.0.2.1:4000".parse().unwrap());
        let mut none = HeaderMap::new();
        none.insert("host", HeaderValue::from_static("127.0.0.1:8670"));
        let mut keyed = none.clone();
        let section = http(Some("k"));
        keyed.insert(
            section
                .api_header
                .parse::<axum::http::HeaderName>()
                .unwrap(),
            HeaderValue::from_static("k"),
        );
        // A key is set: it is needed even from loopback.
        assert_eq!(status(allowed(Some(&local), &none, &section)), 401);
        assert_eq!(status(allowed(Some(&remote), &keyed, &section)), 200);
        // No key: loopback and unix-socket peers only.
        assert_eq!(status(allowed(Some(&local), &none, &http(None))), 200);
        assert_eq!(status(allowed(Some(&Peer::Unix), &none, &http(None))), 200);
        assert_eq!(status(allowed(Some(&remote), &none, &http(None))), 403);
        assert_eq!(status(allowed(None, &none, &http(None))), 403);
    }
}
