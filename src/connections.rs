//! `ConnTable`: the open connections of one listener (HTTP or Postfix), capped, and who
//! makes room at the cap.
//!
//! Each accepted connection holds a [`ConnSlot`] and says whether it is *waiting* (idle
//! between requests, or a request still arriving) or *handling* a request. At the cap,
//! a new connection is admitted by closing the connection that has been waiting longest
//! — a hostile idle or trickling client sooner than Dovecot's or Postfix's fresh ones,
//! which reconnect anyway — and never one whose request is being answered. A failed
//! `accept` (EMFILE and the like) backs off briefly, frees a descriptor the same way and
//! is logged at most once per interval, with a count.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::metrics::ConnCounters;
use crate::warn_limit::WarnLimit;

/// The pause after a failed `accept`, so a full descriptor table never spins.
pub(crate) const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// Repeated warnings (evictions, accept errors) are logged at most once per this.
const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Descriptors kept back from the connection caps for the stores, lookups and lists.
const RESERVED_FDS: u64 = 64;

/// The open connections of one listener. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ConnTable {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    listener: &'static str,
    cap: usize,
    slots: Mutex<Slots>,
    /// Told when a connection closes or starts waiting (room may be made).
    changed: Notify,
    counters: ConnCounters,
    evict_log: WarnLimit,
    accept_log: WarnLimit,
}

#[derive(Debug, Default)]
struct Slots {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// `None` while a request is being answered.
    waiting_since: Option<Instant>,
    /// Chosen to make room; gone as soon as its task notices.
    evicted: bool,
    close: CancellationToken,
}

/// One admitted connection; dropping it frees the place.
#[derive(Debug)]
pub struct ConnSlot {
    shared: Arc<Shared>,
    id: u64,
    close: CancellationToken,
}

impl ConnTable {
    /// A table for `listener` (a metric label: `http` or `postfix`) of at most `cap`
    /// connections (at least 1).
    pub fn new(listener: &'static str, cap: usize, counters: ConnCounters) -> ConnTable {
        ConnTable {
            shared: Arc::new(Shared {
                listener,
                cap: cap.max(1),
                slots: Mutex::new(Slots::default()),
                changed: Notify::new(),
                counters,
                evict_log: WarnLimit::new(LOG_INTERVAL),
                accept_log: WarnLimit::new(LOG_INTERVAL),
            }),
        }
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.shared.cap
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.shared.lock().open.len()
    }

    /// Admits a just-accepted connection. At the cap, the connection that has been waiting
    /// longest is closed first; when every connection is answering a request, this waits
    /// until one is done.
    pub async fn admit(&self) -> ConnSlot {
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(slot) = self.try_admit() {
                return slot;
            }
            // The evicted task drops its connection at once; the timeout only guards
            // against a missed wake-up.
            let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
        }
    }

    fn try_admit(&self) -> Option<ConnSlot> {
        let shared = &self.shared;
        let mut slots = shared.lock();
        if slots.open.len() < shared.cap {
            let id = slots.next_id;
            slots.next_id += 1;
            let close = CancellationToken::new();
            slots.open.insert(
                id,
                Entry {
                    waiting_since: Some(Instant::now()),
                    evicted: false,
                    close: close.clone(),
                },
            );
            shared.counters.open.set(gauge_value(slots.open.len()));
            return Some(ConnSlot {
                shared: Arc::clone(shared),
                id,
                close,
            });
        }
        // One eviction at a time: wait until the last one has closed.
        if slots.open.values().any(|e| e.evicted) {
            return None;
        }
        let victim = slots
            .open
            .values_mut()
            .filter_map(|e| e.waiting_since.map(|since| (since, e)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, e)| e);
        if let Some(victim) = victim {
            victim.evicted = true;
            victim.close.cancel();
            shared.counters.evicted.inc();
            let cap = shared.cap;
            let listener = shared.listener;
            drop(slots);
            if let Some(n) = shared.evict_log.hit() {
                tracing::warn!(
                    listener,
                    cap,
                    closed = n,
                    "connection cap reached: closed the longest-waiting connections to admit new ones"
                );
            }
        }
        None
    }

    /// Deals with a failed `accept`: counts it, logs it (rate-limited), frees a
    /// descriptor when the process has none left, and pauses briefly.
    pub async fn accept_failed(&self, error: &io::Error) {
        let shared = &self.shared;
        shared.counters.accept_errors.inc();
        if let Some(n) = shared.accept_log.hit() {
            tracing::warn!(listener = shared.listener, error = %error, failures = n,
                "cannot accept connections; pausing briefly");
        }
        let released = shared.changed.notified();
        if out_of_descriptors(error) && self.evict_longest_waiting() {
            // Retry as soon as the evicted connection has given its descriptor back.
            let _ = tokio::time::timeout(ACCEPT_ERROR_PAUSE, released).await;
            return;
        }
        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
    }

    /// Closes the connection waiting longest, if any; whether one was found.
    fn evict_longest_waiting(&self) -> bool {
        let mut slots = self.shared.lock();
        let victim = slots
            .open
            .values_mut()
            .filter(|e| !e.evicted)
            .filter_map(|e| e.waiting_since.map(|since| (since, e)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, e)| e);
        let Some(victim) = victim else {
            return false;
        };
        victim.evicted = true;
        victim.close.cancel();
        self.shared.counters.evicted.inc();
        true
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_waiting(&self, id: u64, waiting: bool) {
        if let Some(entry) = self.lock().open.get_mut(&id) {
            entry.waiting_since = waiting.then(Instant::now);
        }
        if waiting {
            self.changed.notify_waiters();
        }
    }
}

