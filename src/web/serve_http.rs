//! Serving the HTTP router on a TCP or unix socket: HTTP/1.1 with keep-alive (Dovecot keeps
//! its connection), deadlines for the request head (a client that connects and sends
//! nothing, or idles, is dropped) and for the body (408, connection closed), a cap on open
//! connections ([`ConnTable`]: the longest-waiting one makes room, never one being
//! answered), and a graceful stop that answers in-flight requests.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::error::WebError;
use super::peer::Peer;
use crate::connections::{ConnSlot, ConnTable};

/// A bound HTTP listener.
#[derive(Debug)]
pub(crate) enum HttpListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// The deadlines of one HTTP request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// The whole request head (and, on a kept-alive connection, the wait for the next one).
    pub head: Duration,
    /// The whole body, from the moment the head has arrived.
    pub body: Duration,
}

/// How long in-flight requests may take to finish after a stop was asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` until `stop` is cancelled, then drains the open connections. At most
/// `conns.cap()` connections are open; at the cap the longest-waiting one makes room.
pub(crate) async fn serve(
    listener: HttpListener,
    router: Router,
    deadlines: Deadlines,
    conns: ConnTable,
    stop: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let serving = Serving {
        router: &router,
        deadlines,
        conns: &conns,
        stop: &stop,
        graceful: &graceful,
    };
    match listener {
        HttpListener::Tcp(l) => {
            serving
                .accept_loop(|| async { l.accept().await.map(|(s, a)| (s, Peer::Tcp(a))) })
                .await
        }
        HttpListener::Unix(l) => {
            serving
                .accept_loop(|| async { l.accept().await.map(|(s, _)| (s, Peer::Unix)) })
                .await
        }
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections were still busy after {DRAIN:?}; closing them");
    }
}

struct Serving<'a> {
    router: &'a Router,
    deadlines: Deadlines,
    conns: &'a ConnTable,
    stop: &'a CancellationToken,
    graceful: &'a GracefulShutdown,
}

impl Serving<'_> {
    async fn accept_loop<S, F, Fut>(&self, accept: F)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = std::io::Result<(S, Peer)>>,
    {
        loop {
            let (stream, peer) = tokio::select! {
                _ = self.stop.cancelled() => return,
                accepted = accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: pause, free one, serve on.
                        self.conns.accept_failed(&e).await;
                        continue;
                    }
                },
            };
            // At the cap this closes the longest-waiting connection first (or waits
            // while every connection is answering a request).
            let slot = tokio::select! {
                _ = self.stop.cancelled() => return,
                slot = self.conns.admit() => Arc::new(slot),
            };
            self.spawn_connection(stream, peer, slot);
        }
    }

    fn spawn_connection<S>(&self, stream: S, peer: Peer, slot: Arc<ConnSlot>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let evicted = slot.evicted();
        let counters = slot.counters().clone();
        let router = self.router.clone();
        let body_deadline = self.deadlines.body;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            answer(
                router.clone(),
                request,
                peer,
                Arc::clone(&slot),
                body_deadline,
            )
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.deadlines.head)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        let conn = self.graceful.watch(conn);
        tokio::spawn(async move {
            tokio::select! {
                ended = conn => if let Err(e) = ended {
                    if e.is_timeout() {
                        counters.idle.inc();
                    }
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                },
                () = evicted => tracing::debug!("HTTP connection closed to make room for a new one"),
            }
        });
    }
}

/// Answers one request: the body must arrive within `body_deadline` (else 408 and the
/// connection closes); the connection counts as answering (not to be closed to make room)
/// from the end of the body to the end of the answer.
async fn answer(
    router: Router,
    request: Request<Incoming>,
    peer: Peer,
    slot: Arc<ConnSlot>,
    body_deadline: Duration,
) -> Result<Response, Infallible> {
    let (mut parts, incoming) = request.into_parts();
    parts.extensions.insert(peer);
    let timed_out = Arc::new(AtomicBool::new(false));
    let body = if incoming.is_end_stream() {
        slot.handling();
        Body::new(incoming)
    } else {
        Body::new(DeadlineBody {
            inner: incoming,
            deadline: Box::pin(tokio::time::sleep(body_deadline)),
            slot: Arc::clone(&slot),
            timed_out: Arc::clone(&timed_out),
        })
    };
    let answered = router.oneshot(Request::from_parts(parts, body)).await;
    slot.waiting();
    let response = match answered {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if timed_out.load(Ordering::Relaxed) {
        slot.counters().body_timeout.inc();
        return Ok(body_timeout_response());
    }
    Ok(response)
}

fn body_timeout_response() -> Response {
    let mut response = WebError::BodyTimeout.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that fails once its deadline has passed, and marks the connection as
/// answering once it has wholly arrived.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    slot: Arc<ConnSlot>,
    timed_out: Arc<AtomicBool>,
}

/// The body did not arrive before its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimeout;

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.slot.handling();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.slot.handling();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.timed_out.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(BodyTimeout.into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
