//! [`FakeRdap`]: an RDAP server speaking HTTP/1.1 (hyper) on 127.0.0.1, answering from
//! [`Routes`] and injecting [`RdapFault`]s.
//!
//! This module owns the route table (exact paths, then the longest matching path prefix, then a
//! 404 in RDAP error format), the replies and their faults, and the request counters (total, per
//! path, the `Accept` header of each request). One server can play all five RIRs when routes are
//! put under `/arin/`, `/ripe/`, `/apnic/`, `/lacnic/` and `/afrinic/`, with each registry's base
//! URL set to `http://127.0.0.1:PORT/ripe/` and so on.
//!
//! A route holds a sequence of replies: each request takes the next one and the last one repeats,
//! so "429 once, then the answer" is `vec![Reply::fault(RateLimited{..}), Reply::json(..)]`.
//!
//! The JSON form of [`Routes`] (used by `testworld serve --spec`):
//!
//! ```json
//! {"exact":  {"/ripe/ip/192.0.2.1": {"json": {"objectClassName": "ip network", "name": "X"}}},
//!  "prefix": {"/arin/ip/": [{"fault": {"rate_limited": {"retry_after_secs": 1}}},
//!                           {"status": 200, "json": {"name": "Y"}}]},
//!  "fallback": null}
//! ```
//!
//! A reply has `status` (default 200), `content_type` (default `application/rdap+json`),
//! `headers` (list of `[name, value]`), a body as `json` (any JSON value) or `text`, and `fault`.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{
    HeaderName, HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::zone::duration_ms;

/// The RDAP media type (RFC 9083), the default `Content-Type` of replies.
pub const RDAP_CONTENT_TYPE: &str = "application/rdap+json";

/// How long a truncated body waits after its first half before the connection is cut.
const TRUNCATE_PAUSE: Duration = Duration::from_millis(50);

/// Size of each chunk of a streamed oversized body.
const OVERSIZED_CHUNK: usize = 64 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ResponseBody = BoxBody<Bytes, BoxError>;

