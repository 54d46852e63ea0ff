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

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::credentials::{Credentials, Extra};
use crate::error::{Error, Result};
use crate::store::{self, CacheStore, Credential, Lease, SharedLevel, Stored};
use crate::target::Target;
use crate::telemetry;
use crate::wire::Endpoint;

/// How the credentials cache behaves; turn it on with
/// [`FastnAuthBuilder::cache`](crate::FastnAuthBuilder::cache).
///
/// ```
/// use std::time::Duration;
/// let options = fastn_auth::CacheOptions::default()
///     .max_entries(50_000)
///     .refresh_margin(Duration::from_secs(120));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct CacheOptions {
    max_entries: usize,
    ttl_without_expiry: Duration,
    refresh_margin: Duration,
    not_found_ttl: Duration,
    store: Option<Arc<dyn CacheStore>>,
    store_timeout: Duration,
    lease: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: 10_000,
            ttl_without_expiry: Duration::from_secs(300),
            refresh_margin: Duration::from_secs(300),
            not_found_ttl: Duration::from_secs(5),
            store: None,
            store_timeout: Duration::from_millis(250),
            lease: Duration::from_secs(10),
        }
    }
}

impl CacheOptions {
    /// The most connections kept (default 10,000); past it the least recently used are
    /// evicted. At least 1.
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries;
        self
    }

    /// How long credentials whose answer says no expiry are kept (default 5 minutes).
    pub fn ttl_without_expiry(mut self, ttl: Duration) -> Self {
        self.ttl_without_expiry = ttl;
        self
    }

    /// How long before expiry a token is refreshed (default 5 minutes; at most half the
    /// token's lifetime). Each refresh point is drawn in the last 20 % of this margin's
    /// start, so keys and replicas do not refresh in step.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long "this connection does not exist" (a 404) is remembered (default 5 s; zero:
    /// never), so that "is this tenant connected?" loops do not hammer Fastn. Transient
    /// errors are never remembered.
    pub fn not_found_ttl(mut self, ttl: Duration) -> Self {
        self.not_found_ttl = ttl;
        self
    }

    /// Shares the cache across replicas through `store` (a `RedisStore` with feature `redis`,
    /// or any [`CacheStore`]). The in-process cache stays in front: a hit there never
    /// touches the store. A miss looks in the store before asking Fastn, and the one
    /// replica holding a connection's lease fetches while the others wait for its answer.
    pub fn store(mut self, store: impl CacheStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The longest one store operation may take before the cache goes to Fastn instead
    /// (default 250 ms). After a failure the store is skipped for a second.
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// How long a replica holds a connection's lease while it fetches (default 10 s): the
    /// others wait that long at most for its answer, and a replica that dies holding it
    /// loses it when it runs out.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.max_entries == 0 {
            return Err(Error::config("CacheOptions::max_entries must be at least 1"));
        }
        if self.store.is_some() && (self.store_timeout.is_zero() || self.lease.is_zero()) {
            return Err(Error::config("CacheOptions::store_timeout and lease must be greater than zero"));
        }
        Ok(())
    }
}

/// What the cache has done so far; see [`FastnAuth::cache_stats`](crate::FastnAuth::cache_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Calls answered from the cache, without waiting on Fastn.
    pub hits: u64,
    /// Provider `401`s returned as they are, without asking Fastn: the connection's token
    /// was refreshed and rejected again (or came back the same) within the back-off
    /// ([`UNAUTHORIZED_BACKOFF`](crate::limits::UNAUTHORIZED_BACKOFF)).
    pub unauthorized_returned: u64,
    /// Calls that fetched from Fastn themselves: a cold or expired key, or `.fresh()`.
    pub misses: u64,
    /// Calls that waited for another caller's fetch instead of making their own.
    pub coalesced: u64,
    /// Fetches made because a token entered its refresh window (others were served meanwhile).
    pub refreshes_ahead: u64,
    /// Refreshes that failed while the token was still valid, which was served instead.
    pub stale_served_on_error: u64,
    /// "Not connected" answers served from the cache.
    pub not_found_hits: u64,
    /// Connections dropped to stay within `max_entries`.
    pub evictions: u64,
    /// Connections held now.
    pub entries: u64,
    /// Misses answered by the shared store (another replica's fetch), without Fastn.
    pub store_hits: u64,
    /// Shared-store operations that failed or timed out (each then went to Fastn).
    pub store_errors: u64,
}

/// How often a replica waiting for another's fetch looks for its answer (plus jitter).
const LEASE_POLL: Duration = Duration::from_millis(50);

/// How long after a failed refresh, with the token still valid, the next one is tried.
const RETRY_REFRESH: Duration = Duration::from_secs(5);

