//! Random spread for timers, so that clients, keys and replicas do not act in step: retry
//! backoff, poll intervals, refresh points, lease polls.

use std::time::Duration;

/// A random duration in `0..=range`, for any `range` up to `Duration::MAX`.
pub(crate) fn jitter(range: Duration) -> Duration {
    let nanos = fastrand::u128(0..=range.as_nanos());
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range_at_the_extremes() {
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        assert!(jitter(Duration::MAX) <= Duration::MAX);
        assert!((0..100).all(|_| jitter(Duration::from_millis(10)) <= Duration::from_millis(10)));
    }
}
