//! `InstanceLock`: one daemon per state directory. At start the daemon takes an exclusive
//! `flock` on `badclients.pid` in the directory of each file it writes (the history and
//! the cache store) and writes its pid there, so a second `serve` on the same state fails
//! at once with the pid of the daemon that holds it (rather than redb's "Database already
//! open"). The lock goes with the process (also after `kill -9`). A directory where the
//! file cannot be created (read-only) is not locked: the stores then degrade on their own.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use crate::config::Config;

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "badclients.pid";

/// Why the daemon may not start.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another badclients daemon{} holds the state directory {dir} (lock {path}); stop it or \
         give this one another state directory",
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Held {
        dir: PathBuf,
        path: PathBuf,
        holder: Option<u32>,
    },
}

/// The locks held for the life of the daemon (released when dropped or at exit).
#[derive(Debug)]
pub struct InstanceLock {
    _files: Vec<File>,
}

impl InstanceLock {
    /// Locks the directories of the history (when enabled) and the cache store (unless
    /// memory only).
    pub fn take(config: &Config) -> Result<InstanceLock, LockError> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if config.history.enabled {
            dirs.extend(dir_of(&config.history_path()));
        }
        if !config.cache.memory_only {
            dirs.extend(dir_of(&config.cache.resolved_path()));
        }
        dirs.dedup();
        let mut files = Vec::new();
        for dir in dirs {
            if let Some(file) = lock_dir(&dir)? {
                files.push(file);
            }
        }
        Ok(InstanceLock { _files: files })
    }
}

fn dir_of(path: &Path) -> Option<PathBuf> {
    match path.parent() {
        Some(d) if d.as_os_str().is_empty() => Some(PathBuf::from(".")),
        Some(d) => Some(d.to_path_buf()),
        None => None,
    }
}

/// Takes the lock of `dir`; `None` when the lock file cannot be created there (logged).
fn lock_dir(dir: &Path) -> Result<Option<File>, LockError> {
    let path = dir.join(LOCK_FILE);
    let opened = std::fs::create_dir_all(dir).and_then(|()| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
    });
    let mut file = match opened {
        Ok(f) => f,
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "cannot create the instance lock file; not guarding against a second daemon");
            return Ok(None);
        }
    };
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        return Err(LockError::Held {
            dir: dir.to_path_buf(),
            path,
            holder: text.trim().parse().ok(),
        });
    }
    let written = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()));
    if let Err(err) = written {
        tracing::warn!(path = %path.display(), error = %err, "cannot write the pid into the instance lock file");
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_dir(dir.path()).unwrap();
        assert!(first.is_some());
        let err = lock_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(lock_dir(dir.path()).unwrap().is_some());
    }
}
