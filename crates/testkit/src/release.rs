//! The Debian releases the end-to-end tests run a real Dovecot and Postfix on.
//!
//! [`Release::Debian12`] is the host: Dovecot 2.3 and Postfix 3.7 from the host's packages, run
//! directly. [`Release::Debian13`] is a Debian 13 (trixie) root made by mmdebstrap (Dovecot 2.4,
//! Postfix 3.10), run with `chroot ROOT …`: its instances live in a temporary directory under
//! `ROOT/tmp`, which the programs inside see without the `ROOT` prefix. A chroot shares the
//! host's network, so the instances reach the badclients daemon and the tests reach the instances
//! on 127.0.0.1 as on the host.
//!
//! The root is `/var/cache/badclients/trixie-root` unless `BADCLIENTS_TRIXIE_ROOT` names another;
//! `scripts/test.sh` builds it. Without it the Debian 13 tests fail (they are never skipped).
//!
//! [`on_both_releases!`](crate::on_both_releases) turns test functions taking a [`Release`] into
//! `debian12::NAME` and `debian13::NAME` tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::daemon::set_mode;

/// Where `scripts/test.sh` builds the Debian 13 root unless `BADCLIENTS_TRIXIE_ROOT` says
/// otherwise.
pub const DEFAULT_TRIXIE_ROOT: &str = "/var/cache/badclients/trixie-root";

/// A Debian release with its Dovecot and Postfix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Release {
    /// The host: Dovecot 2.3, Postfix 3.7, run directly.
    Debian12,
    /// The trixie root: Dovecot 2.4, Postfix 3.10, run with `chroot ROOT …`.
    Debian13,
}

/// A program whose version a release is checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Program {
    Dovecot,
    Postfix,
}

/// The (release, program) pairs whose version was already checked.
static CHECKED: Mutex<Vec<(Release, Program)>> = Mutex::new(Vec::new());

