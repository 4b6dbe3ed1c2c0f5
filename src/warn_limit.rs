//! `WarnLimit`: a repeated warning logged at most once per interval, with how many times
//! it happened since it was last logged, so a fault that repeats per request or per batch
//! never floods the log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The state of one repeated warning. `Send + Sync`; keep one per kind of warning.
#[derive(Debug)]
pub(crate) struct WarnLimit {
    interval: Duration,
    state: Mutex<LimitState>,
}

#[derive(Debug, Default)]
struct LimitState {
    last: Option<Instant>,
    since: u64,
}

impl WarnLimit {
    pub(crate) fn new(interval: Duration) -> WarnLimit {
        WarnLimit {
            interval,
            state: Mutex::new(LimitState::default()),
        }
    }

    /// Counts one occurrence; `Some(n)` when it should be logged now, `n` being the
    /// occurrences since the last logged one (this one included).
    pub(crate) fn hit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.since += 1;
        let now = Instant::now();
        let due = state
            .last
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        state.last = Some(now);
        Some(std::mem::take(&mut state.since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_the_first_then_once_per_interval_with_a_count() {
        let limit = WarnLimit::new(Duration::from_millis(200));
        assert_eq!(limit.hit(), Some(1));
        let quiet = (0..1000).filter_map(|_| limit.hit()).count();
        assert_eq!(quiet, 0);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(limit.hit(), Some(1001));
    }
}
