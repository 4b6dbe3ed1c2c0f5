//! `badclients serve`: the daemon next to Dovecot and Postfix.
//!
//! One process: the HTTP listener (Dovecot's auth policy, the Lua shim's endpoint,
//! `/metrics`), optionally the Postfix policy service, the reload loop (SIGHUP and file
//! changes) and a graceful stop on SIGTERM/SIGINT (in-flight requests are answered).
//! Readiness, reloads and the stop are told to systemd (`sd_notify`).

mod cache_upkeep;
pub mod instance_lock;
pub mod logging;
mod postfix_adapter;
mod restart;
pub mod summary;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::app::SetupError;
use crate::config::ConfigError;
use crate::connections::ConnTable;
use crate::decider::{slow_matching, state, Decider};
use crate::metrics::Metrics;
use crate::postfix::listen::{ListenAddr, ListenAddrError};
use crate::postfix::{PolicyLimits, PolicyListener};
use crate::web::serve_http::{self, HttpListener};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("[{section}] listen = {value:?}: {source}")]
    Address {
        section: &'static str,
        value: String,
        source: ListenAddrError,
    },
    #[error("[{section}] socket_mode = {value:?}: not an octal mode like \"0660\"")]
    SocketMode {
        section: &'static str,
        value: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Bind(#[from] crate::postfix::BindError),
    #[error("cannot install the signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("cannot start the pattern matching threads: {0}")]
    Threads(std::io::Error),
    #[error(transparent)]
    History(#[from] crate::history::store::HistoryError),
    #[error(transparent)]
    Instance(#[from] instance_lock::LockError),
}

fn parse_mode(section: &'static str, mode: &Option<String>) -> Result<Option<u32>, ServeError> {
    mode.as_ref()
        .map(|m| {
            u32::from_str_radix(m.trim_start_matches("0o"), 8)
                .ok()
                .filter(|v| *v <= 0o777)
                .ok_or_else(|| ServeError::SocketMode {
                    section,
                    value: m.clone(),
                })
        })
        .transpose()
}

fn parse_listen(section: &'static str, value: &str) -> Result<ListenAddr, ServeError> {
    value.parse().map_err(|source| ServeError::Address {
        section,
        value: value.to_string(),
        source,
    })
}

async fn bind_http(
    addr: &ListenAddr,
    mode: Option<u32>,
) -> Result<(HttpListener, String), ServeError> {
    let listen_err = |source| ServeError::Listen {
        addr: addr.to_string(),
        source,
    };
    match addr {
        ListenAddr::Tcp(a) => {
            let l = TcpListener::bind(a).await.map_err(listen_err)?;
            let bound = l.local_addr().map_err(listen_err)?.to_string();
            Ok((HttpListener::Tcp(l), bound))
        }
        ListenAddr::Unix(path) => {
            crate::postfix::server::remove_stale_socket(path).await?;
            let l = UnixListener::bind(path).map_err(listen_err)?;
            if let Some(mode) = mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(listen_err)?;
            }
            Ok((HttpListener::Unix(l), addr.to_string()))
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config_path: Option<PathBuf>) -> Result<(), ServeError> {
    let (state, report) = state::initial(config_path.as_deref())?;
    if crate::web::access::open_to_the_network_without_a_key(&state.load().config.http) {
        tracing::warn!(
            listen = %crate::audit::escape(&state.load().config.http.listen),
            "[http] listens beyond loopback without api_key: /metrics and the policy endpoints \
             answer anyone who can connect, and /ui, the history and the cache API refuse \
             everyone but loopback; set api_key"
        );
    }
    logging::log_diagnostics(&report.diagnostics);
    let state = Arc::new(state);
    let active = state.load();
    summary::log_startup(&active.config, state.config_path(), &active.policy.lists);
    let _instance = instance_lock::InstanceLock::take(&active.config)?;
    let (lookup, warnings) = crate::app::lookup(&active.config).await?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let metrics = Metrics::new();
    let metrics = Arc::new(
        if active.config.history.enabled
            && active.config.history.backend == crate::config::HistoryBackend::Postgres
        {
            metrics.with_history_shipping()
        } else {
            metrics
        },
    );
    metrics.observe_reload(&active.policy.lists, &report, report.errors() == 0);
    metrics.observe_lists_in_force(&active.policy.lists, active.list_dir_fault);
    if let Some(fault) = active.list_dir_fault {
        tracing::error!(
            fault = fault.describe(),
            "no lists are in force: /healthz says degraded"
        );
    }
    let slow = slow_matching::SlowMatching::start(slow_matching::SlowMatching::default_threads())
        .map_err(ServeError::Threads)?;
    let mut decider = Decider::new(Arc::clone(&state), lookup, Arc::clone(&metrics), slow);
    let history_task = match open_history(&active.config) {
        Ok(Some(writer)) => {
            decider = decider.with_history(writer.clone());
            Some(tokio::spawn(writer.run()))
        }
        Ok(None) => None,
        Err(err) => {
            // Logins are still answered (and in the audit log); /healthz and
            // badclients_store_up say the history is missing.
            tracing::error!(error = %err, "decision history unavailable; serving without it (degraded)");
            decider = decider.with_history_unavailable();
            None
        }
    };
    warn_about_world_access(&active.config);
    let stop = CancellationToken::new();
    let mut terminate = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;

    let http = &active.config.http;
    let postfix_config = &active.config.postfix;
    let [http_cap, postfix_cap] = if postfix_config.listen.is_some() {
        crate::connections::fit_caps_to_fd_limit([
            http.max_connections,
            postfix_config.max_connections,
        ])
    } else {
        let [http_cap] = crate::connections::fit_caps_to_fd_limit([http.max_connections]);
        [http_cap, postfix_config.max_connections]
    };
    let http_addr = parse_listen("http", &http.listen)?;
    let (http_listener, http_bound) =
        bind_http(&http_addr, parse_mode("http", &http.socket_mode)?).await?;
    let router = crate::web::router(
        crate::web::AppState::new(decider.clone()),
        http.max_body_bytes,
    );
    let http_task = tokio::spawn(serve_http::serve(
        http_listener,
        router,
        serve_http::Deadlines {
            head: Duration::from_millis(http.header_timeout_ms),
            body: Duration::from_millis(http.body_timeout_ms),
        },
        ConnTable::new("http", http_cap, metrics.connection_counters("http")),
        stop.clone(),
    ));

    let mut postfix_bound = String::from("off");
    let postfix_task = match &active.config.postfix.listen {
        Some(listen) => {
            let addr = parse_listen("postfix", listen)?;
            let mode = parse_mode("postfix", &active.config.postfix.socket_mode)?;
            let listener = PolicyListener::bind(&addr, mode).await?;
            postfix_bound = listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| addr.to_string());
            let handler = Arc::new(postfix_adapter::PostfixAdapter::new(decider.clone()));
            let stopped = stop.clone();
            Some(tokio::spawn(crate::postfix::serve_with(
                listener,
                handler,
                PolicyLimits {
                    // Postfix keeps idle policy connections for smtpd_policy_service_max_idle
                    // (300 s by default): the default (330 s) stays open a little longer so
                    // it never meets a closed one.
                    idle_timeout: Duration::from_millis(postfix_config.idle_timeout_ms),
                    max_connections: postfix_cap,
                    ..PolicyLimits::default()
                },
                ConnTable::new(
                    "postfix",
                    postfix_cap,
                    metrics.connection_counters("postfix"),
                ),
                async move { stopped.cancelled().await },
            )))
        }
        None => None,
    };
    drop(active);
    let reload_task = tokio::spawn(
        watch::ReloadLoop::start(Arc::clone(&state), Arc::clone(&metrics)).run(stop.clone()),
    );
    let upkeep_task = tokio::spawn(cache_upkeep::run(
        decider.lookup().clone(),
        Arc::clone(&metrics),
        Duration::from_secs(state.load().config.cache.prune_interval_secs),
        stop.clone(),
    ));
    let local_task = tokio::spawn(watch::run_local(
        decider.lookup().clone(),
        Arc::clone(&state),
        stop.clone(),
    ));

    eprintln!(
        "{} badclients: ready http={http_bound} postfix={postfix_bound}",
        logging::Rfc3339(crate::history::now_us())
    );
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);

    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    stop.cancel();
    let _ = http_task.await;
    if let Some(t) = postfix_task {
        let _ = t.await;
    }
    let _ = reload_task.await;
    let _ = local_task.await;
    let _ = upkeep_task.await;
    decider_flush(&decider).await;
    // Closing waits for a batch the background task is committing, then commits the rest
    // and removes the journal; only then is the task stopped (stopping it first would drop
    // a commit under way and leave its segment behind).
    if let Some(history) = decider.history() {
        if let Err(err) = history.close().await {
            tracing::error!(error = %err, "history: the last batch stays in the journal for the next start");
        }
    }
    if let Some(task) = history_task {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Opens the decision history (replaying the journal of an unclean stop), when enabled.
/// Logs a warning for each state file or directory (history, its journal, cache) that
/// every user may read: one made before [`crate::private_files::restrict_umask`] was set.
fn warn_about_world_access(config: &crate::config::Config) {
    let mut paths = Vec::new();
    if config.history.enabled {
        let history = config.history_path();
        paths.extend(history.parent().map(Path::to_path_buf));
        paths.push(history);
    }
    if !config.cache.memory_only {
        let cache = config.cache.resolved_path();
        paths.extend(cache.parent().map(Path::to_path_buf));
        paths.push(cache);
    }
    paths.sort();
    paths.dedup();
    for warning in paths
        .iter()
        .filter_map(|p| crate::private_files::world_access(p))
    {
        tracing::warn!("{}", crate::audit::escape(&warning));
    }
}

fn open_history(
    config: &crate::config::Config,
) -> Result<Option<crate::history::writer::HistoryWriter>, ServeError> {
    let Some((writer, warnings)) = crate::app::history_writer(config)? else {
        return Ok(None);
    };
    for w in warnings {
        tracing::warn!("{w}");
    }
    tracing::info!(path = %config.history_path().display(), "decision history open");
    Ok(Some(writer))
}

/// Lets the cache writers finish before the process exits.
async fn decider_flush(decider: &Decider) {
    decider.flush(Duration::from_secs(5)).await;
}
