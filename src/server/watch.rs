//! Reloads: on `SIGHUP` and when a list file or the configuration file changes on disk
//! (debounced, so an editor's several writes make one reload).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::state::SharedState;
use crate::lists::Severity;
use crate::metrics::Metrics;

/// Quiet time after the last file event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// Reloads now and logs what happened.
pub fn reload_now(state: &SharedState, metrics: &Metrics, why: &str) {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
    match state.reload() {
        Ok(outcome) => {
            for d in &outcome.diagnostics {
                match d.severity {
                    Severity::Error => tracing::error!("{d}"),
                    Severity::Warning => tracing::warn!("{d}"),
                }
            }
            for kind in &outcome.kept {
                tracing::error!(list = %kind, "the list has errors: its previous version stays in use");
            }
            let active = state.load();
            metrics.observe_reload(&active.policy.lists, &active.report, outcome.clean);
            tracing::info!(
                why,
                entries = active.policy.lists.total_entries(),
                errors = active.report.errors(),
                "reloaded"
            );
        }
        Err(e) => {
            let active = state.load();
            metrics.observe_reload(&active.policy.lists, &active.report, false);
            tracing::error!(error = %e, why, "reload failed: the previous configuration and lists stay in use");
        }
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
}

/// What to watch for a state: the list directory (recursively) and the configuration
/// file's directory.
fn watched(state: &SharedState) -> (PathBuf, Option<PathBuf>) {
    let active = state.load();
    let lists = active.policy.lists.dir().to_path_buf();
    let config = state.config_path().map(Path::to_path_buf);
    (lists, config)
}

fn start_watcher(
    state: &SharedState,
    tx: mpsc::Sender<()>,
) -> Option<(notify::RecommendedWatcher, PathBuf)> {
    let (lists, config) = watched(state);
    let config_name = config
        .as_ref()
        .and_then(|c| c.file_name().map(|n| n.to_os_string()));
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            p.extension().is_some_and(|e| e == "lst")
                || config_name
                    .as_ref()
                    .is_some_and(|n| p.file_name() == Some(n.as_os_str()))
        });
        if relevant {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "cannot watch files; reload with SIGHUP"))
    .ok()?;
    if let Err(e) = watcher.watch(&lists, RecursiveMode::Recursive) {
        tracing::warn!(dir = %lists.display(), error = %e, "cannot watch the list directory; reload with SIGHUP");
    }
    if let Some(dir) = config.as_ref().and_then(|c| c.parent()) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the configuration file");
        }
    }
    Some((watcher, lists))
}

/// Runs the reload loop until `stop`.
pub async fn run(state: Arc<SharedState>, metrics: Arc<Metrics>, stop: CancellationToken) {
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP");
            None
        }
    };
    let (tx, mut rx) = mpsc::channel(64);
    let mut watcher = start_watcher(&state, tx.clone());
    let started = state.load().config.clone();
    loop {
        let why = tokio::select! {
            _ = stop.cancelled() => return,
            Some(_) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => "SIGHUP",
            Some(()) = rx.recv() => {
                // Debounce: wait until the files have been quiet for a moment.
                while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
                "file change"
            }
        };
        reload_now(&state, &metrics, why);
        super::restart::warn_restart_needed(&started, &state.load().config);
        // The list directory may have moved with the configuration.
        let (lists, _) = watched(&state);
        if watcher
            .as_ref()
            .map(|(_, dir)| dir != &lists)
            .unwrap_or(true)
        {
            watcher = start_watcher(&state, tx.clone());
        }
    }
}

/// A fingerprint of the cloud feed directory: each file's name, length and mtime.
fn feeds_stamp(dir: &Path) -> Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)> {
    let mut stamp: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.file_name(), m.len(), m.modified().ok()))
        })
        .collect();
    stamp.sort();
    stamp
}

/// Swaps in a new GeoIP database (geoipupdate replaces the file) or new cloud feeds
/// (`badclients ranges update`) without a restart. A database that does not open keeps the
/// old one, with a warning.
pub async fn run_local(
    lookup: crate::lookup::Lookup,
    state: Arc<SharedState>,
    stop: CancellationToken,
) {
    let mut feeds = feeds_stamp(&state.load().config.cloud_dir());
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(state.load().config.geoip.check_secs.max(1))) => {}
        }
        let config = state.load().config.clone();
        let current = lookup.local();
        let geoip_changed = current
            .geoip
            .as_ref()
            .is_some_and(|g| g.source().changed(g));
        let now = feeds_stamp(&config.cloud_dir());
        let feeds_changed = now != feeds;
        if !geoip_changed && !feeds_changed {
            continue;
        }
        feeds = now;
        let geoip = match &current.geoip {
            Some(old) if geoip_changed => match old.reopen() {
                Ok(new) => {
                    tracing::info!("GeoIP databases reloaded");
                    Some(Arc::new(new))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the new GeoIP database does not open: the old one stays in use");
                    Some(Arc::clone(old))
                }
            },
            other => other.clone(),
        };
        let cloud = if feeds_changed {
            let (cloud, warnings) = crate::cloud::store::load_all(&config.cloud_dir());
            for w in warnings {
                tracing::warn!("{w}");
            }
            tracing::info!(prefixes = cloud.len(), "cloud ranges reloaded");
            Arc::new(cloud)
        } else {
            Arc::clone(&current.cloud)
        };
        let next = crate::lookup::LocalSources {
            geoip,
            cloud,
            asn_table: current.asn_table.clone(),
        };
        lookup.set_local(next);
    }
}