/// A fault the RDAP server injects for a route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RdapFault {
    /// Answer with this status; the body is the reply's body, or an RDAP error object if the
    /// reply has none.
    Status(u16),
    /// 429 with `Retry-After: <retry_after_secs>` and an RDAP error object.
    RateLimited {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// Wait, then send the reply as it is.
    Delay(#[serde(with = "duration_ms")] Duration),
    /// Accept the request and never answer.
    Hang,
    /// Send the reply's status and headers with a `Content-Length` of the full body, send half
    /// the body, then close the connection.
    Truncated,
    /// A valid-looking 200 JSON answer of exactly this many bytes, streamed in chunks without a
    /// `Content-Length` (chunked transfer encoding).
    Oversized(usize),
    /// Like [`RdapFault::Oversized`], but announced with a `Content-Length` header.
    OversizedDeclared(usize),
    /// A redirect to `to` (relative or absolute) with this status (301, 302, 303, 307, 308).
    Redirect {
        /// The `Location` header.
        to: String,
        /// The status code.
        status: u16,
    },
    /// A 302 redirect to the request's own path, forever.
    RedirectLoop,
    /// 200 with `text/html` and an HTML body.
    NotJson,
    /// 200 RDAP JSON whose only content is a LACNIC-style "Rate Limit Notice" notice.
    RateLimitNotice,
}

/// One reply of a route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ReplySpec", into = "ReplySpec")]
pub struct Reply {
    /// HTTP status (default 200).
    pub status: u16,
    /// `Content-Type` (default `application/rdap+json`).
    pub content_type: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The fault injected, if any.
    pub fault: Option<RdapFault>,
}

impl Reply {
    /// 200 `application/rdap+json` with `body` (raw bytes, sent as they are).
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            content_type: RDAP_CONTENT_TYPE.to_owned(),
            headers: Vec::new(),
            body: body.into(),
            fault: None,
        }
    }

    /// 200 `application/rdap+json` with `value` serialised.
    pub fn json_value(value: &serde_json::Value) -> Reply {
        Reply::json(value.to_string())
    }

    /// A reply that is only `fault` (empty body, status 200 unless the fault sets one).
    pub fn fault(fault: RdapFault) -> Reply {
        Reply::json(Vec::new()).with_fault(fault)
    }

    /// 404 with an RDAP error object.
    pub fn not_found() -> Reply {
        Reply::json(rdap_error(404, "Not Found")).with_status(404)
    }

    /// This reply with another status.
    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    /// This reply with another `Content-Type`.
    pub fn with_content_type(mut self, content_type: &str) -> Reply {
        content_type.clone_into(&mut self.content_type);
        self
    }

    /// This reply with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// This reply with `fault`.
    pub fn with_fault(mut self, fault: RdapFault) -> Reply {
        self.fault = Some(fault);
        self
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct ReplySpec {
    #[serde(default = "default_status")]
    status: u16,
    #[serde(default = "default_content_type")]
    content_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    json: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fault: Option<RdapFault>,
}

fn default_status() -> u16 {
    200
}

fn default_content_type() -> String {
    RDAP_CONTENT_TYPE.to_owned()
}

impl From<ReplySpec> for Reply {
    fn from(spec: ReplySpec) -> Self {
        let body = match (spec.json, spec.text) {
            (Some(json), _) => json.to_string().into_bytes(),
            (None, Some(text)) => text.into_bytes(),
            (None, None) => Vec::new(),
        };
        Reply {
            status: spec.status,
            content_type: spec.content_type,
            headers: spec.headers,
            body,
            fault: spec.fault,
        }
    }
}

impl From<Reply> for ReplySpec {
    fn from(reply: Reply) -> Self {
        let (json, text) = if reply.body.is_empty() {
            (None, None)
        } else {
            match serde_json::from_slice::<serde_json::Value>(&reply.body) {
                Ok(value) if value.is_object() || value.is_array() => (Some(value), None),
                _ => (
                    None,
                    Some(String::from_utf8_lossy(&reply.body).into_owned()),
                ),
            }
        };
        ReplySpec {
            status: reply.status,
            content_type: reply.content_type,
            headers: reply.headers,
            json,
            text,
            fault: reply.fault,
        }
    }
}

/// A route: replies taken in turn, the last one repeating.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RouteSpec", into = "RouteSpec")]
pub struct Route {
    replies: VecDeque<Reply>,
}

impl Route {
    /// A route that always gives `reply`.
    pub fn new(reply: Reply) -> Route {
        Route {
            replies: VecDeque::from([reply]),
        }
    }

    /// A route that gives `replies` in turn, then repeats the last (404 if empty).
    pub fn sequence(replies: Vec<Reply>) -> Route {
        Route {
            replies: replies.into(),
        }
    }

    fn next_reply(&mut self) -> Reply {
        if self.replies.len() > 1 {
            self.replies.pop_front().unwrap_or_else(Reply::not_found)
        } else {
            self.replies
                .front()
                .cloned()
                .unwrap_or_else(Reply::not_found)
        }
    }
}

impl From<Reply> for Route {
    fn from(reply: Reply) -> Self {
        Route::new(reply)
    }
}

impl From<Vec<Reply>> for Route {
    fn from(replies: Vec<Reply>) -> Self {
        Route::sequence(replies)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum RouteSpec {
    One(Reply),
    Many(Vec<Reply>),
}

impl From<RouteSpec> for Route {
    fn from(spec: RouteSpec) -> Self {
        match spec {
            RouteSpec::One(reply) => Route::new(reply),
            RouteSpec::Many(replies) => Route::sequence(replies),
        }
    }
}

impl From<Route> for RouteSpec {
    fn from(route: Route) -> Self {
        if route.replies.len() == 1 {
            match route.replies.into_iter().next() {
                Some(reply) => RouteSpec::One(reply),
                None => RouteSpec::Many(Vec::new()),
            }
        } else {
            RouteSpec::Many(route.replies.into())
        }
    }
}

/// The route table: exact paths, path prefixes (longest wins), and a fall-back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Routes {
    /// Routes by exact path (without the query string).
    pub exact: BTreeMap<String, Route>,
    /// Routes by path prefix, e.g. `/arin/ip/`.
    pub prefix: BTreeMap<String, Route>,
    /// The route for paths matching nothing (`None`: 404 with an RDAP error object).
    pub fallback: Option<Route>,
}

impl Routes {
    /// An empty table: every path is 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes exactly `path` to `route` (a [`Reply`], a `Vec<Reply>` or a [`Route`]).
    pub fn route(&mut self, path: &str, route: impl Into<Route>) -> &mut Self {
        self.exact.insert(path.to_owned(), route.into());
        self
    }

    /// Routes every path starting with `prefix` to `route`.
    pub fn route_prefix(&mut self, prefix: &str, route: impl Into<Route>) -> &mut Self {
        self.prefix.insert(prefix.to_owned(), route.into());
        self
    }

    /// Removes the exact route and the prefix route of `path`; true if one existed.
    pub fn remove(&mut self, path: &str) -> bool {
        let exact = self.exact.remove(path).is_some();
        let prefix = self.prefix.remove(path).is_some();
        exact || prefix
    }

    /// Adds every route of `other`, replacing routes of the same path.
    pub fn merge(&mut self, other: Routes) -> &mut Self {
        self.exact.extend(other.exact);
        self.prefix.extend(other.prefix);
        if other.fallback.is_some() {
            self.fallback = other.fallback;
        }
        self
    }

    /// The reply for a request of `path`, advancing the route's sequence.
    fn next_reply(&mut self, path: &str) -> Reply {
        if let Some(route) = self.exact.get_mut(path) {
            return route.next_reply();
        }
        let best = self
            .prefix
            .iter_mut()
            .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len());
        if let Some((_, route)) = best {
            return route.next_reply();
        }
        match &mut self.fallback {
            Some(route) => route.next_reply(),
            None => Reply::not_found(),
        }
    }
}

/// One request, as logged by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Path and query string, as requested.
    pub path_and_query: String,
    /// The `Accept` header, if sent.
    pub accept: Option<String>,
    /// The `User-Agent` header, if sent.
    pub user_agent: Option<String>,
}

