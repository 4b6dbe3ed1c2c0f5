//! The wall clock as the history and the dashboard count time: microseconds since the Unix
//! epoch (0 for a time before it).

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    us_since_epoch(SystemTime::now())
}

/// `t` in microseconds since the Unix epoch (0 before it).
pub(crate) fn us_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn microseconds_since_the_epoch() {
        assert_eq!(
            us_since_epoch(UNIX_EPOCH + Duration::from_millis(1_500)),
            1_500_000
        );
        assert_eq!(us_since_epoch(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert!(now_us() > 1_700_000_000_000_000);
    }
}
