//! `Range`: the dashboard's time ranges (`1h`, `24h`, `7d`, `30d`), the width of one chart
//! bar in each and the labels of the time axis.

use crate::analysis::time::format_minute;

/// The chart's time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    Hour,
    Day,
    Week,
    Month,
}

impl Range {
    pub(crate) const ALL: [Range; 4] = [Range::Hour, Range::Day, Range::Week, Range::Month];

    /// `1h`, `24h`, `7d`, `30d`; anything else is `None`.
    pub(crate) fn parse(value: &str) -> Option<Range> {
        Range::ALL.into_iter().find(|r| r.name() == value)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Range::Hour => "1h",
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    pub(crate) fn span_us(self) -> u64 {
        const H: u64 = 3_600_000_000;
        match self {
            Range::Hour => H,
            Range::Day => 24 * H,
            Range::Week => 7 * 24 * H,
            Range::Month => 30 * 24 * H,
        }
    }

    /// One bar of the chart: 5 min, 1 h, 6 h, 1 day.
    pub(crate) fn bucket_us(self) -> u64 {
        const MIN: u64 = 60_000_000;
        match self {
            Range::Hour => 5 * MIN,
            Range::Day => 60 * MIN,
            Range::Week => 6 * 60 * MIN,
            Range::Month => 24 * 60 * MIN,
        }
    }

    /// One bar of the chart in words.
    pub(crate) fn bucket_text(self) -> &'static str {
        match self {
            Range::Hour => "5 minutes",
            Range::Day => "1 hour",
            Range::Week => "6 hours",
            Range::Month => "1 day",
        }
    }

    /// The start of the first bucket shown when it is `now_us`.
    pub(crate) fn since_us(self, now_us: u64) -> u64 {
        let first = now_us.saturating_sub(self.span_us()) / self.bucket_us() + 1;
        first * self.bucket_us()
    }

    /// An axis label of a bucket starting at `us` (UTC).
    pub(crate) fn label(self, us: u64) -> String {
        let t = format_minute(us);
        let part = |r: std::ops::Range<usize>| t.get(r).unwrap_or("");
        match self {
            Range::Hour | Range::Day => part(11..16).to_string(),
            Range::Week => format!("{} {}h", part(5..10), part(11..13)),
            Range::Month => part(5..10).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_buckets() {
        assert_eq!(Range::parse("24h"), Some(Range::Day));
        assert_eq!(Range::parse("30d"), Some(Range::Month));
        assert_eq!(Range::parse("2h"), None);
        let now = 1_764_245_400 * 1_000_000; // 2025-11-27 12:10 UTC
        for r in Range::ALL {
            let since = r.since_us(now);
            assert_eq!(since % r.bucket_us(), 0);
            assert!(now - since <= r.span_us(), "{r:?}");
            assert!(now - since >= r.span_us() - r.bucket_us(), "{r:?}");
        }
        assert_eq!(Range::Day.label(now), "12:10");
        assert_eq!(Range::Week.label(now), "11-27 12h");
        assert_eq!(Range::Month.label(now), "11-27");
    }
}
