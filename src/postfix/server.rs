//! The policy listener and its loop: [`PolicyListener`] (TCP or unix socket) and
//! [`serve`], one task per connection, requests answered one after another on each
//! connection, a cap on open connections ([`ConnTable`]: the longest-idle one makes room),
//! graceful shutdown.

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::task::JoinSet;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::action::PolicyAction;
use super::codec::{Frame, PolicyCodec};
use super::handler::{PolicyHandler, PolicyLimits};
use super::listen::ListenAddr;
use super::request::PolicyRequest;
use crate::connections::{ConnSlot, ConnTable};
use crate::metrics::ConnCounters;

/// How long `bind` waits when probing whether an existing socket is still served.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why the listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: ListenAddr, source: io::Error },
    #[error("{0}: exists and is not a socket, refusing to replace it")]
    NotASocket(PathBuf),
    #[error("{0}: another process is listening on this socket")]
    InUse(PathBuf),
    #[error("{path}: cannot inspect or remove the old socket: {source}")]
    Stale { path: PathBuf, source: io::Error },
    #[error("socket mode {0:#o} is not a permission mode (0 to 0o777)")]
    BadMode(u32),
    #[error("{path}: cannot set mode {mode:#o}: {source}")]
    SetMode {
        path: PathBuf,
        mode: u32,
        source: io::Error,
    },
}

/// A bound policy listener: TCP or a unix socket.
#[derive(Debug)]
pub struct PolicyListener {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Tcp(TcpListener),
    Unix {
        listener: UnixListener,
        path: PathBuf,
        /// The socket file's (device, inode), so shutdown removes only our own file.
        identity: Option<(u64, u64)>,
    },
}

impl PolicyListener {
    /// Binds `addr`. For a unix socket, a stale socket file is removed first (but not a
    /// live one, nor anything that is not a socket), and the new socket gets `mode`
    /// (e.g. `0o660`; `None` leaves the umask's choice). `mode` is ignored for TCP.
    ///
    /// The mode is set right after `bind`, so for a moment the socket has the umask's
    /// mode: put it in a directory only the intended group can enter (e.g. systemd's
    /// `RuntimeDirectory=` with `RuntimeDirectoryMode=0750`). Dropping the listener
    /// removes the socket file unless it was replaced meanwhile.
    pub async fn bind(addr: &ListenAddr, mode: Option<u32>) -> Result<Self, BindError> {
        let inner = match addr {
            ListenAddr::Tcp(socket_addr) => Inner::Tcp(
                TcpListener::bind(socket_addr)
                    .await
                    .map_err(|source| listen_error(addr, source))?,
            ),
            ListenAddr::Unix(path) => bind_unix(addr, path, mode).await?,
        };
        Ok(PolicyListener { inner })
    }

    /// The address actually bound (the real port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        match &self.inner {
            Inner::Tcp(listener) => listener.local_addr().map(ListenAddr::Tcp),
            Inner::Unix { path, .. } => Ok(ListenAddr::Unix(path.clone())),
        }
    }
}

impl Drop for PolicyListener {
    /// Removes our unix socket file, if it is still ours (not replaced since `bind`).
    fn drop(&mut self) {
        if let Inner::Unix { path, identity, .. } = &self.inner {
            if identity.is_some() && socket_identity(path) == *identity {
                if let Err(err) = std::fs::remove_file(path) {
                    warn!(path = %path.display(), error = %err, "cannot remove the policy socket");
                }
            }
        }
    }
}

fn listen_error(addr: &ListenAddr, source: io::Error) -> BindError {
    BindError::Listen {
        addr: addr.clone(),
        source,
    }
}