/// How long a connection whose refreshed token the provider rejected again gets its `401`s
/// back as they are, without a refresh: 30 s, doubling while it keeps being rejected, up
/// to [`MAX_UNAUTHORIZED_BACKOFF`]. A provider that always answers `401` (the app was
/// revoked at the provider) then costs Fastn a request per back-off, not one per call.
pub const UNAUTHORIZED_BACKOFF: Duration = Duration::from_secs(30);
/// The longest [`UNAUTHORIZED_BACKOFF`] grows to.
pub const MAX_UNAUTHORIZED_BACKOFF: Duration = Duration::from_secs(600);

/// A token the provider rejected even after a refresh: no refresh for it until `until`.
#[derive(Debug, Clone, Copy)]
struct Rejected {
    generation: u64,
    until: Instant,
    step: Duration,
}

/// How fresh a caller needs the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Whatever is valid.
    Any,
    /// From a fetch newer than what the cache holds when the call starts.
    Newer,
    /// From a fetch newer than the answer of this generation (a token the third party just
    /// rejected): what the cache holds already will do if it came after, and a "not
    /// connected" is served as it is.
    NewerThan(u64),
}

impl Freshness {
    fn wants_newer(self) -> bool {
        self != Freshness::Any
    }
}

/// The last good answer of a connection.
struct Cached {
    raw: Credentials<Map<String, Value>>,
    /// Typed copies, one per `Extra` type asked for, made once per answer.
    views: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    generation: u64,
    refresh_at: Instant,
    valid_until: Instant,
}

/// A fetch in flight: its outcome, once known, is `Some`.
type Outcome = Option<std::result::Result<(), Arc<Error>>>;

struct Slot {
    cached: Option<Cached>,
    /// The newest fetch time of any answer this slot has held: the shared store is never
    /// accepted below it, even after the answer itself is dropped (a 404, expiry).
    high_water: Option<SystemTime>,
    inflight: Option<(u64, watch::Receiver<Outcome>)>,
    not_found: Option<(Instant, Arc<Error>)>,
    rejected: Option<Rejected>,
    last_used: Instant,
}

/// Everything behind the lock. The counters live here too: the lock is held anyway, and
/// plain additions keep atomics off the hit path.
struct State {
    /// foldhash: fast, and seeded per process, so tenant ids cannot be chosen to collide.
    slots: HashMap<Target, Slot, foldhash::fast::RandomState>,
    stats: CacheStats,
    ids: Ids,
}

/// Numbers for the generations of answers and the ids of fetches: increasing, never reused.
#[derive(Default)]
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// The cache of one client and its clones.
pub(crate) struct Cache {
    options: CacheOptions,
    state: Mutex<State>,
    shared: Option<SharedLevel>,
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

/// What a caller does after looking at its slot.
enum Step<E> {
    Serve(Credentials<E>, u64),
    Fail(Error),
    Wait(watch::Receiver<Outcome>),
    Lead { fetch_id: u64, tx: watch::Sender<Outcome>, ahead: bool, fetched_before: Option<SystemTime> },
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
        let state = State { slots: HashMap::default(), stats: CacheStats::default(), ids: Ids::default() };
        let identity =
            options.store.as_ref().map(|store| store::credential_id(store.identity_key(), credential));
        let shared = options.store.clone().map(|store| SharedLevel::new(store, options.store_timeout));
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

