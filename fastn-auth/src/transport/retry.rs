//! When a failed request is sent again: backoff, `Retry-After`, and the one timer of an
//! attempt within its call's deadline. Fastn calls, status polls and provider calls all
//! take their pauses from here.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use crate::jitter::jitter;

/// The longest wait before a retry; a server asking for longer (`Retry-After`) ends the
/// call with its error instead of blocking the caller.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// The shortest wait before a retry, whatever `Retry-After` says (`0` included).
pub const MIN_RETRY_DELAY: Duration = Duration::from_millis(100);

/// How failed requests are retried: the same rules for a call's retries and for the pauses
/// between failed status polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries of one call after its first attempt.
    pub(crate) max_retries: u32,
}

impl RetryPolicy {
    /// The pause before retry `attempt + 1`: exponential backoff from 200 ms doubling to
    /// 5 s, each drawn from the upper half of its step so clients do not retry in step, and
    /// never less than [`MIN_RETRY_DELAY`] nor than the server's `Retry-After`. `None` when
    /// the server asked for more than [`MAX_RETRY_DELAY`].
    pub(crate) fn delay(attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let step = Duration::from_millis(200).saturating_mul(1 << attempt.min(5)).min(Duration::from_secs(5));
        let backoff = step / 2 + jitter(step / 2);
        let delay = backoff.max(retry_after.unwrap_or_default()).max(MIN_RETRY_DELAY);
        (delay <= MAX_RETRY_DELAY).then_some(delay)
    }

    /// The pause before retry `attempt + 1` ([`delay`](Self::delay)), or `None` when it is
    /// too long or would not end before `deadline`: then the caller returns what it has.
    pub(crate) fn pause(
        attempt: u32,
        retry_after: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Option<Duration> {
        let delay = Self::delay(attempt, retry_after)?;
        deadline.is_none_or(|at| Instant::now() + delay < at).then_some(delay)
    }
}

/// When an attempt of `timeout` started now must end, with the call's `deadline`: one
/// timer for whichever comes first, and whether it is the call's (so the caller reports
/// the call's deadline, not the attempt's timeout). `None`: neither can be reached.
pub(crate) fn attempt_end(timeout: Duration, deadline: Option<Instant>) -> (Option<Instant>, bool) {
    match (Instant::now().checked_add(timeout), deadline) {
        (Some(own), Some(call)) => (Some(own.min(call)), call <= own),
        (own, call) => (own.or(call), call.is_some()),
    }
}

/// `Retry-After` in seconds or as an HTTP date (zero when the date has passed).
pub(crate) fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    match text.parse::<u64>() {
        Ok(seconds) => Some(Duration::from_secs(seconds)),
        Err(_) => {
            let at = httpdate::parse_http_date(text).ok()?;
            Some(at.duration_since(SystemTime::now()).unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_have_a_floor_a_cap_and_grow() {
        for _ in 0..100 {
            let first = RetryPolicy::delay(0, None).unwrap();
            assert!(first >= MIN_RETRY_DELAY && first <= Duration::from_millis(200), "{first:?}");
            assert!(RetryPolicy::delay(0, Some(Duration::ZERO)).unwrap() >= MIN_RETRY_DELAY);
            let late = RetryPolicy::delay(30, None).unwrap();
            assert!(late >= Duration::from_millis(2500) && late <= Duration::from_secs(5), "{late:?}");
        }
        assert_eq!(RetryPolicy::delay(0, Some(Duration::from_secs(7))), Some(Duration::from_secs(7)));
        assert_eq!(RetryPolicy::delay(0, Some(MAX_RETRY_DELAY + Duration::from_secs(1))), None);
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(&HeaderValue::from_static("7")), Some(Duration::from_secs(7)));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
        let left = parse_retry_after(&HeaderValue::from_str(&soon).unwrap()).unwrap();
        assert!(left > Duration::from_secs(18) && left <= Duration::from_secs(20), "{left:?}");
        let past = HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("soon")), None);
    }
}
