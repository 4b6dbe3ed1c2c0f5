//! The dashboard at `/ui`: plain server-rendered HTML over the decision history and the
//! loaded lists, readable without JavaScript and without the internet (no external assets).
//!
//! - `GET /ui?range=1h|24h|7d|30d` (default 24h): decisions over time as an inline SVG
//!   stacked bar chart (allowed / blocked / audit-only would-block), the top ASNs (with the
//!   report's status and why, candidates highlighted), clouds and countries, the latest blocked
//!   logins with *why* (the list file, line and entry), list health and history sizes;
//! - with `[history] backend = "postgres"` the overview reads every node's decisions, or one
//!   node's with `?node=NAME` (a selector lists the nodes), and the user page reads every
//!   node's;
//! - `GET /ui/user?q=NAME`: one user's login sources (per AS: networks, hosts, clouds) and
//!   latest decisions, over the whole history;
//! - `GET /ui/style.css`, `GET /ui/app.js`: the files of `assets/ui/`, compiled in. The
//!   script only adds an auto-refresh toggle.
//!
//! Access follows `Access` ([`Rule::Page`]), as for every endpoint that
//! shows personal data; a request that needs the key is answered 401 with a Basic challenge,
//! so that a browser asks for it (any user name, the key as the password).
//!
//! The pages are askama templates (`assets/ui/templates/`, compiled in), which escape every
//! value shown: user names, host names and AS descriptions come from clients and upstream
//! registries. [`data`] reads, [`view`] turns what was read into the templates' contexts,
//! [`chart`] draws the chart.

pub(crate) mod chart;
pub(crate) mod data;
pub(crate) mod range;
pub(crate) mod view;

use std::path::Path;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::app::AppState;
use super::auth::{guard, Counted, Rule};
use super::endpoint;
use super::error::WebError;
use super::page;
use crate::analysis::known_good::KnownGood;
use crate::app::HistorySource;
use crate::clock::now_us;
use crate::pghistory::read::PgReader;
use data::{health, load_overview, load_user, ReadError, Reader, UserView};
use range::Range;
use view::{Chrome, HealthCard, HistoryPart, NodePicker, OverviewPage, Shown, UserPage};

const STYLE_CSS: &str = include_str!("../../../assets/ui/style.css");
const APP_JS: &str = include_str!("../../../assets/ui/app.js");

/// The longest user name searched for (longer ones cannot be in the history anyway).
const MAX_QUERY: usize = 1024;

/// The dashboard's routes: the pages (counted in `/metrics`) and their two files.
pub(crate) fn routes(app: &AppState) -> Router<AppState> {
    let page = Rule::Page(Counted::As(endpoint::UI));
    let file = Rule::Page(Counted::No);
    Router::new()
        .route("/ui", guard(get(overview), app, page))
        .route("/ui/", guard(get(overview), app, page))
        .route("/ui/user", guard(get(user_page), app, page))
        .route("/ui/style.css", guard(get(style), app, file))
        .route("/ui/app.js", guard(get(script), app, file))
}

#[derive(Debug, Default, Deserialize)]
struct UiQuery {
    range: Option<String>,
    q: Option<String>,
    node: Option<String>,
}

fn query(q: Result<Query<UiQuery>, QueryRejection>) -> UiQuery {
    q.map(|Query(q)| q).unwrap_or_default()
}

async fn style() -> Response {
    page::asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn script() -> Response {
    page::asset("text/javascript; charset=utf-8", APP_JS)
}

/// A rendered page, or the failure page.
fn render(template: &impl Template) -> Response {
    render_with(StatusCode::OK, template)
}

/// A rendered page answered with `status`, or the failure page.
fn render_with(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => page::html(status, body),
        Err(e) => WebError::PageInternal(e.to_string()).into_response(),
    }
}

/// Counts a page's answer.
fn counted(app: &AppState, response: Response) -> Response {
    app.count(endpoint::UI, response.status());
    response
}

/// Connects a reader of the shared history (reading `node`'s decisions, or all) and runs
/// `read` with it; called in a blocking task, blocking on the daemon's runtime (`handle`).
fn read_shared<T>(
    handle: &tokio::runtime::Handle,
    source: &HistorySource,
    node: Option<String>,
    read: impl FnOnce(&PgReader) -> Result<T, ReadError>,
) -> Result<T, ReadError> {
    match handle.block_on(source.pg_reader(node)) {
        Some(Ok(reader)) => read(&reader),
        Some(Err(e)) => Err(e.into()),
        None => Err(ReadError::NotShared),
    }
}