    /// The shared-store key of `target`: every part percent-encoded, so no id can pass
    /// for another's, and an absent tenant or connection is `!`, which no encoded id is
    /// (not even an empty one, which the calls refuse before they get here anyway).
    fn store_key(&self, target: &Target) -> String {
        let optional = |id: &Option<String>| {
            id.as_deref().map_or_else(|| "!".to_owned(), |id| format!("={}", encode(id)))
        };
        format!(
            "{}/{}/{}/{}/{}",
            self.scope,
            encode(&target.org_id),
            encode(&target.connector_id),
            optional(&target.tenant_id),
            optional(&target.connection_id)
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep serving.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The credentials of `target`, from the cache or from `fetch`, by the rules of the
    /// module docs. The caller bounds the whole call with its deadline; dropping this
    /// future while it fetches lets a waiting caller fetch instead.
    ///
    /// With the credentials comes their generation: a number that grows with every answer
    /// the cache takes, for [`Freshness::NewerThan`].
    pub(crate) async fn get<E: Extra, F>(
        &self,
        target: &Target,
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
            let step = self.lock().step::<E>(&self.options, Call { target, freshness }, &mut seen);
            match step {
                Step::Serve(credentials, generation) => return Ok((credentials, generation)),
                Step::Fail(err) => return Err(err),
                Step::Lead { fetch_id, tx, ahead, fetched_before } => {
                    break (fetch_id, tx, ahead, fetched_before);
                }
                Step::Wait(mut rx) => {
                    let outcome = rx.wait_for(Option::is_some).await.map(|outcome| outcome.clone());
                    if let Ok(Some(Err(err))) = outcome
                        && !self.serves_valid(target, freshness)
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
        let mut guard = InflightGuard { cache: self, target, fetch_id, armed: true };
        let outcome = self.fetch_shared(target, newer_than, deadline, fetch).await;
        guard.armed = false;
        self.finish::<E>(target, fetch_id, tx, outcome, ahead)
    }

    /// The credentials from the shared store when it has an acceptable answer, else from
    /// `fetch`, under the connection's lease so that one replica fetches at a time. With
    /// no store, or the store unavailable, straight from `fetch`.
    ///
    /// A lease another replica holds is waited on for at most the lease time and at most
    /// half of what is left of the caller's `deadline`: then the caller fetches without it
    /// and writes its answer back, so a stuck or hostile lock (one with no expiry, say)
    /// costs a wait, never a failed call nor a cold store.
    async fn fetch_shared<F>(
        &self,
        target: &Target,
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
                Lease::Held(token) => {
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
                Lease::Unavailable => return fetch().await.map(|c| (c, SystemTime::now())),
                // The holder did not answer in time: fetch without the lease.
                Lease::Taken if stop_waiting.is_some_and(|at| Instant::now() >= at) => {
                    tracing::debug!(
                        connector = %target.connector_id,
                        "another holder of the lease did not answer in time; fetching without it"
                    );
                    return self.fetch_and_share(shared, &key, fetch()).await;
                }
                Lease::Taken => {
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
    async fn fetch_and_share(
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
    fn store_ttl(&self, credentials: &Credentials<Map<String, Value>>) -> Duration {
        match credentials.expires_at() {
            Some(at) => at.duration_since(SystemTime::now()).unwrap_or_default(),
            None => self.options.ttl_without_expiry,
        }
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

    /// Forgets a remembered "not connected" of `target`: a flow just made the connection.
    pub(crate) fn connected(&self, target: &Target) {
        let mut state = self.lock();
        if let Some(slot) = state.slots.get_mut(target) {
            slot.not_found = None;
        }
    }

    /// Whether a still-valid answer can be served to a caller of `freshness`.
    fn serves_valid(&self, target: &Target, freshness: Freshness) -> bool {
        let state = self.lock();
        let cached = state.slots.get(target).and_then(|slot| slot.cached.as_ref());
        !freshness.wants_newer() && cached.is_some_and(|cached| Instant::now() < cached.valid_until)
    }

    /// Stores the leader's outcome, wakes the waiters and answers the leader.
    fn finish<E: Extra>(
        &self,
        target: &Target,
        fetch_id: u64,
        tx: watch::Sender<Outcome>,
        outcome: Result<(Credentials<Map<String, Value>>, SystemTime)>,
        ahead: bool,
    ) -> Result<(Credentials<E>, u64)> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let generation = state.ids.next();
        let slot = state.slots.entry(target.clone()).or_insert_with(|| Slot::new(now));
        if slot.inflight.as_ref().is_some_and(|(id, _)| *id == fetch_id) {
            slot.inflight = None;
        }
        let (answer, outcome) = match outcome {
            Ok((raw, fetched_at)) => {
                let (refresh_at, valid_until) = lifetime(&self.options, &raw, now);
                slot.high_water = slot.high_water.max(Some(fetched_at));
                slot.cached = Some(Cached { raw, views: Vec::new(), generation, refresh_at, valid_until });
                slot.not_found = None;
                (view::<E>(slot, target).map(|view| (view, generation)), Ok(()))
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
                        connector = %target.connector_id,
                        error = %err,
                        "refreshing credentials failed; serving the still-valid token"
                    );
                    let generation = cached.generation;
                    (view::<E>(slot, target).map(|view| (view, generation)), Err(Arc::new(err)))
                }
                None => (Err(err.for_waiter()), Err(Arc::new(err))),
            },
        };
        drop(guard);
        let _ = tx.send(Some(outcome));
        answer
    }
}

impl Slot {
    fn new(now: Instant) -> Self {
        Slot {
            cached: None,
            high_water: None,
            inflight: None,
            not_found: None,
            rejected: None,
            last_used: now,
        }
    }

    /// The remembered "not connected", while it lasts; forgotten once past.
    fn not_found(&mut self, now: Instant) -> Option<Arc<Error>> {
        match &self.not_found {
            Some((until, err)) if now < *until => Some(err.clone()),
            Some(_) => {
                self.not_found = None;
                None
            }
            None => None,
        }
    }

    /// The answer held, while it may be served.
    fn usable(&self, now: Instant) -> Option<&Cached> {
        self.cached.as_ref().filter(|cached| now < cached.valid_until)
    }

    /// Whether the answer held will do for a caller that has seen generation `seen`:
    /// any valid one, or with `wants_newer` only one that came after.
    fn serves(&self, wants_newer: bool, seen: u64, now: Instant) -> bool {
        self.usable(now).is_some_and(|cached| !wants_newer || cached.generation > seen)
    }

    /// Whether the answer held is in its refresh window.
    fn refresh_due(&self, now: Instant) -> bool {
        self.usable(now).is_some_and(|cached| now >= cached.refresh_at)
    }

    /// Records a fetch `fetch_id` in flight; its sender is the leader's to answer on.
    fn start_fetch(&mut self, fetch_id: u64) -> watch::Sender<Outcome> {
        let (tx, rx) = watch::channel(None);
        self.inflight = Some((fetch_id, rx));
        tx
    }

    /// What a caller does: be served, fail, wait for a fetch, or lead one. `seen` is the
    /// generation it saw at its first look (set then); a new fetch takes its id from `ids`.
    fn decide<E: Extra>(
        &mut self,
        call: Call<'_>,
        seen: &mut Option<u64>,
        stats: &mut CacheStats,
        ids: &mut Ids,
        now: Instant,
    ) -> Step<E> {
        self.last_used = now;
        let wants_newer = call.freshness.wants_newer();
        let seen = *seen.get_or_insert(match call.freshness {
            Freshness::NewerThan(rejected) => rejected,
            Freshness::Any | Freshness::Newer => self.cached.as_ref().map_or(0, |cached| cached.generation),
        });
        if call.freshness != Freshness::Newer
            && let Some(err) = self.not_found(now)
        {
            stats.not_found_hits += 1;
            return Step::Fail(err.for_waiter());
        }
        let serves = self.serves(wants_newer, seen, now);
        let refresh_due = !wants_newer && self.refresh_due(now);
        if serves && (!refresh_due || self.inflight.is_some()) {
            stats.hits += 1;
            telemetry::cache_hit();
            let generation = self.cached.as_ref().map_or(0, |cached| cached.generation);
            return match view::<E>(self, call.target) {
                Ok(credentials) => Step::Serve(credentials, generation),
                Err(err) => Step::Fail(err),
            };
        }
        if let Some((_, rx)) = &self.inflight {
            stats.coalesced += 1;
            telemetry::cache_coalesced();
            return Step::Wait(rx.clone());
        }
        let fetch_id = ids.next();
        let tx = self.start_fetch(fetch_id);
        let ahead = serves && refresh_due;
        if ahead {
            stats.refreshes_ahead += 1;
            tracing::debug!(connector = %call.target.connector_id, "refreshing credentials ahead of expiry");
        } else {
            stats.misses += 1;
            telemetry::cache_miss();
        }
        Step::Lead { fetch_id, tx, ahead, fetched_before: self.high_water }
    }
}

/// Who is asking, and how fresh they need the answer.
#[derive(Clone, Copy)]
struct Call<'a> {
    target: &'a Target,
    freshness: Freshness,
}

impl State {
    /// Looks at the slot of `target` and decides what its caller does.
    fn step<E: Extra>(&mut self, options: &CacheOptions, call: Call<'_>, seen: &mut Option<u64>) -> Step<E> {
        let now = Instant::now();
        // One lookup on the hot path; a new key makes room first.
        if let Some(slot) = self.slots.get_mut(call.target) {
            return slot.decide(call, seen, &mut self.stats, &mut self.ids, now);
        }
        self.make_room(options.max_entries);
        let slot = self.slots.entry(call.target.clone()).or_insert_with(|| Slot::new(now));
        slot.decide(call, seen, &mut self.stats, &mut self.ids, now)
    }

    /// Keeps the map within `max_entries` before a new key goes in: drops the least
    /// recently used eighth (at least one), never a slot with a fetch in flight.
    fn make_room(&mut self, max_entries: usize) {
        if self.slots.len() < max_entries {
            return;
        }
        let mut idle: Vec<(Instant, Target)> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.inflight.is_none())
            .map(|(target, slot)| (slot.last_used, target.clone()))
            .collect();
        let drop_count = (max_entries / 8).max(1).min(idle.len());
        if drop_count == 0 {
            return;
        }
        idle.select_nth_unstable_by_key(drop_count - 1, |(used, _)| *used);
        for (_, target) in idle.into_iter().take(drop_count) {
            self.slots.remove(&target);
        }
        self.stats.evictions += drop_count as u64;
    }
}

/// When an answer received `now` is due for refresh, and until when it may be served.
fn lifetime(
    options: &CacheOptions,
    raw: &Credentials<Map<String, Value>>,
    now: Instant,
) -> (Instant, Instant) {
    let left = match raw.expires_at() {
        Some(at) => at.duration_since(SystemTime::now()).unwrap_or_default(),
        None => options.ttl_without_expiry,
    };
    let valid_until = now.checked_add(left).unwrap_or_else(far_future);
    // Refresh inside the margin, but never in the first half of a short token's life;
    // drawn between the whole margin and 80 % of it before expiry.
    let margin = options.refresh_margin.min(left / 2);
    let ahead = margin - crate::jitter::jitter(margin / 5);
    (valid_until.checked_sub(ahead).unwrap_or(now), valid_until)
}

/// A time no deadline reaches, for durations too long to add (`Duration::MAX`): a century on.
fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(100 * 365 * 86_400)).unwrap_or(now)
}

/// `text` percent-encoded for a store key: only unreserved characters stay as they are.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The cached answer as `Credentials<E>`: a clone of the view made for `E`, made once.
fn view<E: Extra>(slot: &mut Slot, target: &Target) -> Result<Credentials<E>> {
    let Some(cached) = slot.cached.as_mut() else {
        return Err(Error::config("the cached credentials went away while being read"));
    };
    let wanted = TypeId::of::<Credentials<E>>();
    if let Some((_, view)) = cached.views.iter().find(|(id, _)| *id == wanted)
        && let Some(credentials) = view.downcast_ref::<Credentials<E>>()
    {
        return Ok(credentials.clone());
    }
    let typed = cached
        .raw
        .to_typed::<E>(&target.connector_id)
        .map_err(|err| Error::decode(Endpoint::Credentials, None, err))?;
    cached.views.push((wanted, Arc::new(typed.clone())));
    Ok(typed)
}

/// Clears the slot's fetch if its leader is dropped (cancelled) before finishing, so that a
/// waiter takes over instead of waiting forever.
struct InflightGuard<'a> {
    cache: &'a Cache,
    target: &'a Target,
    fetch_id: u64,
    armed: bool,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.cache.lock();
        if let Some(slot) = state.slots.get_mut(self.target)
            && slot.inflight.as_ref().is_some_and(|(id, _)| *id == self.fetch_id)
        {
            // Dropping the receiver here and the leader's sender closes the channel: the
            // waiters wake and look again.
            slot.inflight = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LockToken, StoreFuture};

    /// A store that is never reached: these tests look at keys only.
    #[derive(Debug)]
    struct Keyed(Option<[u8; 32]>);

    impl CacheStore for Keyed {
        fn get<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
            Box::pin(async { Ok(None) })
        }
        fn set<'a>(&'a self, _: &'a str, _: &'a [u8], _: Duration) -> StoreFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
        fn try_lock<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, Option<LockToken>> {
            Box::pin(async { Ok(None) })
        }
        fn unlock<'a>(&'a self, _: &'a str, _: LockToken) -> StoreFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
        fn identity_key(&self) -> Option<[u8; 32]> {
            self.0
        }
    }

