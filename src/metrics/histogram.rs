//! The duration histograms every area shares: their buckets ([`DURATION_BUCKETS`]), the
//! family type of a labelled one and its constructor.

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// Upper bounds of the duration histograms, in seconds: 1 µs to 5 s in 1-2.5-5 steps.
pub const DURATION_BUCKETS: [f64; 21] = [
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
];

/// A family of duration histograms, one per label set, each built by
/// [`duration_histogram`].
pub(super) type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// A fresh histogram with the [`DURATION_BUCKETS`].
pub(super) fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_rise() {
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(DURATION_BUCKETS.first(), Some(&0.000_001));
        assert_eq!(DURATION_BUCKETS.last(), Some(&5.0));
    }
}
