//! The harness of badclients' integration tests (`tests/it`, `tests/e2e`, `tests/redis`,
//! `tests/ui_browser.rs`): list directories, the `badclients` binary run once or as a daemon
//! against testworld's fakes, throwaway Dovecot, Postfix, Redis and Chromium instances.
//!
//! A dev-only crate (never published), so each test binary uses what it needs and nothing is
//! dead code. The `badclients` binary is the one Cargo built for the tests: [`exe`].

pub mod browser;
pub mod daemon;
pub mod dovecot;
pub mod guesses;
pub mod http;
pub mod internet;
pub mod mail_clients;
pub mod postfix;
pub mod postgres;
pub mod redis;
pub mod redis_ha;
pub mod release;
pub mod tls;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary list directory.
pub struct ListDir {
    pub dir: tempfile::TempDir,
}

impl Default for ListDir {
    fn default() -> ListDir {
        ListDir::new()
    }
}

impl ListDir {
    pub fn new() -> ListDir {
        ListDir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn with(mut self, file: &str, content: impl AsRef<[u8]>) -> ListDir {
        self.write(file, content);
        self
    }

    pub fn write(&mut self, file: &str, content: impl AsRef<[u8]>) {
        let path = self.dir.path().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, content).expect("write list");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The repository's root (this crate is `crates/testkit` in it).
pub fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .unwrap_or_else(|| panic!("{} is not crates/testkit of the repository", here.display()))
        .to_path_buf()
}

/// The `badclients` binary under test: Cargo builds it for the integration tests of the
/// badclients package and names it in `CARGO_BIN_EXE_badclients` when it runs them (Cargo
/// 1.94 and later; the workspace needs 1.95).
pub fn exe() -> PathBuf {
    std::env::var_os("CARGO_BIN_EXE_badclients")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .expect(
            "CARGO_BIN_EXE_badclients is not set: run the tests with `cargo test`, or set it to \
             the badclients binary (e.g. target/debug/badclients)",
        )
}

/// A fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

/// Runs the badclients binary in `cwd` (an empty temp dir by default, so no stray
/// `badclients.toml` is picked up).
pub fn badclients(args: &[&str], cwd: &Path) -> Output {
    Command::new(exe())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run badclients")
}

/// [`badclients`] with `input` on its stdin.
pub fn badclients_stdin(args: &[&str], cwd: &Path, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(exe())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run badclients");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for badclients");
    let _ = writer.join();
    out
}

/// [`badclients`] from an async test (on the blocking pool, so the fakes keep running).
pub async fn badclients_async(args: &[&str], cwd: &Path) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let cwd = cwd.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        badclients(&args, &cwd)
    })
    .await
    .expect("run badclients")
}

/// The last `n` lines of `text` (for failure messages after thousands of logins).
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("[… {skip} lines before]\n"));
    }
    out.push_str(&lines[skip..].join("\n"));
    out
}

/// A command's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