    fn key(
        base: &str,
        space: &str,
        credential: Credential<'_>,
        store_key: Option<[u8; 32]>,
        target: &Target,
    ) -> String {
        let options = CacheOptions::default().store(Keyed(store_key));
        Cache::new(options, &url::Url::parse(base).unwrap(), space, credential).store_key(target)
    }

    fn target(tenant: Option<&str>, connection: Option<&str>) -> Target {
        Target {
            connector_id: "slack".into(),
            org_id: "community".into(),
            tenant_id: tenant.map(Into::into),
            connection_id: connection.map(Into::into),
        }
    }

    #[test]
    fn store_keys_bind_everything_that_decides_the_answer() {
        let base = "https://live.fastn.ai/api";
        let acme = target(Some("acme"), None);
        let reference = key(base, "s", Credential::ApiKey("k1"), Some([1; 32]), &acme);
        let others = [
            key("https://live.fastn.ai/other/api", "s", Credential::ApiKey("k1"), Some([1; 32]), &acme),
            key("http://live.fastn.ai/api", "s", Credential::ApiKey("k1"), Some([1; 32]), &acme),
            key("https://live.fastn.ai:8443/api", "s", Credential::ApiKey("k1"), Some([1; 32]), &acme),
            key(base, "s2", Credential::ApiKey("k1"), Some([1; 32]), &acme),
            key(base, "s", Credential::ApiKey("k2"), Some([1; 32]), &acme),
            key(base, "s", Credential::Token("k1"), Some([1; 32]), &acme),
            key(base, "s", Credential::ApiKey("k1"), Some([2; 32]), &acme),
            key(base, "s", Credential::ApiKey("k1"), None, &acme),
            key(base, "s", Credential::ApiKey("k1"), Some([1; 32]), &target(None, None)),
            key(base, "s", Credential::ApiKey("k1"), Some([1; 32]), &target(Some(""), None)),
            key(base, "s", Credential::ApiKey("k1"), Some([1; 32]), &target(Some("acme"), Some(""))),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(other, &reference, "case {i}");
        }
        assert_eq!(
            key("https://live.fastn.ai:443/api/", "s", Credential::ApiKey("k1"), Some([1; 32]), &acme),
            reference,
            "one URL, two spellings"
        );
        assert!(!reference.contains("k1"), "{reference}");
        // Absent, empty and a tenant named `!` are three keys.
        let absent = key(base, "s", Credential::ApiKey("k1"), None, &target(None, None));
        let empty = key(base, "s", Credential::ApiKey("k1"), None, &target(Some(""), None));
        let bang = key(base, "s", Credential::ApiKey("k1"), None, &target(Some("!"), None));
        assert!(absent != empty && empty != bang && absent != bang, "{absent} {empty} {bang}");
    }

