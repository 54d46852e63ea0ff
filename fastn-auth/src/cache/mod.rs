//! The credentials cache: one upstream fetch per connection per token lifetime, refreshed
//! ahead of expiry, coalesced, surviving outages.
//!
//! One slot per connection ([`Target`]) in one map behind one lock, held only to read or
//! change a slot, never across an `.await`. A slot holds the last good answer, at most one
//! fetch in flight (its leader fetches; the other callers wait on a channel), and a briefly
//! cached "not connected". Times are tokio [`Instant`]s, so tests run on paused time.
//!
//! No task is spawned: a refresh ahead of expiry is made by the first caller that finds the
//! token inside its refresh window, while every other caller is served the still-valid
//! token. A spawned refresher would outlive the caller's cancellation and runtime, and hide
//! its failures; the inline one is bounded by the caller's own deadline.
//!
//! Here, the coordinator (look, lead or wait, finish) and the 401 back-off's entry points;
//! `options` (settings and counters), `slot` (the pure state machine: what a caller does,
//! eviction, lifetimes, and a cached answer's typed copies), `shared` (the store level:
//! keys, the lease protocol), `tests`.

mod options;
mod shared;
mod slot;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::credentials::{Credentials, Extra};
use crate::error::Result;
use crate::store::{self, Credential, SharedLevel};
use crate::target::{Key, Target};
use crate::telemetry;
pub use options::{CacheOptions, CacheStats};
use shared::encode;
pub(crate) use slot::Freshness;
use slot::view;
use slot::{
    Cached, Call, FetchResult, Ids, RETRY_REFRESH, Rejected, Slot, State, Step, far_future, lifetime,
};
pub use slot::{MAX_UNAUTHORIZED_BACKOFF, UNAUTHORIZED_BACKOFF};

/// The cache of one client and its clones.
pub(crate) struct Cache {
    options: CacheOptions,
    state: Mutex<State>,
    shared: Option<Arc<SharedLevel>>,
    /// What the client's answers depend on besides the connection — its base URL, space
    /// and credential — encoded: the start of every shared-store key.
    scope: String,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts and settings only: no key, no token.
        f.debug_struct("Cache").field("options", &self.options).field("stats", &self.stats()).finish()
    }
}

impl Cache {
    /// A cache for the client of `base_url`, `space` and `credential` (its API key or
    /// token, kept only as a keyed hash in store keys).
    pub(crate) fn new(
        options: CacheOptions,
        base_url: &url::Url,
        space: &str,
        credential: Credential<'_>,
    ) -> Self {
        let state =
            State { slots: hashbrown::HashMap::default(), stats: CacheStats::default(), ids: Ids::default() };
        let identity =
            options.store.as_ref().map(|store| store::credential_id(store.identity_key(), credential));
        let shared =
            options.store.clone().map(|store| Arc::new(SharedLevel::new(store, options.store_timeout)));
        // The URL as parsed: scheme, host, port (unless the scheme's default) and path, so
        // `https://h/api` and `https://h:443/api/` are one deployment, `/other/api` another.
        let base = base_url.as_str().trim_end_matches('/');
        Cache {
            options,
            state: Mutex::new(state),
            shared,
            scope: format!("v2/{}/{}/{}", encode(base), encode(space), identity.unwrap_or_default()),
        }
    }

    /// The shared store, when there is one, and the start of every key of this client in
    /// it (bound to the base URL, space and credential): for what else the client shares
    /// there, its rate limit and its connections' health.
    pub(crate) fn shared_level(&self) -> Option<(Arc<SharedLevel>, &str)> {
        self.shared.as_ref().map(|shared| (shared.clone(), self.scope.as_str()))
    }