impl Release {
    /// `Debian 12` / `Debian 13`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Release::Debian12 => "Debian 12",
            Release::Debian13 => "Debian 13",
        }
    }

    /// The root the programs run in: `None` for the host, the trixie root for Debian 13 (not
    /// checked; see [`Release::require_dovecot`] and [`Release::require_postfix`]).
    pub fn root(self) -> Option<PathBuf> {
        match self {
            Release::Debian12 => None,
            Release::Debian13 => Some(
                std::env::var_os("BADCLIENTS_TRIXIE_ROOT")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_TRIXIE_ROOT)),
            ),
        }
    }

    /// A command that runs `program` (an absolute path as seen in the release) in the release:
    /// `chroot ROOT program` on Debian 13, `program` on the host.
    pub fn command(self, program: &str) -> Command {
        match self.root() {
            None => Command::new(program),
            Some(root) => {
                let mut c = Command::new("chroot");
                c.arg(root).arg(program);
                c
            }
        }
    }

    /// The host path of `path` as the release sees it (`ROOT/path` on Debian 13).
    pub fn host_path(self, path: &str) -> PathBuf {
        match self.root() {
            None => PathBuf::from(path),
            Some(root) => root.join(path.trim_start_matches('/')),
        }
    }

    /// The path the release sees for the host path `path`; panics when `path` is outside the
    /// release's root.
    pub fn inside_path(self, path: &Path) -> PathBuf {
        match self.root() {
            None => path.to_path_buf(),
            Some(root) => {
                let rest = path.strip_prefix(&root).unwrap_or_else(|_| {
                    panic!(
                        "{} is outside the {} root {}: programs in it cannot reach it",
                        path.display(),
                        self.name(),
                        root.display()
                    )
                });
                Path::new("/").join(rest)
            }
        }
    }

    /// A fresh temporary directory (mode 0755) for an instance: under /tmp on the host, under
    /// `ROOT/tmp` on Debian 13. Unix socket paths must stay short: keep `prefix` short.
    pub fn instance_dir(self, prefix: &str) -> InstanceDir {
        let parent = self.host_path("/tmp");
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&parent)
            .unwrap_or_else(|e| {
                panic!(
                    "temporary directory in {} for {}: {e}",
                    parent.display(),
                    self.name()
                )
            });
        set_mode(dir.path(), 0o755);
        let inside = self.inside_path(dir.path());
        InstanceDir { dir, inside }
    }

    /// The Dovecot templates for the release's Dovecot: `tests/e2e/conf/dovecot/` (2.3) or
    /// `tests/e2e/conf/dovecot-2.4/`.
    pub fn dovecot_templates(self) -> PathBuf {
        let dir = match self {
            Release::Debian12 => "tests/e2e/conf/dovecot",
            Release::Debian13 => "tests/e2e/conf/dovecot-2.4",
        };
        crate::repo().join(dir)
    }

    /// The Dovecot version this release must have (a prefix of `dovecot --version`).
    pub fn dovecot_version(self) -> &'static str {
        match self {
            Release::Debian12 => "2.3.",
            Release::Debian13 => "2.4.",
        }
    }

    /// The Postfix version this release must have (a prefix of `postconf -h mail_version`).
    pub fn postfix_version(self) -> &'static str {
        match self {
            Release::Debian12 => "3.7.",
            Release::Debian13 => "3.10.",
        }
    }

    /// Fails (never skips) unless the release is there with Dovecot of the right version
    /// (`files`: more paths, as seen inside, that must exist, e.g. the Lua passdb module).
    pub fn require_dovecot(self, files: &[&str], install_hint: &str) {
        self.require_root_dir();
        for path in ["/usr/sbin/dovecot", "/usr/bin/doveadm", "/usr/bin/doveconf"]
            .iter()
            .chain(files)
        {
            self.require_file(path, install_hint);
        }
        self.check_version(Program::Dovecot);
    }

    /// Fails (never skips) unless the release is there with Postfix of the right version.
    pub fn require_postfix(self, install_hint: &str) {
        self.require_root_dir();
        for path in ["/usr/sbin/postfix", "/usr/sbin/postconf"] {
            self.require_file(path, install_hint);
        }
        self.check_version(Program::Postfix);
    }

    /// Whether `path` (as seen inside) exists in the release.
    pub fn has(self, path: &str) -> bool {
        self.host_path(path).exists()
    }

    fn require_root_dir(self) {
        if let Some(root) = self.root() {
            assert!(
                root.join("usr/bin").is_dir(),
                "the {} root {} is missing: run ./scripts/test.sh, which builds it \
                 (or set BADCLIENTS_TRIXIE_ROOT to where it is)",
                self.name(),
                root.display()
            );
        }
    }

    fn require_file(self, path: &str, install_hint: &str) {
        match self.root() {
            None => assert!(self.has(path), "{path} is missing: {install_hint}"),
            Some(root) => assert!(
                self.has(path),
                "{path} is missing in the {} root {}: run ./scripts/test.sh, which builds it \
                 with the packages the tests need",
                self.name(),
                root.display()
            ),
        }
    }

    /// Asserts the version of `program` once per release and program, so a wrong root (or
    /// host) fails loudly instead of testing another Dovecot or Postfix.
    fn check_version(self, program: Program) {
        let mut checked = CHECKED.lock().unwrap_or_else(|p| p.into_inner());
        if checked.contains(&(self, program)) {
            return;
        }
        let (mut command, expected) = match program {
            Program::Dovecot => {
                let mut c = self.command("/usr/sbin/dovecot");
                c.arg("--version");
                (c, self.dovecot_version())
            }
            Program::Postfix => {
                let mut c = self.command("/usr/sbin/postconf");
                c.args(["-h", "mail_version"]);
                (c, self.postfix_version())
            }
        };
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("run {command:?} ({}): {e}", self.name()));
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success() && version.starts_with(expected),
            "{command:?} says {version:?} ({}), but {} has {program:?} {expected}x{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            self.name(),
            match self.root() {
                Some(root) => format!(
                    ": {root} is not a Debian 13 root; point BADCLIENTS_TRIXIE_ROOT at one, or \
                     remove {root}/.badclients-stamp and run ./scripts/test.sh, which rebuilds it",
                    root = root.display()
                ),
                None => String::new(),
            }
        );
        checked.push((self, program));
    }
}

/// A temporary instance directory: its host path and its path as the release sees it. Removed
/// when dropped.
pub struct InstanceDir {
    dir: tempfile::TempDir,
    inside: PathBuf,
}

impl InstanceDir {
    /// The path on the host (for reading and writing files from the test).
    pub fn host(&self) -> &Path {
        self.dir.path()
    }

    /// The path as the programs in the release see it (for their configuration).
    pub fn inside(&self) -> &Path {
        &self.inside
    }

    /// The directory's name (e.g. Dovecot's `instance_name`).
    pub fn name(&self) -> String {
        self.dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Turns test functions `fn NAME(release: Release)` into `debian12::NAME` and `debian13::NAME`
/// tests: `on_both_releases!(first_test, second_test);` after the functions.
#[macro_export]
macro_rules! on_both_releases {
    ($($name:ident),+ $(,)?) => {
        /// The tests on Debian 12: the host's Dovecot 2.3 and Postfix 3.7.
        mod debian12 {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::release::Release::Debian12)
                }
            )+
        }
        /// The tests on Debian 13: Dovecot 2.4 and Postfix 3.10 in the trixie root (chroot).
        mod debian13 {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::release::Release::Debian13)
                }
            )+
        }
    };
}