/// A snapshot of the server's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RdapCounters {
    /// Every request received.
    pub total: u64,
    /// Requests per path (without query string).
    pub per_path: BTreeMap<String, u64>,
    /// The `Accept` header of the last request (`None` if it had none or no request came).
    pub last_accept: Option<String>,
    /// Every request, in arrival order.
    pub log: Vec<RequestRecord>,
}

impl RdapCounters {
    /// Requests of `path` so far.
    pub fn requests_for(&self, path: &str) -> u64 {
        self.per_path.get(path).copied().unwrap_or(0)
    }
}

struct Shared {
    routes: Mutex<Routes>,
    counters: Mutex<RdapCounters>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An RDAP server on 127.0.0.1 speaking HTTP/1.1. Stops when dropped.
pub struct FakeRdap {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeRdap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRdap")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeRdap {
    /// Starts a server with no routes (every path 404) on a free port of 127.0.0.1.
    pub async fn start() -> io::Result<FakeRdap> {
        Self::start_with(Routes::new()).await
    }

    /// Starts a server with `routes`.
    pub async fn start_with(routes: Routes) -> io::Result<FakeRdap> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            routes: Mutex::new(routes),
            counters: Mutex::new(RdapCounters::default()),
        });
        let task = tokio::spawn(accept_loop(Arc::clone(&shared), listener));
        Ok(FakeRdap { addr, shared, task })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Routes exactly `path` (e.g. `/ripe/ip/192.0.2.1`) to `route`.
    pub fn route(&self, path: &str, route: impl Into<Route>) {
        lock(&self.shared.routes).route(path, route);
    }

    /// Routes every path starting with `prefix` (e.g. `/arin/ip/`) to `route`.
    pub fn route_prefix(&self, prefix: &str, route: impl Into<Route>) {
        lock(&self.shared.routes).route_prefix(prefix, route);
    }

    /// Removes the exact and prefix route of `path`.
    pub fn remove_route(&self, path: &str) -> bool {
        lock(&self.shared.routes).remove(path)
    }

    /// Changes the route table while the server runs.
    pub fn update<R>(&self, change: impl FnOnce(&mut Routes) -> R) -> R {
        change(&mut lock(&self.shared.routes))
    }

    /// Replaces the whole route table.
    pub fn set_routes(&self, routes: Routes) {
        *lock(&self.shared.routes) = routes;
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> RdapCounters {
        lock(&self.shared.counters).clone()
    }

    /// Every request so far.
    pub fn total_requests(&self) -> u64 {
        lock(&self.shared.counters).total
    }

    /// Requests of `path` (without query string) so far.
    pub fn requests_for(&self, path: &str) -> u64 {
        lock(&self.shared.counters).requests_for(path)
    }

    /// The `Accept` header of the last request.
    pub fn last_accept(&self) -> Option<String> {
        lock(&self.shared.counters).last_accept.clone()
    }

    /// Sets every counter (and the request log) back to zero.
    pub fn reset_counters(&self) {
        *lock(&self.shared.counters) = RdapCounters::default();
    }
}