    /// The shared-store key of `key`'s health state.
    pub(crate) fn health_key(&self, key: Key<'_>) -> String {
        format!("{}/health", self.store_key(key))
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let (store_hits, store_errors) = self.shared.as_ref().map_or((0, 0), |shared| {
            (
                shared.hits.load(std::sync::atomic::Ordering::Relaxed),
                shared.errors.load(std::sync::atomic::Ordering::Relaxed),
            )
        });
        let state = self.lock();
        CacheStats { entries: state.slots.len() as u64, store_hits, store_errors, ..state.stats }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep serving.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The answer of a call the cache settles at once (a hit, a remembered not-found),
    /// without a timer, a fetch or a wait; `None` when [`get`](Self::get) must run.
    pub(crate) fn settled<E: Extra>(
        &self,
        key: Key<'_>,
        freshness: Freshness,
    ) -> Option<Result<(Credentials<E>, u64)>> {
        match self.lock().settled::<E>(Call { key, freshness })? {
            Step::Serve(credentials, generation) => Some(Ok((credentials, generation))),
            Step::Fail(err) => Some(Err(err)),
            Step::Lead { .. } | Step::Wait(_) => None,
        }
    }

    /// The credentials of `key`, from the cache or from `fetch`, by the rules of the
    /// module docs. The caller bounds the whole call with its deadline; dropping this
    /// future while it fetches lets a waiting caller fetch instead.
    ///
    /// With the credentials comes their generation: a number that grows with every answer
    /// the cache takes, for [`Freshness::NewerThan`].
    pub(crate) async fn get<E: Extra, F>(
        &self,
        key: Key<'_>,
        freshness: Freshness,
        deadline: Option<Instant>,
        fetch: impl FnOnce() -> F,
    ) -> Result<(Credentials<E>, u64)>
    where
        F: std::future::Future<Output = Result<Credentials<Map<String, Value>>>>,
    {
        // What this caller has seen: with `Newer`, only an answer after it will do.
        let mut seen = None;
        let started = SystemTime::now();
        let (fetch_id, tx, ahead, fetched_before) = loop {
            // The guard must be gone before any `.await` below.
            let step = self.lock().step::<E>(&self.options, Call { key, freshness }, &mut seen);
            match step {
                Step::Serve(credentials, generation) => return Ok((credentials, generation)),
                Step::Fail(err) => return Err(err),
                Step::Lead { fetch_id, tx, ahead, fetched_before } => {
                    break (fetch_id, tx, ahead, fetched_before);
                }
                Step::Wait(mut rx) => {
                    let outcome = rx.wait_for(Option::is_some).await.map(|outcome| outcome.clone());
                    if let Ok(Some(Err(err))) = outcome
                        && !self.serves_valid(key, freshness)
                    {
                        return Err(err.for_waiter());
                    }
                    // The leader stored its answer, or failed while a valid token remains,
                    // or was cancelled: look again (and perhaps lead).
                }
            }
        };
        // Another replica's answer will do only if newer than what this one holds, or,
        // for `Newer`, than this call.
        let newer_than = match freshness {
            Freshness::Newer => Some(fetched_before.map_or(started, |at| at.max(started))),
            Freshness::Any | Freshness::NewerThan(_) => fetched_before,
        };
        let mut guard = InflightGuard { cache: self, key, fetch_id, armed: true };
        let outcome = self.fetch_shared(key, newer_than, deadline, fetch).await;
        guard.armed = false;
        self.finish::<E>(key, fetch_id, tx, outcome, ahead)
    }

    /// Whether a provider `401` to the token of `generation` is to be returned as it is,
    /// without a refresh: that token was rejected after a refresh, less than its back-off
    /// ago. Counted in the stats when so.
    pub(crate) fn unauthorized_is_final(&self, target: &Target, generation: u64) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let held = state.slots.get(target).and_then(|slot| slot.rejected);
        let fresh = held.is_some_and(|rejected| rejected.generation >= generation && now < rejected.until);
        if fresh {
            state.stats.unauthorized_returned += 1;
            telemetry::unauthorized_returned();
        }
        fresh
    }

    /// Records that the provider rejected the token of `generation`, which came from a
    /// refresh: its `401`s are final for [`UNAUTHORIZED_BACKOFF`], doubled for each
    /// rejection that follows the end of the last back-off within its length again.
    pub(crate) fn reject(&self, target: &Target, generation: u64) {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(slot) = state.slots.get_mut(target) else { return };
        let step = match slot.rejected {
            // Already backing off for this token (another caller saw the same 401).
            Some(held) if held.generation >= generation && now < held.until => return,
            Some(held) if now < held.until + held.step => (held.step * 2).min(MAX_UNAUTHORIZED_BACKOFF),
            _ => UNAUTHORIZED_BACKOFF,
        };
        let until = now.checked_add(step).unwrap_or_else(far_future);
        slot.rejected = Some(Rejected { generation, until, step });
        tracing::warn!(
            connector = %target.connector_id,
            backoff = ?step,
            "the provider rejected a refreshed token; its 401s are returned without refreshing for a while"
        );
    }

