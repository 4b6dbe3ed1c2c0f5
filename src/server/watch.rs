//! Reloads: on `SIGHUP` and when a list file or the configuration file changes on disk
//! (debounced, so an editor's several writes make one reload).
//!
//! The watch follows the list directory as its path names it now: the directory's parent
//! is watched too, so a directory removed and copied back, moved away and back, or
//! replaced by a symlink swap (`ln -sfn v2 cur.tmp; mv -T cur.tmp cur`) gets a fresh watch
//! before the reload; a check of the directory's canonical path and inode every
//! [`IDENTITY_CHECK`] catches what no event shows (a symlink higher up the path).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::decider::state::SharedState;
use crate::metrics::Metrics;

/// Quiet time after the last file event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// How often the list directory's identity is compared with the watched one.
const IDENTITY_CHECK: Duration = Duration::from_secs(2);

/// Reloads now and logs what happened.
pub(super) fn reload_now(state: &SharedState, metrics: &Metrics, why: &str) {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
    let was_degraded = state.load().list_dir_fault.is_some();
    match state.reload() {
        Ok(outcome) => {
            super::logging::log_diagnostics(&outcome.diagnostics);
            for kind in &outcome.kept {
                tracing::error!(list = %kind, "the list has errors: its previous version stays in use");
            }
            let active = state.load();
            if let Some(fault) = outcome.list_dir_fault {
                metrics.observe_lists_kept(fault);
                tracing::error!(
                    why,
                    fault = fault.describe(),
                    entries = active.policy.lists.total_entries(),
                    "the last good lists stay in force; /healthz says degraded until a good reload"
                );
            } else if was_degraded {
                tracing::info!("the list directory is in order again");
            }
            metrics.observe_reload(&active.policy.lists, &active.report, outcome.clean);
            metrics.observe_lists_in_force(&active.policy.lists, active.list_dir_fault);
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
            metrics.observe_lists_in_force(&active.policy.lists, active.list_dir_fault);
            tracing::error!(error = %e, why, "reload failed: the previous configuration and lists stay in use");
        }
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
}

/// What woke the reload loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// A list file or the configuration file changed.
    Files,
    /// The list directory itself was removed, created, renamed or re-pointed.
    ListDir,
}

/// What the list directory's path names now: the canonical path and the inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DirIdentity {
    canonical: PathBuf,
    dev: u64,
    ino: u64,
}

/// The identity of `path`, `None` while it names nothing.
fn dir_identity(path: &Path) -> Option<DirIdentity> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&canonical).ok()?;
    Some(DirIdentity {
        canonical,
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// `path`'s parent directory (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// One watch on the list directory (recursively), its parent and the configuration
/// file's directory, with the identity the list directory had when it started.
struct ListWatch {
    _watcher: Option<notify::RecommendedWatcher>,
    lists: PathBuf,
    identity: Option<DirIdentity>,
}

impl ListWatch {
    /// Watches what the configured list path names now.
    fn start(state: &SharedState, tx: mpsc::Sender<Wake>) -> ListWatch {
        let lists = state.load().config.list_path.clone();
        // Taken before the watch starts: a change after it shows in the next check.
        let identity = dir_identity(&lists);
        let watcher = start_watcher(&lists, state.config_path(), identity.is_some(), tx);
        ListWatch {
            _watcher: watcher,
            lists,
            identity,
        }
    }

    /// Whether the watch still follows the directory the list path names, for `state`'s
    /// configuration.
    fn is_current(&self, state: &SharedState) -> bool {
        self.lists == state.load().config.list_path && dir_identity(&self.lists) == self.identity
    }
}

fn start_watcher(
    lists: &Path,
    config: Option<&Path>,
    lists_exist: bool,
    tx: mpsc::Sender<Wake>,
) -> Option<notify::RecommendedWatcher> {
    let config_name = config.and_then(|c| c.file_name().map(|n| n.to_os_string()));
    let lists_root = lists.to_path_buf();
    let lists_parent = parent_of(lists);
    let lists_name = lists.file_name().map(|n| n.to_os_string());
    let parent_in_callback = lists_parent.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let list_dir = event.need_rescan()
            || event.paths.iter().any(|p| {
                p == &lists_root
                    || (p.parent() == Some(parent_in_callback.as_path())
                        && p.file_name() == lists_name.as_deref())
            });
        if list_dir {
            let _ = tx.try_send(Wake::ListDir);
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            p.extension().is_some_and(|e| e == "lst")
                || config_name
                    .as_ref()
                    .is_some_and(|n| p.file_name() == Some(n.as_os_str()))
        });
        if relevant {
            let _ = tx.try_send(Wake::Files);
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "cannot watch files; reload with SIGHUP"))
    .ok()?;
    if lists_exist {
        if let Err(e) = watcher.watch(lists, RecursiveMode::Recursive) {
            tracing::warn!(dir = %lists.display(), error = %e, "cannot watch the list directory; reload with SIGHUP");
        }
    } else {
        tracing::warn!(
            dir = %lists.display(),
            "the list directory is missing or cannot be read: waiting for it to come back"
        );
    }
    // The parent shows the list directory itself being removed, created, renamed or
    // re-pointed (a symlink swap).
    if let Err(e) = watcher.watch(&lists_parent, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %lists_parent.display(), error = %e, "cannot watch the list directory's parent; replacing the directory is noticed within seconds");
    }
    if let Some(dir) = config.map(parent_of) {
        if dir != lists_parent {
            if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the configuration file");
            }
        }
    }
    Some(watcher)
}

