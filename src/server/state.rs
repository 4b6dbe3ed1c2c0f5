//! The daemon's swappable state: the configuration and the policy built from it, replaced
//! as a whole on reload so no request ever sees half of one.
//!
//! A reload builds the new state completely, then swaps it in. A configuration that does
//! not parse keeps the previous state; a list file with errors keeps its previous version
//! (each error is logged with its file and line), the other lists take their new content.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;

use crate::config::{Config, ConfigError, LoadedConfig};
use crate::decision::Policy;
use crate::lists::{Diagnostic, ListKind, ListSet, LoadReport, Severity};

/// One consistent version of the configuration and the policy.
#[derive(Debug)]
pub struct Active {
    pub config: Config,
    pub policy: Policy,
    /// What loading found (for `/metrics` and the log).
    pub report: LoadReport,
    /// When this version was loaded (the dashboard's "last reload").
    pub loaded_at: SystemTime,
}

/// The current [`Active`], swapped atomically.
#[derive(Debug)]
pub struct SharedState {
    current: ArcSwap<Active>,
    config_path: Option<PathBuf>,
}

/// What a reload did.
#[derive(Debug)]
pub struct ReloadOutcome {
    /// Problems found (all of them, errors and warnings).
    pub diagnostics: Vec<Diagnostic>,
    /// Lists whose previous version was kept because the new one had errors.
    pub kept: Vec<ListKind>,
    /// Whether everything loaded without errors.
    pub clean: bool,
}

/// Builds the first state: list errors are reported, the rest of each file loads.
pub fn initial(config_path: Option<&Path>) -> Result<(SharedState, LoadReport), ConfigError> {
    let loaded = Config::load(config_path)?;
    let (policy, report) = loaded.policy(None)?;
    let active = Active {
        config: loaded.config,
        policy,
        report: report.clone(),
        loaded_at: SystemTime::now(),
    };
    let state = SharedState {
        current: ArcSwap::from_pointee(active),
        config_path: loaded.path,
    };
    Ok((state, report))
}

fn kinds_with_errors(set: &ListSet, report: &LoadReport) -> Vec<ListKind> {
    ListKind::ALL
        .into_iter()
        .filter(|kind| {
            let path = set.path(*kind);
            report
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Error && d.path == path)
        })
        .collect()
}

impl SharedState {
    /// The current state.
    pub fn load(&self) -> Arc<Active> {
        self.current.load_full()
    }

    /// The configuration file in use.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// Reloads configuration and lists. On a configuration error the state is unchanged.
    pub fn reload(&self) -> Result<ReloadOutcome, ConfigError> {
        let loaded: LoadedConfig = Config::load(self.config_path.as_deref())?;
        let (mut policy, report) = loaded.policy(None)?;
        let old = self.current.load();
        let broken = kinds_with_errors(&policy.lists, &report);
        let mut kept = Vec::new();
        // Keep the last good version of a broken list, when the list directory is the
        // same one (a new directory has nothing to fall back on).
        if old.policy.lists.dir() == policy.lists.dir() {
            for kind in broken.iter().copied() {
                policy.lists.replace_list(kind, &old.policy.lists);
                kept.push(kind);
            }
        }
        let clean = report.errors() == 0;
        let diagnostics = report.diagnostics.clone();
        self.current.store(Arc::new(Active {
            config: loaded.config,
            policy,
            report,
            loaded_at: SystemTime::now(),
        }));
        Ok(ReloadOutcome {
            diagnostics,
            kept,
            clean,
        })
    }
}
