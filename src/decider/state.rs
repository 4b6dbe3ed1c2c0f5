//! The daemon's swappable state: the configuration and the policy built from it, replaced
//! as a whole on reload so no request ever sees half of one.
//!
//! A reload builds the new state completely, then swaps it in. A configuration that does
//! not parse keeps the previous state; a list file with errors keeps its previous version
//! (each error is logged with its file and line), the other lists take their new content.
//! A list directory that is missing or unreadable, or that holds no entry at all where the
//! lists in force had some, keeps the last good lists as a whole: the state says so
//! ([`Active::list_dir_fault`]) until a good reload, for the log, `/metrics` and `/healthz`.

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
    /// Set while the list directory could not be taken as it is (the daemon is degraded).
    pub list_dir_fault: Option<ListDirFault>,
}

pub use crate::list_dir_fault::ListDirFault;

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
    /// Set when the whole last good lists were kept (see [`ListDirFault`]).
    pub list_dir_fault: Option<ListDirFault>,
    /// Whether everything loaded without errors and as it is.
    pub clean: bool,
}

/// Builds the first state: list errors are reported, the rest of each file loads.
pub fn initial(config_path: Option<&Path>) -> Result<(SharedState, LoadReport), ConfigError> {
    let loaded = Config::load(config_path)?;
    let (policy, report) = crate::app::policy(&loaded, None)?;
    // At start there is nothing to keep: a missing directory means no lists, degraded.
    let list_dir_fault = report.dir_unavailable.then_some(ListDirFault::Unavailable);
    let active = Active {
        config: loaded.config,
        policy,
        report: report.clone(),
        loaded_at: SystemTime::now(),
        list_dir_fault,
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
        let (mut policy, report) = crate::app::policy(&loaded, None)?;
        let old = self.current.load();
        let mut kept = Vec::new();
        let list_dir_fault = if report.dir_unavailable {
            Some(ListDirFault::Unavailable)
        } else {
            // Keep the last good version of a broken list, when the list directory is the
            // same one (a new directory has nothing to fall back on).
            if old.policy.lists.dir() == policy.lists.dir() {
                for kind in kinds_with_errors(&policy.lists, &report) {
                    policy.lists.replace_list(kind, &old.policy.lists);
                    kept.push(kind);
                }
            }
            let emptied = policy.lists.total_entries() == 0 && old.policy.lists.total_entries() > 0;
            emptied.then_some(ListDirFault::Emptied)
        };
        if list_dir_fault.is_some() {
            // Never lose the lists: the whole last good set stays in force.
            policy.lists = old.policy.lists.clone();
            kept.clear();
        }
        let clean = report.errors() == 0 && list_dir_fault.is_none();
        let diagnostics = report.diagnostics.clone();
        self.current.store(Arc::new(Active {
            config: loaded.config,
            policy,
            report,
            loaded_at: SystemTime::now(),
            list_dir_fault,
        }));
        Ok(ReloadOutcome {
            diagnostics,
            kept,
            list_dir_fault,
            clean,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &str = "176.112.168.0/21\n";

    fn daemon_dir() -> (tempfile::TempDir, SharedState) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let lists = dir.path().join("lists");
        std::fs::create_dir(&lists).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(lists.join("ip_net.deny.lst"), LISTED).unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join("badclients.toml");
        std::fs::write(&config, "list_path = \"lists\"\n").unwrap_or_else(|e| panic!("{e}"));
        let (state, report) = initial(Some(&config)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.errors(), 0, "{:?}", report.diagnostics);
        (dir, state)
    }

    fn reload(state: &SharedState) -> ReloadOutcome {
        state.reload().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_missing_list_directory_keeps_the_last_good_lists_until_it_is_back() {
        let (dir, state) = daemon_dir();
        let lists = dir.path().join("lists");
        std::fs::remove_dir_all(&lists).unwrap_or_else(|e| panic!("{e}"));
        let outcome = reload(&state);
        assert_eq!(outcome.list_dir_fault, Some(ListDirFault::Unavailable));
        assert!(!outcome.clean);
        let active = state.load();
        assert_eq!(active.list_dir_fault, Some(ListDirFault::Unavailable));
        assert_eq!(active.policy.lists.len_of(ListKind::IpNet), 1);

        std::fs::create_dir(&lists).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(lists.join("ip_net.deny.lst"), "10.0.0.0/8\n10.1.0.0/16\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let outcome = reload(&state);
        assert_eq!(outcome.list_dir_fault, None);
        assert!(outcome.clean);
        let active = state.load();
        assert_eq!(active.list_dir_fault, None);
        assert_eq!(active.policy.lists.len_of(ListKind::IpNet), 2);
    }

    #[test]
    fn a_list_directory_emptied_in_one_step_keeps_the_last_good_lists() {
        let (dir, state) = daemon_dir();
        let lists = dir.path().join("lists");
        std::fs::write(lists.join("ip_net.deny.lst"), "# all gone\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let outcome = reload(&state);
        assert_eq!(outcome.list_dir_fault, Some(ListDirFault::Emptied));
        assert!(!outcome.clean);
        assert_eq!(state.load().policy.lists.len_of(ListKind::IpNet), 1);
        // Still empty: still kept, still degraded.
        std::fs::remove_file(lists.join("ip_net.deny.lst")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reload(&state).list_dir_fault, Some(ListDirFault::Emptied));
        assert_eq!(state.load().policy.lists.len_of(ListKind::IpNet), 1);
        // Fewer entries but not none: taken as it is.
        std::fs::write(lists.join("asn.deny.lst"), "AS3209\n").unwrap_or_else(|e| panic!("{e}"));
        let outcome = reload(&state);
        assert_eq!(outcome.list_dir_fault, None);
        let active = state.load();
        assert_eq!(active.list_dir_fault, None);
        assert_eq!(active.policy.lists.len_of(ListKind::IpNet), 0);
        assert_eq!(active.policy.lists.len_of(ListKind::Asn), 1);
    }

    #[test]
    fn a_list_file_with_errors_keeps_its_previous_version_and_others_load() {
        let (dir, state) = daemon_dir();
        let lists = dir.path().join("lists");
        std::fs::write(lists.join("ip_net.deny.lst"), "not-a-net\n")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(lists.join("asn.deny.lst"), "AS1\nAS2\n").unwrap_or_else(|e| panic!("{e}"));
        let outcome = reload(&state);
        assert_eq!(outcome.kept, vec![ListKind::IpNet]);
        assert_eq!(outcome.list_dir_fault, None);
        let active = state.load();
        assert_eq!(active.policy.lists.len_of(ListKind::IpNet), 1);
        assert_eq!(active.policy.lists.len_of(ListKind::Asn), 2);
    }

    #[test]
    fn an_empty_list_directory_at_start_is_not_a_fault_but_a_missing_one_is() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join("badclients.toml");
        std::fs::write(&config, "list_path = \"lists\"\n").unwrap_or_else(|e| panic!("{e}"));
        let (state, _) = initial(Some(&config)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.load().list_dir_fault, Some(ListDirFault::Unavailable));
        std::fs::create_dir(dir.path().join("lists")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reload(&state).list_dir_fault, None);
        assert_eq!(state.load().list_dir_fault, None);
    }
}
