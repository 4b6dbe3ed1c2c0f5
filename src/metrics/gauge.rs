//! Counts turned into gauge values: a gauge holds an `i64`, a count is a `usize`.

/// `n` as a gauge value, `i64::MAX` when it does not fit.
pub(super) fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