/// Removes a stale socket, binds, sets the mode.
async fn bind_unix(addr: &ListenAddr, path: &Path, mode: Option<u32>) -> Result<Inner, BindError> {
    if let Some(mode) = mode.filter(|mode| *mode > 0o777) {
        return Err(BindError::BadMode(mode));
    }
    remove_stale_socket(path).await?;
    let listener = UnixListener::bind(path).map_err(|source| listen_error(addr, source))?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(
            |source| BindError::SetMode {
                path: path.to_owned(),
                mode,
                source,
            },
        )?;
    }
    Ok(Inner::Unix {
        listener,
        path: path.to_owned(),
        identity: socket_identity(path),
    })
}

/// Removes `path` if it is a socket nobody listens on; fails if it is anything else.
pub(crate) async fn remove_stale_socket(path: &Path) -> Result<(), BindError> {
    let stale = |source| BindError::Stale {
        path: path.to_owned(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(stale(err)),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(BindError::NotASocket(path.to_owned()))
        }
        Ok(_) => {}
    }
    if socket_is_live(path).await {
        return Err(BindError::InUse(path.to_owned()));
    }
    std::fs::remove_file(path).map_err(stale)
}

/// Whether something accepts connections on the socket (a hung peer counts as live).
async fn socket_is_live(path: &Path) -> bool {
    match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(path)).await {
        Ok(Ok(_)) | Err(_) => true,
        Ok(Err(_)) => false,
    }
}

fn socket_identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|meta| meta.file_type().is_socket())
        .map(|meta| (meta.dev(), meta.ino()))
}

/// Serves policy requests on `listener` until `shutdown` resolves.
///
/// Each connection is its own task, at most `limits.max_connections` at once; at the cap
/// the connection idle longest is closed to admit the new one (Postfix reconnects), and
/// a connection answering a request is never closed for that. Bad input is logged and
/// answered with `DUNNO` or ends that one connection; it never stops the loop. When
/// `shutdown` resolves: no more accepts, connections stop after the request they are
/// answering, and the call returns once they are done or `limits.shutdown_grace` has
/// passed (stragglers are aborted). A unix socket file is removed on return.
pub async fn serve<H, F>(
    listener: PolicyListener,
    handler: Arc<H>,
    limits: PolicyLimits,
    shutdown: F,
) where
    H: PolicyHandler,
    F: Future<Output = ()>,
{
    let conns = ConnTable::new("postfix", limits.max_connections, ConnCounters::default());
    serve_with(listener, handler, limits, conns, shutdown).await
}

/// [`serve`] with the connections kept in `conns` (its cap, not
/// `limits.max_connections`, applies), so the caller sees their metrics.
pub async fn serve_with<H, F>(
    listener: PolicyListener,
    handler: Arc<H>,
    limits: PolicyLimits,
    conns: ConnTable,
    shutdown: F,
) where
    H: PolicyHandler,
    F: Future<Output = ()>,
{
    let limits = Arc::new(limits);
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    'accept: loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => log_join(joined),
            accepted = accept_one(&listener) => match accepted {
                Ok(conn) => {
                    // At the cap this closes the longest-idle connection first (or waits
                    // while every connection is answering a request).
                    let slot = tokio::select! {
                        biased;
                        () = &mut shutdown => break 'accept,
                        slot = conns.admit() => slot,
                    };
                    let handler = Arc::clone(&handler);
                    let limits = Arc::clone(&limits);
                    let stop = stop.clone();
                    tasks.spawn(async move {
                        conn.run(handler, limits, stop, &slot).await;
                        drop(slot);
                    });
                }
                Err(err) => conns.accept_failed(&err).await,
            },
        }
    }
    drop(listener);
    drain(tasks, &stop, limits.shutdown_grace).await;
}

/// Stops the connections and waits for them, at most `grace`.
async fn drain(mut tasks: JoinSet<()>, stop: &CancellationToken, grace: Duration) {
    stop.cancel();
    let open = tasks.len();
    let waited = tokio::time::timeout(grace, async {
        while let Some(joined) = tasks.join_next().await {
            log_join(joined);
        }
    })
    .await;
    if waited.is_err() {
        warn!(
            left = tasks.len(),
            "policy server: connections still busy after the shutdown grace, aborting them"
        );
        tasks.shutdown().await;
    }
    info!(connections = open, "policy server stopped");
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(err) = joined {
        if err.is_panic() {
            warn!(error = %err, "policy connection task panicked");
        }
    }
}

