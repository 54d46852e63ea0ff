//! A rate limit per key, as Fastn documents it: every answer announces it
//! (`X-RateLimit-Limit`, `-Remaining`, `-Reset` as a Unix time), and a request past it is
//! `429` with the documented envelope (`RATE_LIMITED`, `retryAfter`) and `Retry-After`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::time::Instant;

/// A fixed window of `limit` requests per key.
#[derive(Debug)]
pub(crate) struct RateLimit {
    limit: u64,
    window: Duration,
    /// Per key: when its window started, and the requests in it.
    used: Mutex<HashMap<String, (Instant, u64)>>,
}

/// What one request may do: go on (with the headers to announce), or be refused.
pub(crate) enum Admit {
    Go(HeaderMap),
    Refused(Response),
}

impl RateLimit {
    pub(crate) fn new(limit: u64, window: Duration) -> Self {
        RateLimit { limit, window: window.max(Duration::from_secs(1)), used: Mutex::new(HashMap::new()) }
    }

    /// Counts a request of `key`.
    pub(crate) fn admit(&self, key: &str) -> Admit {
        let now = Instant::now();
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        let (started, count) = used.entry(key.to_owned()).or_insert((now, 0));
        if now >= *started + self.window {
            (*started, *count) = (now, 0);
        }
        let reset_in = (*started + self.window).saturating_duration_since(now);
        // Whole seconds, rounded up: a client waiting until then finds the window new.
        let reset = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + reset_in;
        let reset = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
        let over = *count >= self.limit;
        if !over {
            *count += 1;
        }
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.limit - *count));
        headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
        if !over {
            return Admit::Go(headers);
        }
        let secs = reset_in.as_secs() + u64::from(reset_in.subsec_nanos() > 0);
        let mut response = crate::json::coded_with(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "the key's rate limit is spent",
            Some(secs),
        );
        headers.insert("retry-after", HeaderValue::from(secs));
        response.headers_mut().extend(headers);
        Admit::Refused(response)
    }
}
