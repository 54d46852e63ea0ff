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

/// How fresh a caller needs the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Whatever is valid.
    Any,
    /// From a fetch newer than what the cache holds when the call starts.
    Newer,
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
    last_used: Instant,
}

/// Everything behind the lock. The counters live here too: the lock is held anyway, and
/// plain additions keep atomics off the hit path.
struct State {
    /// foldhash: fast, and seeded per process, so tenant ids cannot be chosen to collide.
    slots: HashMap<Target, Slot, foldhash::fast::RandomState>,
    stats: CacheStats,
    /// A counter for the generations of answers and the ids of fetches.
    clock: u64,
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
    Serve(Credentials<E>),
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
        let state = State { slots: HashMap::default(), stats: CacheStats::default(), clock: 0 };
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
    pub(crate) async fn get<E: Extra, F>(
        &self,
        target: &Target,
        freshness: Freshness,
        deadline: Option<Instant>,
        fetch: impl FnOnce() -> F,
    ) -> Result<Credentials<E>>
    where
        F: std::future::Future<Output = Result<Credentials<Map<String, Value>>>>,
    {
        // What this caller has seen: with `Newer`, only an answer after it will do.
        let mut seen = None;
        let started = SystemTime::now();
        let (fetch_id, tx, ahead, fetched_before) = loop {
            // The guard must be gone before any `.await` below.
            let step = self.lock().step::<E>(&self.options, target, freshness, &mut seen);
            match step {
                Step::Serve(credentials) => return Ok(credentials),
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
            Freshness::Any => fetched_before,
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

    /// Whether a still-valid answer can be served to a caller of `freshness`.
    fn serves_valid(&self, target: &Target, freshness: Freshness) -> bool {
        let state = self.lock();
        let cached = state.slots.get(target).and_then(|slot| slot.cached.as_ref());
        freshness == Freshness::Any && cached.is_some_and(|cached| Instant::now() < cached.valid_until)
    }

    /// Stores the leader's outcome, wakes the waiters and answers the leader.
    fn finish<E: Extra>(
        &self,
        target: &Target,
        fetch_id: u64,
        tx: watch::Sender<Outcome>,
        outcome: Result<(Credentials<Map<String, Value>>, SystemTime)>,
        ahead: bool,
    ) -> Result<Credentials<E>> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        state.clock += 1;
        let generation = state.clock;
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
                (view::<E>(slot, target), Ok(()))
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
                    tracing::warn!(
                        connector = %target.connector_id,
                        error = %err,
                        "refreshing credentials failed; serving the still-valid token"
                    );
                    (view::<E>(slot, target), Err(Arc::new(err)))
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
        Slot { cached: None, high_water: None, inflight: None, not_found: None, last_used: now }
    }
}

impl State {
    /// Looks at the slot of `target` and decides what its caller does.
    fn step<E: Extra>(
        &mut self,
        options: &CacheOptions,
        target: &Target,
        freshness: Freshness,
        seen: &mut Option<u64>,
    ) -> Step<E> {
        let now = Instant::now();
        // One lookup on the hot path; a new key makes room first.
        if let Some(slot) = self.slots.get_mut(target) {
            return decide(slot, &mut self.stats, &mut self.clock, target, freshness, seen, now);
        }
        self.make_room(options.max_entries);
        let slot = self.slots.entry(target.clone()).or_insert_with(|| Slot::new(now));
        decide(slot, &mut self.stats, &mut self.clock, target, freshness, seen, now)
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

/// What a caller of `slot` does: be served, fail, wait for a fetch, or lead one.
fn decide<E: Extra>(
    slot: &mut Slot,
    stats: &mut CacheStats,
    clock: &mut u64,
    target: &Target,
    freshness: Freshness,
    seen: &mut Option<u64>,
    now: Instant,
) -> Step<E> {
    slot.last_used = now;
    let generation = slot.cached.as_ref().map_or(0, |cached| cached.generation);
    let seen = *seen.get_or_insert(generation);
    let wants_newer = freshness == Freshness::Newer;

    if !wants_newer && let Some((until, err)) = &slot.not_found {
        if now < *until {
            stats.not_found_hits += 1;
            return Step::Fail(err.for_waiter());
        }
        slot.not_found = None;
    }
    let usable = slot.cached.as_ref().filter(|cached| now < cached.valid_until);
    let answer_will_do = usable.is_some_and(|cached| !wants_newer || cached.generation > seen);
    let refresh_due = !wants_newer && usable.is_some_and(|cached| now >= cached.refresh_at);
    if answer_will_do && (!refresh_due || slot.inflight.is_some()) {
        stats.hits += 1;
        return match view::<E>(slot, target) {
            Ok(credentials) => Step::Serve(credentials),
            Err(err) => Step::Fail(err),
        };
    }
    if let Some((_, rx)) = &slot.inflight {
        stats.coalesced += 1;
        return Step::Wait(rx.clone());
    }
    *clock += 1;
    let fetch_id = *clock;
    let (tx, rx) = watch::channel(None);
    slot.inflight = Some((fetch_id, rx));
    let ahead = answer_will_do && refresh_due;
    if ahead {
        stats.refreshes_ahead += 1;
        tracing::debug!(connector = %target.connector_id, "refreshing credentials ahead of expiry");
    } else {
        stats.misses += 1;
    }
    let fetched_before = slot.high_water;
    Step::Lead { fetch_id, tx, ahead, fetched_before }
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
}
