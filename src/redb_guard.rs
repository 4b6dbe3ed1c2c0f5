//! How the stores contain redb's faults: a panic inside redb (a damaged page it meets
//! after open) is caught and becomes a [`redb::Error::Corrupted`], so it is classified
//! as damage instead of taking the daemon or a command down; and which errors are the
//! file system's (an I/O error after which redb must be closed and reopened).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// Runs `body` (a redb call) with a panic inside it caught and turned into
/// [`redb::Error::Corrupted`]: redb panics on some damaged pages instead of returning an
/// error. The panic's own message still goes to stderr through the panic hook.
pub(crate) fn guarded<T>(body: impl FnOnce() -> Result<T, redb::Error>) -> Result<T, redb::Error> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            Err(redb::Error::Corrupted(format!("redb panicked: {message}")))
        }
    }
}

/// Whether `err` came from the file system (disk full, EIO, a read-only file system, a
/// closed store) rather than from the file's content: redb then refuses every further
/// operation ("Previous I/O error occurred") until the database is closed and reopened.
pub(crate) fn is_io_failure(err: &redb::Error) -> bool {
    match err {
        redb::Error::PreviousIo => true,
        redb::Error::Io(io) => !matches!(
            io.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// The error of an operation on a store that is closed, waiting to be reopened.
pub(crate) fn closed_error() -> redb::Error {
    redb::Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the store is closed after an I/O error and will be reopened",
    ))
}

/// Reopening after an I/O error: the first retry after [`Backoff::FIRST`], doubling up to
/// [`Backoff::MAX`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Backoff::FIRST,
        }
    }
}

impl Backoff {
    pub(crate) const FIRST: Duration = Duration::from_millis(100);
    pub(crate) const MAX: Duration = Duration::from_secs(10);

    /// The wait before the next attempt; the one after is twice as long (at most `MAX`).
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(Backoff::MAX);
        wait
    }

    /// Back to the first wait (after a success).
    pub(crate) fn reset(&mut self) {
        self.next = Backoff::FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_damage_and_io_errors_are_told_apart() {
        let err = guarded::<()>(|| panic!("entered unreachable code")).unwrap_err();
        assert!(
            matches!(&err, redb::Error::Corrupted(m) if m.contains("unreachable")),
            "{err:?}"
        );
        assert!(!is_io_failure(&err));
        assert!(is_io_failure(&redb::Error::PreviousIo));
        assert!(is_io_failure(&redb::Error::Io(
            std::io::Error::from_raw_os_error(28)
        )));
        assert!(is_io_failure(&closed_error()));
        let mut b = Backoff::default();
        assert_eq!(b.next_wait(), Backoff::FIRST);
        assert!(b.next_wait() > Backoff::FIRST);
        for _ in 0..20 {
            b.next_wait();
        }
        assert_eq!(b.next_wait(), Backoff::MAX);
    }
}