    // ---- The slot's decisions, one call at a time.

    fn raw(token: &str, expires_in: Duration) -> Credentials<Map<String, Value>> {
        let expires_at = SystemTime::now() + expires_in;
        Credentials::from_parts(Some(token.into()), None, Some(expires_at), Map::new())
    }

    fn slot_with(now: Instant, generation: u64, refresh_in: Duration, valid_for: Duration) -> Slot {
        let mut slot = Slot::new(now);
        let cached = Cached {
            raw: raw("t", valid_for),
            views: Vec::new(),
            generation,
            refresh_at: now + refresh_in,
            valid_until: now + valid_for,
        };
        slot.cached = Some(cached);
        slot
    }

    fn decide(
        slot: &mut Slot,
        freshness: Freshness,
        seen: &mut Option<u64>,
        now: Instant,
    ) -> (&'static str, CacheStats) {
        let target = target(Some("acme"), None);
        let mut stats = CacheStats::default();
        let step = slot.decide::<Map<String, Value>>(
            Call { target: &target, freshness },
            seen,
            &mut stats,
            &mut Ids(10),
            now,
        );
        let kind = match step {
            Step::Serve(..) => "serve",
            Step::Fail(_) => "fail",
            Step::Wait(_) => "wait",
            Step::Lead { ahead: true, .. } => "lead ahead",
            Step::Lead { ahead: false, .. } => "lead",
        };
        (kind, stats)
    }