    /// Drops the cached answer of `key`: its token no longer works (the connection broke or
    /// went), or a reconnect made it stale.
    pub(crate) fn forget(&self, key: Key<'_>) {
        if let Some(slot) = self.lock().slots.get_mut(&key) {
            slot.cached = None;
        }
    }

    /// Forgets a remembered "not connected" of `target`: a flow just made the connection.
    pub(crate) fn connected(&self, target: &Target) {
        let mut state = self.lock();
        if let Some(slot) = state.slots.get_mut(target) {
            slot.not_found = None;
        }
    }

    /// Whether a still-valid answer can be served to a caller of `freshness`.
    fn serves_valid(&self, key: Key<'_>, freshness: Freshness) -> bool {
        let state = self.lock();
        let cached = state.slots.get(&key).and_then(|slot| slot.cached.as_ref());
        !freshness.wants_newer() && cached.is_some_and(|cached| Instant::now() < cached.valid_until)
    }

    /// Stores the leader's outcome, wakes the waiters and answers the leader.
    fn finish<E: Extra>(
        &self,
        key: Key<'_>,
        fetch_id: u64,
        tx: watch::Sender<FetchResult>,
        outcome: Result<(Credentials<Map<String, Value>>, SystemTime)>,
        ahead: bool,
    ) -> Result<(Credentials<E>, u64)> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let generation = state.ids.next();
        let slot = state.slots.entry(key.to_target()).or_insert_with(|| Slot::new(now));
        if slot.inflight.as_ref().is_some_and(|(id, _)| *id == fetch_id) {
            slot.inflight = None;
        }
        let (answer, outcome) = match outcome {
            Ok((raw, fetched_at)) => {
                let (refresh_at, valid_until) = lifetime(&self.options, &raw, now);
                slot.high_water = slot.high_water.max(Some(fetched_at));
                slot.cached = Some(Cached { raw, views: Vec::new(), generation, refresh_at, valid_until });
                slot.not_found = None;
                (view::<E>(slot, key.connector_id).map(|view| (view, generation)), Ok(()))
            }
            Err(err) if err.is_not_found() && !self.options.not_found_ttl.is_zero() => {
                // The connection is gone: its token is no longer wanted either.
                slot.cached = None;
                let err = Arc::new(err);
                let until = now.checked_add(self.options.not_found_ttl).unwrap_or_else(far_future);
                slot.not_found = Some((until, err.clone()));
                (Err(err.for_waiter()), Err(err))
            }
            Err(err) => match slot.cached.as_mut().filter(|cached| ahead && now < cached.valid_until) {
                Some(cached) => {
                    // Try again soon, but not on every call.
                    cached.refresh_at = now + RETRY_REFRESH.min((cached.valid_until - now) / 2);
                    state.stats.stale_served_on_error += 1;
                    telemetry::refresh_failure();
                    tracing::warn!(
                        connector = %key.connector_id,
                        error = %err,
                        "refreshing credentials failed; serving the still-valid token"
                    );
                    let generation = cached.generation;
                    (view::<E>(slot, key.connector_id).map(|view| (view, generation)), Err(Arc::new(err)))
                }
                None => (Err(err.for_waiter()), Err(Arc::new(err))),
            },
        };
        drop(guard);
        let _ = tx.send(Some(outcome));
        answer
    }
}

/// Clears the slot's fetch if its leader is dropped (cancelled) before finishing, so that a
/// waiter takes over instead of waiting forever.
struct InflightGuard<'a> {
    cache: &'a Cache,
    key: Key<'a>,
    fetch_id: u64,
    armed: bool,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.cache.lock();
        if let Some(slot) = state.slots.get_mut(&self.key)
            && slot.inflight.as_ref().is_some_and(|(id, _)| *id == self.fetch_id)
        {
            // Dropping the receiver here and the leader's sender closes the channel: the
            // waiters wake and look again.
            slot.inflight = None;
        }
    }
}
