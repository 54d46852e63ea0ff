//! The shared level: store keys, and a fetch through another replica's answer or under the
//! connection's lease, so that one replica fetches at a time.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::Cache;
use crate::credentials::Credentials;
use crate::error::Result;
use crate::store::{self, LockAttempt, SharedLevel, Stored};
use crate::target::Key;

/// How often a replica waiting for another's fetch looks for its answer (plus jitter).
pub(super) const LEASE_POLL: Duration = Duration::from_millis(50);

impl Cache {
    /// The shared-store key of `target`: every part percent-encoded, so no id can pass
    /// for another's, and an absent tenant or connection is `!`, which no encoded id is
    /// (not even an empty one, which the calls refuse before they get here anyway).
    pub(super) fn store_key(&self, target: Key<'_>) -> String {
        let optional = |id: Option<&str>| id.map_or_else(|| "!".to_owned(), |id| format!("={}", encode(id)));
        format!(
            "{}/{}/{}/{}/{}",
            self.scope,
            encode(target.org_id),
            encode(target.connector_id),
            optional(target.tenant_id),
            optional(target.connection_id)
        )
    }

    /// The credentials from the shared store when it has an acceptable answer, else from
    /// `fetch`, under the connection's lease so that one replica fetches at a time. With
    /// no store, or the store unavailable, straight from `fetch`.
    ///
    /// A lease another replica holds is waited on for at most the lease time and at most
    /// half of what is left of the caller's `deadline`: then the caller fetches without it
    /// and writes its answer back, so a stuck or hostile lock (one with no expiry, say)
    /// costs a wait, never a failed call nor a cold store.
    pub(super) async fn fetch_shared<F>(
        &self,
        target: Key<'_>,
        newer_than: Option<SystemTime>,
        deadline: Option<Instant>,
        fetch: impl FnOnce() -> F,
    ) -> Result<(Credentials<Map<String, Value>>, SystemTime)>
    where
        F: std::future::Future<Output = Result<Credentials<Map<String, Value>>>>,
    {
        let Some(shared) = &self.shared else { return fetch().await.map(|c| (c, SystemTime::now())) };
        let key = self.store_key(target);
        let from_store = |stored: Option<Stored>| {
            // Never older than what this process has seen: no rollback by a stale value.
            let stored = stored.filter(|stored| newer_than.is_none_or(|seen| stored.fetched_at > seen))?;
            if stored.credentials.is_expired() {
                return None;
            }
            shared.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some((stored.credentials, stored.fetched_at))
        };
        if let Some(answer) = from_store(shared.get(&key).await) {
            return Ok(answer);
        }
        let now = Instant::now();
        let lease_end = now.checked_add(self.options.lease);
        let half_deadline = deadline.map(|at| now + at.saturating_duration_since(now) / 2);
        // `None`: neither the lease (`Duration::MAX`) nor a deadline bounds the wait.
        let stop_waiting = match (lease_end, half_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        loop {
            match shared.try_lock(&key, self.options.lease).await {
                LockAttempt::Held(token) => {
                    // Another replica may have written between the look and the lock.
                    if let Some(answer) = from_store(shared.get(&key).await) {
                        shared.unlock(&key, token).await;
                        return Ok(answer);
                    }
                    let outcome = self.fetch_and_share(shared, &key, fetch()).await;
                    shared.unlock(&key, token).await;
                    return outcome;
                }
                // The store is down: Fastn directly, never an error for the caller.
                LockAttempt::Unavailable => return fetch().await.map(|c| (c, SystemTime::now())),
                // The holder did not answer in time: fetch without the lease.
                LockAttempt::Taken if stop_waiting.is_some_and(|at| Instant::now() >= at) => {
                    tracing::debug!(
                        connector = %target.connector_id,
                        "another holder of the lease did not answer in time; fetching without it"
                    );
                    return self.fetch_and_share(shared, &key, fetch()).await;
                }
                LockAttempt::Taken => {
                    let pause = LEASE_POLL + crate::jitter::jitter(LEASE_POLL);
                    let wake =
                        stop_waiting.map_or(Instant::now() + pause, |at| at.min(Instant::now() + pause));
                    tokio::time::sleep_until(wake).await;
                    if let Some(answer) = from_store(shared.get(&key).await) {
                        return Ok(answer);
                    }
                }
            }
        }
    }

    /// Fetches from Fastn and, when it answered, shares the answer.
    pub(super) async fn fetch_and_share(
        &self,
        shared: &SharedLevel,
        key: &str,
        fetch: impl std::future::Future<Output = Result<Credentials<Map<String, Value>>>>,
    ) -> Result<(Credentials<Map<String, Value>>, SystemTime)> {
        let outcome = fetch.await;
        let fetched_at = SystemTime::now();
        if let Ok(credentials) = &outcome {
            shared.set(key, &store::encode(credentials, fetched_at), self.store_ttl(credentials)).await;
        }
        outcome.map(|credentials| (credentials, fetched_at))
    }

    /// How long the store keeps `credentials`: until the token expires.
    pub(super) fn store_ttl(&self, credentials: &Credentials<Map<String, Value>>) -> Duration {
        match credentials.expires_at() {
            Some(at) => at.duration_since(SystemTime::now()).unwrap_or_default(),
            None => self.options.ttl_without_expiry,
        }
    }
}

/// `text` percent-encoded for a store key: only unreserved characters stay as they are.
pub(super) fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
