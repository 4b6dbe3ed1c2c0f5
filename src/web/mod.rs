//! The HTTP side of the daemon: one router over the routes of each client, served on TCP
//! or a unix socket.
//!
//! | module | owns |
//! |---|---|
//! | [`dovecot`] | Dovecot's auth policy: `POST /?command=allow\|report` |
//! | [`shim`] | the Lua shim's `GET /v1/check` |
//! | [`history_api`] | `/v1/history/report`, `/suggest`, `/forget` for the commands |
//! | [`cache_api`] | `/v1/lookup`, `/v1/cache/stats`, `/v1/cache/purge` for the commands |
//! | [`ops`] | `/metrics`, `/healthz` |
//! | [`ui`] | the `/ui` dashboard |
//! | [`auth`] | the one access layer in front of every route that needs one |
//! | [`access`] | [`access::Access`], the rule for personal data |
//! | [`app`], [`error`], [`endpoint`], [`page`], [`peer`] | what routes share: the state, the error answer, the metrics names, HTML answers, the peer |
//! | [`serve_http`] | HTTP/1.1 with deadlines, the connection cap, graceful draining |
//!
//! Routes depend on the shared modules, never on each other. Bodies are capped (413
//! beyond); anything malformed is a 4xx with a JSON `error`, and the daemon serves on.

pub(crate) mod access;
pub(crate) mod app;
pub(crate) mod auth;
pub(crate) mod cache_api;
pub(crate) mod dovecot;
pub(crate) mod endpoint;
pub(crate) mod error;
pub(crate) mod history_api;
pub(crate) mod ops;
pub(crate) mod page;
pub(crate) mod peer;
pub(crate) mod serve_http;
pub(crate) mod shim;
pub(crate) mod ui;

use axum::extract::DefaultBodyLimit;
use axum::Router;

pub(crate) use app::AppState;
use error::WebError;

/// Builds the router. `max_body_bytes` caps request bodies (413 beyond).
pub(crate) fn router(app: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .merge(dovecot::routes(&app))
        .merge(shim::routes(&app))
        .merge(ops::routes(&app))
        .merge(history_api::routes(&app))
        .merge(cache_api::routes(&app))
        .merge(ui::routes(&app))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(app)
}

async fn not_found() -> WebError {
    WebError::NoSuchEndpoint
}
