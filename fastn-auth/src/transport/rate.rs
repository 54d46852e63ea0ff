//! Fastn's rate limit as its answers announce it (`X-RateLimit-Limit`, `-Remaining`,
//! `-Reset`: per key, documented), kept per client: with nothing remaining, the next request
//! waits for the reset when its deadline allows, else fails at once, nothing sent — instead
//! of spending a request on a 429. With a shared store, a spent limit is written there for
//! every replica on the same key, and each reads it at most once a second.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::store::SharedLevel;

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

/// A reset at `secs` (Unix seconds, as announced or shared) and the wait until it, when it
/// is believed: not more than [`MAX_RESET_WAIT`] away (a year, or a bad clock, is not).
fn believed(secs: u64) -> Option<(SystemTime, Duration)> {
    let reset = UNIX_EPOCH + Duration::from_secs(secs.min(u64::from(u32::MAX)));
    let wait = reset.duration_since(SystemTime::now()).unwrap_or_default();
    (wait <= MAX_RESET_WAIT).then_some((reset, wait))
}

/// How often a client reads the limit its replicas shared: a spent limit reaches the others
/// within this, without a store read per request.
pub(crate) const SHARED_READ_INTERVAL: Duration = Duration::from_secs(1);

/// What the client last saw, with the reset on the runtime's clock; and the store it shares
/// a spent limit through, when it has one.
#[derive(Debug, Default)]
pub(crate) struct RateState {
    seen: Mutex<Option<(RateLimit, Instant)>>,
    shared: Option<Shared>,
}

/// A spent limit to write to the shared store ([`RateState::observe`]).
#[derive(Debug)]
pub(crate) struct Publish {
    level: Arc<SharedLevel>,
    key: Arc<str>,
    value: String,
    ttl: Duration,
}

impl Publish {
    /// Writes it, under the store's timeout and breaker; a failure is counted, not raised.
    pub(crate) async fn run(self) {
        self.level.set(&self.key, self.value.as_bytes(), self.ttl).await;
    }
}

/// The shared store, the key of this client's limit in it, and when to read it next.
#[derive(Debug)]
struct Shared {
    level: Arc<SharedLevel>,
    key: Arc<str>,
    next_read: Mutex<Option<Instant>>,
}

impl RateState {
    /// Shares a spent limit with every client on `level` under `key`.
    pub(crate) fn share(&mut self, level: Arc<SharedLevel>, key: String) {
        self.shared = Some(Shared { level, key: key.into(), next_read: Mutex::new(None) });
    }

    /// Keeps what `headers` announce; an answer without them, or with values out of
    /// bounds, changes nothing. A spent limit, with a shared store, comes back as the write
    /// that tells the other replicas: the caller awaits it (under the store's timeout), so
    /// that the answer is handed out only once they can know.
    #[must_use = "a spent limit's write to the shared store must be awaited"]
    pub(crate) fn observe(&self, headers: &HeaderMap) -> Option<Publish> {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let (Some(remaining), Some(reset)) = (number("x-ratelimit-remaining"), number("x-ratelimit-reset"))
        else {
            return None;
        };
        let (reset, wait) = believed(reset)?;
        let seen = RateLimit { limit: number("x-ratelimit-limit"), remaining, reset };
        *self.lock() = Some((seen, Instant::now() + wait));
        let shared = self.shared.as_ref().filter(|_| remaining == 0 && !wait.is_zero())?;
        let value = reset.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs().to_string();
        Some(Publish { level: shared.level.clone(), key: shared.key.clone(), value, ttl: wait })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(RateLimit, Instant)>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long a request must wait before it is sent: `Ok(None)` at once, `Ok(Some(wait))`
    /// for a spent limit whose reset comes before `deadline`, `Err(wait)` when it does not.
    /// With a shared store, first learns what another replica shared (a read at most every
    /// [`SHARED_READ_INTERVAL`]).
    pub(crate) async fn before_send(&self, deadline: Option<Instant>) -> Result<Option<Duration>, Duration> {
        if let Some(shared) = &self.shared {
            self.read_shared(shared).await;
        }
        self.decide(deadline)
    }

    /// Takes a spent limit another replica shared, when it is time to look and this client
    /// knows of none; a value that is not a reset within [`MAX_RESET_WAIT`] is ignored.
    async fn read_shared(&self, shared: &Shared) {
        let now = Instant::now();
        {
            let mut next = shared.next_read.lock().unwrap_or_else(PoisonError::into_inner);
            let spent =
                self.lock().as_ref().is_some_and(|(limit, reset)| limit.remaining == 0 && *reset > now);
            if spent || next.is_some_and(|next| now < next) {
                return;
            }
            *next = Some(now + SHARED_READ_INTERVAL);
        }
        let Some(bytes) = shared.level.get_bytes(&shared.key).await else { return };
        let Some(reset) = std::str::from_utf8(&bytes).ok().and_then(|text| text.parse::<u64>().ok()) else {
            return;
        };
        let Some((reset, wait)) = believed(reset).filter(|(_, wait)| !wait.is_zero()) else { return };
        let mut seen = self.lock();
        let limit = seen.as_ref().and_then(|(limit, _)| limit.limit);
        *seen = Some((RateLimit { limit, remaining: 0, reset }, Instant::now() + wait));
    }

    fn decide(&self, deadline: Option<Instant>) -> Result<Option<Duration>, Duration> {
        let seen = self.lock();
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
        self.lock().map(|(limit, _)| limit)
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
        assert_eq!(state.before_send(None).await, Ok(None), "nothing seen");
        let _ = state.observe(&headers(5, 2));
        assert_eq!(state.before_send(None).await, Ok(None), "some remain");
        let _ = state.observe(&headers(0, 2));
        let far = Instant::now() + Duration::from_secs(10);
        assert!(
            state.before_send(Some(far)).await.unwrap().is_some_and(|wait| wait > Duration::from_secs(1))
        );
        let near = Instant::now() + Duration::from_millis(500);
        assert!(state.before_send(Some(near)).await.is_err(), "the reset is past the deadline");
        assert_eq!(state.last().map(|limit| (limit.limit, limit.remaining)), Some((Some(100), 0)));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(state.before_send(Some(near)).await, Ok(None), "the window started again");
        let _ = state.observe(&headers(0, 10 * 365 * 86_400));
        assert_eq!(state.last().map(|limit| limit.remaining), Some(0));
        let mut bad = headers(0, 2);
        bad.insert("x-ratelimit-remaining", HeaderValue::from_static("-1"));
        let _ = state.observe(&bad);
        assert_eq!(state.before_send(Some(near)).await, Ok(None), "a year away, or negative: not believed");
    }
}
