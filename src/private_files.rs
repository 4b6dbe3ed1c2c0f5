//! Files that hold personal data (the decision history, its journal, the lookup cache, the
//! directories they live in) are not for every user of the machine.
//!
//! [`restrict_umask`] makes everything the process creates from then on at most `rwxr-x---`
//! (files 0640, directories 0750): the history and cache files, the journal segments, the
//! state directories. Unix sockets get their configured `socket_mode` explicitly.
//! [`world_access`] tells about a file made earlier, by hand or by an older version, that
//! every user can read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The process's umask from [`restrict_umask`] on: no access for others.
pub const UMASK: u32 = 0o027;

/// Sets the process's umask to [`UMASK`] (keeping any bits already set, so an admin's
/// stricter umask stays).
pub fn restrict_umask() {
    // SAFETY: umask takes and returns a plain integer; it only changes this process's mask.
    unsafe {
        let old = libc::umask(UMASK as libc::mode_t);
        libc::umask(old | UMASK as libc::mode_t);
    }
}

/// A warning when `path` exists and others may read, write or enter it.
pub fn world_access(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o007 != 0).then(|| {
        format!(
            "{} is open to every user of this machine (mode {mode:04o}) and holds personal \
             data; run chmod o-rwx on it",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_world_readable_file_is_pointed_out_and_a_private_one_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.redb");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warning = world_access(&file).expect("a warning");
        assert!(warning.contains("mode 0644"), "{warning}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(world_access(&file), None);
        assert_eq!(world_access(&dir.path().join("missing")), None);
    }
}