    #[test]
    fn a_cold_slot_leads_one_fetch_and_the_others_wait_for_it() {
        let now = Instant::now();
        let mut slot = Slot::new(now);
        let (first, stats) = decide(&mut slot, Freshness::Any, &mut None, now);
        assert_eq!((first, stats.misses), ("lead", 1));
        let (second, stats) = decide(&mut slot, Freshness::Any, &mut None, now);
        assert_eq!((second, stats.coalesced), ("wait", 1));
    }

    #[test]
    fn a_valid_answer_is_served_and_refreshed_ahead_by_one_caller_only() {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let mut slot = slot_with(now, 1, minute, 10 * minute);
        assert_eq!(decide(&mut slot, Freshness::Any, &mut None, now).0, "serve");
        let later = now + 2 * minute; // inside the refresh window, still valid
        assert_eq!(decide(&mut slot, Freshness::Any, &mut None, later).0, "lead ahead");
        assert_eq!(
            decide(&mut slot, Freshness::Any, &mut None, later).0,
            "serve",
            "served during the refresh"
        );
        let expired = now + 11 * minute;
        slot.inflight = None;
        assert_eq!(decide(&mut slot, Freshness::Any, &mut None, expired).0, "lead", "past expiry: a miss");
    }

    #[test]
    fn fresh_wants_an_answer_newer_than_the_one_it_saw() {
        let now = Instant::now();
        let mut slot = slot_with(now, 1, Duration::from_secs(60), Duration::from_secs(600));
        let mut seen = None;
        assert_eq!(decide(&mut slot, Freshness::Newer, &mut seen, now).0, "lead");
        assert_eq!(seen, Some(1));
        // Another fetch answered meanwhile (generation 2): that one will do.
        slot.inflight = None;
        slot.cached.as_mut().unwrap().generation = 2;
        assert_eq!(decide(&mut slot, Freshness::Newer, &mut seen, now).0, "serve");
        // A new caller saw generation 2: it wants newer still.
        assert_eq!(decide(&mut slot, Freshness::Newer, &mut None, now).0, "lead");
    }

    #[test]
    fn a_rejected_token_is_replaced_once_whoever_notices_it_last() {
        let now = Instant::now();
        let mut slot = slot_with(now, 1, Duration::from_secs(60), Duration::from_secs(600));
        // Generation 1 was rejected: its caller leads the refresh, the next one waits.
        assert_eq!(decide(&mut slot, Freshness::NewerThan(1), &mut None, now).0, "lead");
        assert_eq!(decide(&mut slot, Freshness::NewerThan(1), &mut None, now).0, "wait");
        // The refresh answered (generation 2). A caller whose generation-1 request is
        // answered 401 only now is served generation 2: no second refresh.
        slot.inflight = None;
        slot.cached.as_mut().unwrap().generation = 2;
        assert_eq!(decide(&mut slot, Freshness::NewerThan(1), &mut None, now).0, "serve");
        assert_eq!(decide(&mut slot, Freshness::NewerThan(2), &mut None, now).0, "lead");
        // A connection found gone is the answer to a rejected token too: no refetch.
        slot.inflight = None;
        slot.cached = None;
        slot.not_found = Some((now + Duration::from_secs(5), Arc::new(Error::config("gone"))));
        assert_eq!(decide(&mut slot, Freshness::NewerThan(2), &mut None, now).0, "fail");
    }