impl Drop for FakeRdap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    // Dropping the JoinSet (when this task is aborted) aborts every connection, hung ones too.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            // E.g. out of file descriptors: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, request).await) }
            });
            // Connection errors (client gone, truncated body) just end the connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<ResponseBody> {
    let path = request.uri().path().to_owned();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let header = |name| {
        request
            .headers()
            .get(name)
            .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let accept = header(ACCEPT);
    let user_agent = header(hyper::header::USER_AGENT);
    {
        let mut counters = lock(&shared.counters);
        counters.total += 1;
        *counters.per_path.entry(path.clone()).or_insert(0) += 1;
        counters.last_accept.clone_from(&accept);
        counters.log.push(RequestRecord {
            method: request.method().as_str().to_owned(),
            path: path.clone(),
            path_and_query: path_and_query.clone(),
            accept,
            user_agent,
        });
    }
    let reply = lock(&shared.routes).next_reply(&path);
    respond(reply, &path_and_query).await
}

async fn respond(reply: Reply, path_and_query: &str) -> Response<ResponseBody> {
    let Some(fault) = reply.fault.clone() else {
        return plain(&reply, None);
    };
    match fault {
        RdapFault::Status(status) => {
            let mut reply = reply.with_status(status);
            if reply.body.is_empty() {
                reply.body = rdap_error(status, "Error");
            }
            plain(&reply, None)
        }
        RdapFault::RateLimited { retry_after_secs } => {
            let reply = Reply::json(rdap_error(429, "Too Many Requests")).with_status(429);
            plain(&reply, Some((RETRY_AFTER, retry_after_secs.to_string())))
        }
        RdapFault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            plain(&reply, None)
        }
        RdapFault::Hang => std::future::pending().await,
        RdapFault::Truncated => truncated(&reply),
        RdapFault::Oversized(size) => oversized(size, false),
        RdapFault::OversizedDeclared(size) => oversized(size, true),
        RdapFault::Redirect { to, status } => {
            let reply = Reply::json(Vec::new()).with_status(status);
            plain(&reply, Some((LOCATION, to)))
        }
        RdapFault::RedirectLoop => {
            let reply = Reply::json(Vec::new()).with_status(302);
            plain(&reply, Some((LOCATION, path_and_query.to_owned())))
        }
        RdapFault::NotJson => {
            let reply = Reply::json(NOT_JSON_BODY).with_content_type("text/html; charset=utf-8");
            plain(&reply, None)
        }
        RdapFault::RateLimitNotice => plain(&Reply::json(rate_limit_notice_body()), None),
    }
}

/// An HTML page, as a proxy or a maintenance page would send.
const NOT_JSON_BODY: &str = "<html>\r\n<head><title>Service Unavailable</title></head>\r\n\
<body>\r\n<center><h1>Service Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n\
</body>\r\n</html>\r\n";

/// An RDAP error object (RFC 9083 §6).
pub fn rdap_error(code: u16, title: &str) -> Vec<u8> {
    serde_json::json!({
        "rdapConformance": ["rdap_level_0"],
        "errorCode": code,
        "title": title,
        "description": [format!("{code} {title} (testworld)")],
    })
    .to_string()
    .into_bytes()
}

/// The body of a LACNIC-style rate-limit answer: HTTP 200, RDAP JSON, one "Rate Limit Notice".
pub fn rate_limit_notice_body() -> Vec<u8> {
    serde_json::json!({
        "rdapConformance": ["rdap_level_0"],
        "notices": [{
            "title": "Rate Limit Notice",
            "description": [
                "The query rate limit has been exceeded.",
                "Please wait before sending more queries."
            ]
        }]
    })
    .to_string()
    .into_bytes()
}

fn full(body: Vec<u8>) -> ResponseBody {
    Full::new(Bytes::from(body))
        .map_err(|never| -> BoxError { match never {} })
        .boxed()
}

/// A response with `reply`'s status, content type, headers and body (plus `extra` header).
fn plain(reply: &Reply, extra: Option<(HeaderName, String)>) -> Response<ResponseBody> {
    let mut response = Response::new(full(reply.body.clone()));
    apply_head(&mut response, reply, extra);
    response
}

