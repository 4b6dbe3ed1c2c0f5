//! Serving the HTTP router on a TCP or unix socket: HTTP/1.1 with keep-alive (Dovecot keeps
//! its connection), a deadline for the request head (a client that connects and sends
//! nothing is dropped), and a graceful stop that answers in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Who is at the other end of a connection; every request carries it in its extensions
/// (the dashboard lets loopback and unix-socket peers in without the API key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix,
}

impl Peer {
    /// A unix-socket peer or a TCP peer on a loopback address (`127.0.0.0/8`, `::1`, and
    /// `::ffff:127.0.0.0/104`).
    pub fn is_local(&self) -> bool {
        match self {
            Peer::Unix => true,
            Peer::Tcp(addr) => match addr.ip() {
                std::net::IpAddr::V4(ip) => ip.is_loopback(),
                std::net::IpAddr::V6(ip) => {
                    ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
                }
            },
        }
    }
}

/// A bound HTTP listener.
#[derive(Debug)]
pub enum HttpListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// How long in-flight requests may take to finish after a stop was asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` until `stop` is cancelled, then drains the open connections.
pub async fn serve(
    listener: HttpListener,
    router: Router,
    header_timeout: Duration,
    stop: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    match listener {
        HttpListener::Tcp(l) => {
            accept_loop(
                || async { l.accept().await.map(|(s, a)| (s, Peer::Tcp(a))) },
                &router,
                header_timeout,
                &stop,
                &graceful,
            )
            .await
        }
        HttpListener::Unix(l) => {
            accept_loop(
                || async { l.accept().await.map(|(s, _)| (s, Peer::Unix)) },
                &router,
                header_timeout,
                &stop,
                &graceful,
            )
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

async fn accept_loop<S, F, Fut>(
    accept: F,
    router: &Router,
    header_timeout: Duration,
    stop: &CancellationToken,
    graceful: &GracefulShutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = std::io::Result<(S, Peer)>>,
{
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!(error = %e, "cannot accept an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(peer);
                request
            },
        ));
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
}
