//! Fastn's rate limit as its answers announce it (`X-RateLimit-Limit`, `-Remaining`,
//! `-Reset`: per key, documented), kept per client: with nothing remaining, the next request
//! waits for the reset when its deadline allows, else fails at once, nothing sent — instead
//! of spending a request on a 429.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The furthest reset believed: an answer announcing one later (a year, a bad clock) is not
/// waited for.
pub const MAX_RESET_WAIT: Duration = Duration::from_secs(3600);

/// The rate limit Fastn last announced to a client ([`crate::FastnAuth::rate_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests allowed in the window (`X-RateLimit-Limit`), when announced.
    pub limit: Option<u64>,
    /// Requests left in it (`X-RateLimit-Remaining`).
    pub remaining: u64,
    /// When the window starts again (`X-RateLimit-Reset`).
    pub reset: SystemTime,
}

/// What the client last saw, with the reset on the runtime's clock.
#[derive(Debug, Default)]
pub(crate) struct RateState(Mutex<Option<(RateLimit, Instant)>>);

impl RateState {
    /// Keeps what `headers` announce; an answer without them, or with values out of
    /// bounds, changes nothing.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let (Some(remaining), Some(reset)) = (number("x-ratelimit-remaining"), number("x-ratelimit-reset"))
        else {
            return;
        };
        let reset = UNIX_EPOCH + Duration::from_secs(reset.min(u64::from(u32::MAX)));
        let wait = reset.duration_since(SystemTime::now()).unwrap_or_default();
        if wait > MAX_RESET_WAIT {
            return;
        }
        let seen = RateLimit { limit: number("x-ratelimit-limit"), remaining, reset };
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((seen, Instant::now() + wait));
    }

    /// How long a request must wait before it is sent: `Ok(None)` at once, `Ok(Some(wait))`
    /// for a spent limit whose reset comes before `deadline`, `Err(wait)` when it does not.
    pub(crate) fn before_send(&self, deadline: Option<Instant>) -> Result<Option<Duration>, Duration> {
        let seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((_, reset)) = seen.as_ref().filter(|(limit, _)| limit.remaining == 0) else {
            return Ok(None);
        };
        let now = Instant::now();
        if *reset <= now {
            return Ok(None);
        }
        let wait = *reset - now;
        match deadline {
            Some(deadline) if *reset >= deadline => Err(wait),
            _ => Ok(Some(wait)),
        }
    }

    /// What was last announced.
    pub(crate) fn last(&self) -> Option<RateLimit> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).map(|(limit, _)| limit)
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(remaining: u64, reset_in_secs: u64) -> HeaderMap {
        let reset = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + reset_in_secs;
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from(100));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
        headers
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_limit_waits_within_the_deadline_and_hostile_resets_are_ignored() {
        let state = RateState::default();
        assert_eq!(state.before_send(None), Ok(None), "nothing seen");
        state.observe(&headers(5, 2));
        assert_eq!(state.before_send(None), Ok(None), "some remain");
        state.observe(&headers(0, 2));
        let far = Instant::now() + Duration::from_secs(10);
        assert!(state.before_send(Some(far)).unwrap().is_some_and(|wait| wait > Duration::from_secs(1)));
        let near = Instant::now() + Duration::from_millis(500);
        assert!(state.before_send(Some(near)).is_err(), "the reset is past the deadline");
        assert_eq!(state.last().map(|limit| (limit.limit, limit.remaining)), Some((Some(100), 0)));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(state.before_send(Some(near)), Ok(None), "the window started again");
        state.observe(&headers(0, 10 * 365 * 86_400));
        assert_eq!(state.last().map(|limit| limit.remaining), Some(0));
        let mut bad = headers(0, 2);
        bad.insert("x-ratelimit-remaining", HeaderValue::from_static("-1"));
        state.observe(&bad);
        assert_eq!(state.before_send(Some(near)), Ok(None), "a year away, or negative: not believed");
    }
}