fn apply_head(
    response: &mut Response<ResponseBody>,
    reply: &Reply,
    extra: Option<(HeaderName, String)>,
) {
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&reply.content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    if let Some((name, value)) = extra {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// Headers announce the full body; half of it is sent; then the connection is cut.
fn truncated(reply: &Reply) -> Response<ResponseBody> {
    let body = if reply.body.is_empty() {
        rdap_error(200, "Truncated")
    } else {
        reply.body.clone()
    };
    let declared = body.len();
    let half = Bytes::from(body[..declared / 2].to_vec());
    // Half the body, then a pause (so hyper flushes what it has), then an error, on which hyper
    // closes the connection.
    let frames = stream::unfold(Some(half), |state| async move {
        match state {
            Some(half) => Some((Ok::<_, BoxError>(Frame::data(half)), None)),
            None => {
                tokio::time::sleep(TRUNCATE_PAUSE).await;
                let cut: BoxError = Box::new(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "testworld: truncated on purpose",
                ));
                Some((Err(cut), None))
            }
        }
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    apply_head(&mut response, reply, None);
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(declared));
    response
}

/// A 200 RDAP JSON object of exactly `size` bytes (at least its fixed frame), streamed.
fn oversized(size: usize, declare_length: bool) -> Response<ResponseBody> {
    let head = br#"{"rdapConformance":["rdap_level_0"],"objectClassName":"ip network","handle":"OVERSIZED","name":"OVERSIZED","remarks":[{"description":[""#;
    let tail = br#""]}]}"#;
    let padding = size.saturating_sub(head.len() + tail.len());
    let total = head.len() + padding + tail.len();

    // Chunks: head, padding in OVERSIZED_CHUNK pieces, tail.
    let mut plan: Vec<Bytes> = vec![Bytes::from_static(head)];
    let filler = Bytes::from(vec![b'x'; OVERSIZED_CHUNK.min(padding.max(1))]);
    let mut left = padding;
    while left > 0 {
        let n = left.min(OVERSIZED_CHUNK);
        plan.push(filler.slice(..n));
        left -= n;
    }
    plan.push(Bytes::from_static(tail));
    let frames = stream::iter(
        plan.into_iter()
            .map(|chunk| Ok::<_, BoxError>(Frame::data(chunk))),
    );
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    apply_head(&mut response, &Reply::json(Vec::new()), None);
    if declare_length {
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(total));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_exact_then_longest_prefix_then_404() {
        let mut routes = Routes::new();
        routes
            .route("/ripe/ip/1.2.3.4", Reply::json("exact"))
            .route_prefix("/ripe/", Reply::json("ripe"))
            .route_prefix("/ripe/ip/", Reply::json("ripe-ip"));
        assert_eq!(routes.next_reply("/ripe/ip/1.2.3.4").body, b"exact");
        assert_eq!(routes.next_reply("/ripe/ip/5.6.7.8").body, b"ripe-ip");
        assert_eq!(routes.next_reply("/ripe/autnum/1").body, b"ripe");
        assert_eq!(routes.next_reply("/arin/ip/1.2.3.4").status, 404);
    }

    #[test]
    fn sequences_repeat_their_last_reply() {
        let mut routes = Routes::new();
        routes.route(
            "/x",
            vec![
                Reply::fault(RdapFault::RateLimited {
                    retry_after_secs: 1,
                }),
                Reply::json("ok"),
            ],
        );
        assert!(routes.next_reply("/x").fault.is_some());
        assert_eq!(routes.next_reply("/x").body, b"ok");
        assert_eq!(routes.next_reply("/x").body, b"ok");
    }

    #[test]
    fn json_form_round_trips() {
        let text = r#"{
            "exact": {"/ripe/ip/192.0.2.1": {"json": {"name": "X"}}},
            "prefix": {"/arin/ip/": [{"fault": {"rate_limited": {"retry_after_secs": 2}}},
                                     {"status": 500, "text": "boom", "content_type": "text/plain"},
                                     {"fault": {"delay": 1500}},
                                     {"fault": "hang"}]}
        }"#;
        let routes: Routes = serde_json::from_str(text).unwrap();
        let exact = &routes.exact["/ripe/ip/192.0.2.1"].replies[0];
        assert_eq!(exact.status, 200);
        assert_eq!(exact.content_type, RDAP_CONTENT_TYPE);
        assert_eq!(exact.body, br#"{"name":"X"}"#);
        let seq = &routes.prefix["/arin/ip/"].replies;
        assert_eq!(
            seq[0].fault,
            Some(RdapFault::RateLimited {
                retry_after_secs: 2
            })
        );
        assert_eq!(seq[1].body, b"boom");
        assert_eq!(seq[1].status, 500);
        assert_eq!(
            seq[2].fault,
            Some(RdapFault::Delay(Duration::from_millis(1500)))
        );
        assert_eq!(seq[3].fault, Some(RdapFault::Hang));
        let again: Routes = serde_json::from_str(&serde_json::to_string(&routes).unwrap()).unwrap();
        assert_eq!(again, routes);
    }
}