impl ConnSlot {
    /// The connection is waiting: idle, or a request is still arriving.
    pub fn waiting(&self) {
        self.shared.set_waiting(self.id, true);
    }

    /// The connection is answering a request (it is not closed to make room meanwhile).
    pub fn handling(&self) {
        self.shared.set_waiting(self.id, false);
    }

    /// Resolves when the connection must close to make room.
    pub fn evicted(&self) -> WaitForCancellationFutureOwned {
        self.close.clone().cancelled_owned()
    }

    /// The listener's counters (closed connections by reason).
    pub fn counters(&self) -> &ConnCounters {
        &self.shared.counters
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut slots = self.shared.lock();
        slots.open.remove(&self.id);
        self.shared.counters.open.set(gauge_value(slots.open.len()));
        drop(slots);
        self.shared.changed.notify_waiters();
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn out_of_descriptors(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(code) if code == rustix::io::Errno::MFILE.raw_os_error()
            || code == rustix::io::Errno::NFILE.raw_os_error()
    )
}

/// The connection caps made to fit the process's descriptor limit (`RLIMIT_NOFILE`),
/// keeping [`RESERVED_FDS`] for everything else: when `caps` add up to more, each is
/// scaled down in proportion (at least 8) and a warning says so.
pub(crate) fn fit_caps_to_fd_limit<const N: usize>(caps: [usize; N]) -> [usize; N] {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    fit_caps(caps, limit)
}

fn fit_caps<const N: usize>(caps: [usize; N], fd_limit: Option<u64>) -> [usize; N] {
    let Some(limit) = fd_limit else {
        return caps;
    };
    let budget = limit.saturating_sub(RESERVED_FDS).max(8 * N as u64);
    let total: u64 = caps.iter().map(|&c| c as u64).sum();
    if total <= budget {
        return caps;
    }
    let fitted = caps.map(|c| usize::try_from((c as u64 * budget / total).max(8)).unwrap_or(8));
    tracing::warn!(
        fd_limit = limit,
        configured = ?caps,
        fitted = ?fitted,
        "the descriptor limit (RLIMIT_NOFILE) is too low for the configured connection caps; \
         lowered them (raise LimitNOFILE= to keep them)"
    );
    fitted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cap: usize) -> ConnTable {
        ConnTable::new("http", cap, ConnCounters::default())
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_waiting_connection_makes_room() {
        let t = table(2);
        let old = t.admit().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let young = t.admit().await;
        assert_eq!(t.open(), 2);
        let evicted = old.evicted();
        let t2 = t.clone();
        let third = tokio::spawn(async move { t2.admit().await });
        tokio::time::timeout(Duration::from_secs(10), evicted)
            .await
            .expect("the oldest connection was asked to close");
        drop(old);
        let third = tokio::time::timeout(Duration::from_secs(10), third)
            .await
            .expect("admitted once the evicted one closed")
            .unwrap();
        assert_eq!(t.open(), 2);
        assert!(!young.close.is_cancelled());
        assert_eq!(t.shared.counters.evicted.get(), 1);
        drop(third);
        assert_eq!(t.open(), 1);
    }

    #[tokio::test]
    async fn a_connection_answering_a_request_is_never_evicted() {
        let t = table(1);
        let busy = t.admit().await;
        busy.handling();
        let t2 = t.clone();
        let next = tokio::spawn(async move { t2.admit().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!busy.close.is_cancelled());
        assert!(!next.is_finished());
        // Done answering: now it may make room.
        busy.waiting();
        tokio::time::timeout(Duration::from_secs(10), busy.evicted())
            .await
            .expect("evicted once waiting");
        drop(busy);
        let _slot = tokio::time::timeout(Duration::from_secs(10), next)
            .await
            .expect("admitted")
            .unwrap();
    }

    #[test]
    fn caps_fit_the_descriptor_limit() {
        assert_eq!(fit_caps([512, 1024], Some(20_000)), [512, 1024]);
        assert_eq!(fit_caps([512, 1024], None), [512, 1024]);
        assert_eq!(fit_caps([512, 1024], Some(256)), [64, 128]);
        assert_eq!(fit_caps([512, 1024], Some(10)), [8, 10]);
    }
}