    #[test]
    fn not_connected_is_remembered_for_its_time_only() {
        let now = Instant::now();
        let mut slot = Slot::new(now);
        let gone = Arc::new(Error::config("gone"));
        slot.not_found = Some((now + Duration::from_secs(5), gone));
        let (kind, stats) = decide(&mut slot, Freshness::Any, &mut None, now);
        assert_eq!((kind, stats.not_found_hits), ("fail", 1));
        assert_eq!(decide(&mut slot, Freshness::Newer, &mut None, now).0, "lead", "fresh() asks anyway");
        slot.inflight = None;
        assert_eq!(decide(&mut slot, Freshness::Any, &mut None, now + Duration::from_secs(6)).0, "lead");
        assert!(slot.not_found.is_none());
    }

    // ---- The shared level's lease and double-check, on a store in memory (paused time).

    /// A `CacheStore` in memory with Redis's semantics for what the cache uses: values with
    /// a TTL, `SET NX PX` locks released by token. `plant` is written just before the next
    /// lock is taken (another replica writing between our look and our lock).
    #[derive(Debug, Default)]
    struct MemoryStore {
        values: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
        locks: Mutex<HashMap<String, (String, Option<Instant>)>>,
        plant: Mutex<Option<(String, Vec<u8>)>>,
    }

    impl MemoryStore {
        fn put(&self, key: &str, value: Vec<u8>) {
            self.values
                .lock()
                .unwrap()
                .insert(key.to_owned(), (value, Instant::now() + Duration::from_secs(3600)));
        }
    }