async fn overview(
    State(app): State<AppState>,
    q: Result<Query<UiQuery>, QueryRejection>,
) -> Response {
    let q = query(q);
    let range = q
        .range
        .as_deref()
        .and_then(Range::parse)
        .unwrap_or(Range::Day);
    let active = app.active();
    let source = HistorySource::of(&active.config);
    if matches!(source, HistorySource::Postgres { .. }) {
        let node = q.node.filter(|n| !n.is_empty() && n.len() <= MAX_QUERY);
        return overview_shared(app, source, range, node).await;
    }
    let config_path = app.config_path().map(Path::to_path_buf);
    let store = app.history().and_then(|h| h.store().cloned());
    let now = now_us();
    let loaded = tokio::task::spawn_blocking(move || {
        let (kg, kg_diagnostics) = KnownGood::load(&active.config.known_good_path());
        let health = health(&active, config_path.as_deref(), &kg_diagnostics);
        let overview = store.map(|s| {
            let path = s.path().display().to_string();
            (
                path,
                load_overview(Reader::Store(&s), &active, &kg, range, now),
            )
        });
        (health, overview)
    })
    .await;
    let (health, overview) = match loaded {
        Ok(v) => v,
        Err(e) => return counted(&app, WebError::PageInternal(e.to_string()).into_response()),
    };
    let counters = app.history().map(|h| h.counters());
    let history = match &overview {
        None => HistoryPart::Off,
        Some((path, Err(e))) => HistoryPart::Unreadable {
            path: path.clone(),
            error: e.to_string(),
        },
        Some((path, Ok(o))) => {
            HistoryPart::Shown(Box::new(Shown::new(range, now, path.clone(), o, counters)))
        }
    };
    let page = OverviewPage {
        chrome: Chrome::new("badclients dashboard".into(), Some(range), "", now),
        nodes: None,
        history,
        health: HealthCard {
            health: &health,
            now,
        },
    };
    counted(&app, render(&page))
}

/// The overview over the shared history: every node's decisions, or `node`'s.
async fn overview_shared(
    app: AppState,
    source: HistorySource,
    range: Range,
    node: Option<String>,
) -> Response {
    let active = app.active();
    let config_path = app.config_path().map(Path::to_path_buf);
    let now = now_us();
    let handle = tokio::runtime::Handle::current();
    let chosen = node.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let (kg, kg_diagnostics) = KnownGood::load(&active.config.known_good_path());
        let health = health(&active, config_path.as_deref(), &kg_diagnostics);
        let read = read_shared(&handle, &source, chosen, |reader| {
            let nodes = reader.nodes()?;
            let overview = load_overview(Reader::Shared(reader), &active, &kg, range, now)?;
            Ok((nodes, overview))
        });
        (health, source.describe(), read)
    })
    .await;
    let (health, what, read) = match loaded {
        Ok(v) => v,
        Err(e) => return counted(&app, WebError::PageInternal(e.to_string()).into_response()),
    };
    let place = format!(
        "{what} ({})",
        node.as_deref()
            .map_or_else(|| "all nodes".to_string(), |n| format!("node {n}"))
    );
    let counters = app.history().map(|h| h.counters());
    let (history, nodes) = match &read {
        Err(e) => {
            tracing::warn!(error = %e, "ui: the shared history could not be read");
            (
                HistoryPart::Unreadable {
                    path: place,
                    error: e.to_string(),
                },
                None,
            )
        }
        Ok((names, o)) => (
            HistoryPart::Shown(Box::new(Shown::new(range, now, place, o, counters))),
            Some(NodePicker {
                range: range.name(),
                names: names.clone(),
                current: node.clone(),
            }),
        ),
    };
    let page = OverviewPage {
        chrome: Chrome::new("badclients dashboard".into(), Some(range), "", now)
            .with_node(node.as_deref()),
        nodes,
        history,
        health: HealthCard {
            health: &health,
            now,
        },
    };
    let status = if read.is_err() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    counted(&app, render_with(status, &page))
}

async fn user_page(
    State(app): State<AppState>,
    q: Result<Query<UiQuery>, QueryRejection>,
) -> Response {
    let wanted = query(q).q.unwrap_or_default().trim().to_string();
    let source = HistorySource::of(&app.active().config);
    let shared = matches!(source, HistorySource::Postgres { .. });
    let view = match app.history().and_then(|h| h.store().cloned()) {
        None if !shared => None,
        _ if wanted.is_empty() || wanted.len() > MAX_QUERY => Some(Ok(UserView::default())),
        _ if shared => {
            let handle = tokio::runtime::Handle::current();
            let w = wanted.clone();
            let read = tokio::task::spawn_blocking(move || {
                read_shared(&handle, &source, None, |reader| {
                    load_user(Reader::Shared(reader), &w)
                })
            });
            match read.await {
                Ok(v) => Some(v),
                Err(e) => {
                    return counted(&app, WebError::PageInternal(e.to_string()).into_response())
                }
            }
        }
        None => None,
        Some(store) => {
            let w = wanted.clone();
            match tokio::task::spawn_blocking(move || load_user(Reader::Store(&store), &w)).await {
                Ok(v) => Some(v),
                Err(e) => {
                    return counted(&app, WebError::PageInternal(e.to_string()).into_response())
                }
            }
        }
    };
    counted(
        &app,
        render(&UserPage::new(&wanted, view.as_ref(), now_us())),
    )
}