/// The reload loop, set up: from [`ReloadLoop::start`] on, SIGHUP is handled and the files
/// are watched (start it before the daemon says it is ready, so no early edit or signal is
/// missed); [`ReloadLoop::run`] reloads until stopped.
pub(super) struct ReloadLoop {
    state: Arc<SharedState>,
    metrics: Arc<Metrics>,
    hup: Option<tokio::signal::unix::Signal>,
    tx: mpsc::Sender<Wake>,
    rx: mpsc::Receiver<Wake>,
    watch: ListWatch,
    /// The configuration the daemon started with: what a reload cannot change.
    started: crate::config::Config,
}

impl ReloadLoop {
    /// Listens for SIGHUP and watches the files, now.
    pub(super) fn start(state: Arc<SharedState>, metrics: Arc<Metrics>) -> ReloadLoop {
        let hup = match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP");
                None
            }
        };
        let (tx, rx) = mpsc::channel(64);
        let watch = ListWatch::start(&state, tx.clone());
        let started = state.load().config.clone();
        ReloadLoop {
            started,
            state,
            metrics,
            hup,
            tx,
            rx,
            watch,
        }
    }

    /// Runs the reload loop until `stop`.
    pub(super) async fn run(mut self, stop: CancellationToken) {
        let (state, metrics) = (Arc::clone(&self.state), Arc::clone(&self.metrics));
        let mut check = tokio::time::interval(IDENTITY_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let hup = &mut self.hup;
            let rx = &mut self.rx;
            let (why, list_dir_event) = tokio::select! {
                _ = stop.cancelled() => return,
                Some(_) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => ("SIGHUP", true),
                Some(wake) = rx.recv() => {
                    // Debounce: wait until the files have been quiet for a moment.
                    let mut list_dir = wake == Wake::ListDir;
                    while let Ok(Some(wake)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                        list_dir |= wake == Wake::ListDir;
                    }
                    ("file change", list_dir)
                }
                _ = check.tick() => {
                    if self.watch.is_current(&state) {
                        continue;
                    }
                    ("the list directory was replaced", true)
                }
            };
            // Watch what the path names now before reading it, so no later edit is missed.
            if list_dir_event || !self.watch.is_current(&state) {
                self.watch = ListWatch::start(&state, self.tx.clone());
            }
            reload_now(&state, &metrics, why);
            super::restart::warn_restart_needed(&self.started, &state.load().config);
            // The list directory may have moved with the configuration.
            if !self.watch.is_current(&state) {
                self.watch = ListWatch::start(&state, self.tx.clone());
            }
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
pub(super) async fn run_local(
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
            let (cloud, warnings) = crate::app::cloud_ranges(&config);
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