    impl CacheStore for Arc<MemoryStore> {
        fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
            let now = Instant::now();
            let value = self
                .values
                .lock()
                .unwrap()
                .get(key)
                .filter(|(_, until)| now < *until)
                .map(|(v, _)| v.clone());
            Box::pin(async move { Ok(value) })
        }
        fn set<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()> {
            self.values.lock().unwrap().insert(key.to_owned(), (value.to_vec(), Instant::now() + ttl));
            Box::pin(async { Ok(()) })
        }
        fn try_lock<'a>(&'a self, key: &'a str, lease: Duration) -> StoreFuture<'a, Option<LockToken>> {
            if let Some((planted, value)) = self.plant.lock().unwrap().take() {
                self.put(&planted, value);
            }
            let now = Instant::now();
            let mut locks = self.locks.lock().unwrap();
            let held = locks.get(key).is_some_and(|(_, until)| until.is_none_or(|until| now < until));
            let token = (!held).then(|| {
                locks.insert(key.to_owned(), ("mine".to_owned(), Some(now + lease)));
                LockToken::new("mine")
            });
            Box::pin(async move { Ok(token) })
        }
        fn unlock<'a>(&'a self, key: &'a str, token: LockToken) -> StoreFuture<'a, ()> {
            let mut locks = self.locks.lock().unwrap();
            if locks.get(key).is_some_and(|(held, _)| held == token.as_str()) {
                locks.remove(key);
            }
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_rejected_after_a_refresh_backs_off_and_the_back_off_grows() {
        let base = url::Url::parse("https://live.fastn.ai/api").unwrap();
        let cache = Cache::new(CacheOptions::default(), &base, "s", Credential::ApiKey("k"));
        let target = target(Some("acme"), None);
        let fetch = || async { Ok(raw("t", Duration::from_secs(3600))) };
        let (_, generation) =
            cache.get::<Map<String, Value>, _>(&target, Freshness::Any, None, fetch).await.unwrap();
        assert!(!cache.unauthorized_is_final(&target, generation), "a first 401 refreshes");
        cache.reject(&target, generation);
        cache.reject(&target, generation);
        assert!(cache.unauthorized_is_final(&target, generation));
        assert!(!cache.unauthorized_is_final(&target, generation + 1), "a newer token is not held to it");
        tokio::time::advance(UNAUTHORIZED_BACKOFF - Duration::from_millis(1)).await;
        assert!(
            cache.unauthorized_is_final(&target, generation),
            "the same caller's second reject did not extend it"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!cache.unauthorized_is_final(&target, generation), "over: the next 401 refreshes again");
        // Rejected again soon after: twice as long, and so on up to the cap.
        let mut step = UNAUTHORIZED_BACKOFF;
        for _ in 0..8 {
            cache.reject(&target, generation);
            step = (step * 2).min(MAX_UNAUTHORIZED_BACKOFF);
            tokio::time::advance(step - Duration::from_millis(1)).await;
            assert!(cache.unauthorized_is_final(&target, generation), "{step:?}");
            tokio::time::advance(Duration::from_millis(1)).await;
            assert!(!cache.unauthorized_is_final(&target, generation), "{step:?}");
        }
        assert_eq!(step, MAX_UNAUTHORIZED_BACKOFF);
        // Long quiet: it starts over at the base.
        tokio::time::advance(MAX_UNAUTHORIZED_BACKOFF * 2).await;
        cache.reject(&target, generation);
        tokio::time::advance(UNAUTHORIZED_BACKOFF).await;
        assert!(!cache.unauthorized_is_final(&target, generation));
        assert_eq!(cache.stats().unauthorized_returned, 10, "each 401 returned as it is, counted");
    }

    struct Replica {
        cache: Cache,
        fetches: std::sync::atomic::AtomicUsize,
    }

    impl Replica {
        fn new(store: &Arc<MemoryStore>) -> Self {
            let options = CacheOptions::default().store(store.clone()).lease(Duration::from_secs(10));
            let base = url::Url::parse("https://live.fastn.ai/api").unwrap();
            let cache = Cache::new(options, &base, "s", Credential::ApiKey("k"));
            Replica { cache, fetches: Default::default() }
        }

        fn key(&self) -> String {
            self.cache.store_key(&target(Some("acme"), None))
        }

        async fn get(&self, freshness: Freshness, deadline: Duration) -> Result<String> {
            let deadline = Some(Instant::now() + deadline);
            let target = target(Some("acme"), None);
            let fetch = || async {
                let n = self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                Ok(raw(&format!("fetched-{n}"), Duration::from_secs(3600)))
            };
            let (credentials, _) =
                self.cache.get::<Map<String, Value>, _>(&target, freshness, deadline, fetch).await?;
            Ok(credentials
                .access_token
                .map(|t| secrecy::ExposeSecret::expose_secret(&t).to_owned())
                .unwrap_or_default())
        }

        fn fetches(&self) -> usize {
            self.fetches.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    fn stored(token: &str, fetched_at: SystemTime) -> Vec<u8> {
        store::encode(&raw(token, Duration::from_secs(3600)), fetched_at)
    }

    #[tokio::test(start_paused = true)]
    async fn another_replicas_answer_is_served_without_a_fetch() {
        let store = Arc::new(MemoryStore::default());
        let replica = Replica::new(&store);
        store.put(&replica.key(), stored("theirs", SystemTime::now()));
        assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "theirs");
        assert_eq!((replica.fetches(), replica.cache.stats().store_hits), (0, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_written_between_the_look_and_the_lock_is_used() {
        let store = Arc::new(MemoryStore::default());
        let replica = Replica::new(&store);
        *store.plant.lock().unwrap() = Some((replica.key(), stored("raced", SystemTime::now())));
        assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "raced");
        assert_eq!(replica.fetches(), 0, "the double-check after the lock found it");
        assert!(store.locks.lock().unwrap().is_empty(), "and released the lock");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_holder_that_answers_is_waited_for() {
        let store = Arc::new(MemoryStore::default());
        let replica = Replica::new(&store);
        let key = replica.key();
        store
            .locks
            .lock()
            .unwrap()
            .insert(key.clone(), ("theirs".into(), Some(Instant::now() + Duration::from_secs(10))));
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                store.put(&key, stored("holder's", SystemTime::now()));
            })
        };
        assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "holder's");
        assert_eq!(replica.fetches(), 0);
        writer.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_lock_costs_half_the_deadline_then_the_answer_is_fetched_and_shared() {
        let store = Arc::new(MemoryStore::default());
        let replica = Replica::new(&store);
        let key = replica.key();
        store.locks.lock().unwrap().insert(key.clone(), ("stuck".into(), None)); // no expiry
        let started = Instant::now();
        assert_eq!(replica.get(Freshness::Any, Duration::from_secs(3)).await.unwrap(), "fetched-1");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_millis(1700), "{waited:?}");
        let other = Replica::new(&store);
        assert_eq!(
            other.get(Freshness::Any, Duration::from_secs(3)).await.unwrap(),
            "fetched-1",
            "written back"
        );
        assert_eq!(other.fetches(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_older_than_one_held_is_never_accepted() {
        let store = Arc::new(MemoryStore::default());
        let replica = Replica::new(&store);
        let before = SystemTime::now() - Duration::from_secs(60);
        assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "fetched-1");
        // The answer is dropped in process (as a 404 drops it); the store is rolled back to
        // a value fetched before it, and holds a newer one than that in nothing.
        replica.cache.lock().slots.values_mut().for_each(|slot| slot.cached = None);
        store.put(&replica.key(), stored("rolled back", before));
        assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "fetched-2");
        assert_eq!(replica.cache.stats().store_hits, 0);
        // What the fetch wrote back serves a replica that held nothing.
        let cold = Replica::new(&store);
        assert_eq!(cold.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "fetched-2");
    }
}