/// An accepted connection.
enum Conn {
    Tcp(tokio::net::TcpStream, String),
    Unix(UnixStream),
}

async fn accept_one(listener: &PolicyListener) -> io::Result<Conn> {
    match &listener.inner {
        Inner::Tcp(l) => {
            let (stream, peer) = l.accept().await?;
            Ok(Conn::Tcp(stream, peer.to_string()))
        }
        Inner::Unix { listener: l, .. } => Ok(Conn::Unix(l.accept().await?.0)),
    }
}

impl Conn {
    async fn run<H: PolicyHandler>(
        self,
        handler: Arc<H>,
        limits: Arc<PolicyLimits>,
        stop: CancellationToken,
        slot: &ConnSlot,
    ) {
        match self {
            Conn::Tcp(stream, peer) => {
                serve_connection(stream, &peer, &*handler, &limits, &stop, slot).await
            }
            Conn::Unix(stream) => {
                serve_connection(stream, "unix", &*handler, &limits, &stop, slot).await
            }
        }
    }
}

/// Answers the requests of one connection, one after another, until the peer closes,
/// goes idle, sends what cannot be framed, is closed to make room, or the server stops.
async fn serve_connection<S, H>(
    stream: S,
    peer: &str,
    handler: &H,
    limits: &PolicyLimits,
    stop: &CancellationToken,
    slot: &ConnSlot,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    H: PolicyHandler,
{
    let mut framed = Framed::new(stream, PolicyCodec::new(limits));
    debug!(peer, "policy connection opened");
    loop {
        let next = tokio::select! {
            biased;
            next = tokio::time::timeout(limits.idle_timeout, framed.next()) => next,
            () = stop.cancelled() => break,
            () = slot.evicted() => {
                debug!(peer, "policy connection closed to make room for a new one");
                break;
            }
        };
        let frame = match next {
            Err(_) => {
                debug!(peer, "policy connection idle too long, closing");
                slot.counters().idle.inc();
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                warn!(peer, error = %err, "policy connection: bad input, closing");
                break;
            }
            Ok(Some(Ok(frame))) => frame,
        };
        slot.handling();
        let action = answer(frame, peer, handler, limits).await;
        let sent = framed.send(action).await;
        slot.waiting();
        if let Err(err) = sent {
            debug!(peer, error = %err, "policy connection: cannot write the reply");
            break;
        }
    }
    debug!(peer, "policy connection closed");
}

/// The action for one frame: `DUNNO` for what is not a usable request, otherwise the
/// handler's answer (or `limits.timeout_action` when it takes too long).
async fn answer<H: PolicyHandler>(
    frame: Frame,
    peer: &str,
    handler: &H,
    limits: &PolicyLimits,
) -> PolicyAction {
    let attributes = match frame {
        Frame::Attributes(attributes) => attributes,
        Frame::Malformed(problem) => {
            warn!(peer, %problem, "malformed policy request, answering DUNNO");
            return PolicyAction::Dunno;
        }
    };
    let request = match PolicyRequest::from_attributes(attributes) {
        Ok(request) => request,
        Err(err) => {
            warn!(peer, error = %err, "unusable policy request, answering DUNNO");
            return PolicyAction::Dunno;
        }
    };
    match tokio::time::timeout(limits.request_timeout, handler.check(request)).await {
        Ok(action) => action,
        Err(_) => {
            warn!(peer, timeout = ?limits.request_timeout, action = %limits.timeout_action,
                "policy check took too long");
            limits.timeout_action.clone()
        }
    }
}
