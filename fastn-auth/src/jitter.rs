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
        assert!((0..100).all(|_| jitter(Duration::from_millis(10)) <= Duration::from_millis(10)));
        // At `Duration::MAX` the nanoseconds become whole seconds and a sub-second part
        // again: the draw must land in the whole range, not in its first seconds only (a
        // lost conversion would give values near zero) and never wrap.
        let draws: Vec<Duration> = (0..64).map(|_| jitter(Duration::MAX)).collect();
        assert!(draws.iter().all(|draw| draw.subsec_nanos() < 1_000_000_000));
        assert!(draws.iter().any(|draw| draw.as_secs() > u64::MAX / 4), "{draws:?}");
        assert!(draws.iter().any(|draw| draw.as_secs() < u64::MAX / 4 * 3), "{draws:?}");
    }

    #[test]
    fn jitter_spreads_over_its_range() {
        let range = Duration::from_millis(100);
        let draws: Vec<Duration> = (0..1000).map(|_| jitter(range)).collect();
        // 1,000 draws all in one half of the range has odds of 2^-999.
        assert!(draws.iter().any(|draw| *draw < range / 2) && draws.iter().any(|draw| *draw > range / 2));
    }
}
