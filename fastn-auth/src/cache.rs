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
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: 10_000,
            ttl_without_expiry: Duration::from_secs(300),
            refresh_margin: Duration::from_secs(300),
            not_found_ttl: Duration::from_secs(5),
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

    pub(crate) fn check(&self) -> Result<()> {
        if self.max_entries == 0 {
            return Err(Error::config("CacheOptions::max_entries must be at least 1"));
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
}

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
    Lead { fetch_id: u64, tx: watch::Sender<Outcome>, ahead: bool },
}

impl Cache {
    pub(crate) fn new(options: CacheOptions) -> Self {
        let state = State { slots: HashMap::default(), stats: CacheStats::default(), clock: 0 };
        Cache { options, state: Mutex::new(state) }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let state = self.lock();
        CacheStats { entries: state.slots.len() as u64, ..state.stats }
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
        fetch: impl FnOnce() -> F,
    ) -> Result<Credentials<E>>
    where
        F: std::future::Future<Output = Result<Credentials<Map<String, Value>>>>,
    {
        // What this caller has seen: with `Newer`, only an answer after it will do.
        let mut seen = None;
        let (fetch_id, tx, ahead) = loop {
            // The guard must be gone before any `.await` below.
            let step = self.lock().step::<E>(&self.options, target, freshness, &mut seen);
            match step {
                Step::Serve(credentials) => return Ok(credentials),
                Step::Fail(err) => return Err(err),
                Step::Lead { fetch_id, tx, ahead } => break (fetch_id, tx, ahead),
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
        let mut guard = InflightGuard { cache: self, target, fetch_id, armed: true };
        let outcome = fetch().await;
        guard.armed = false;
        self.finish::<E>(target, fetch_id, tx, outcome, ahead)
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
        outcome: Result<Credentials<Map<String, Value>>>,
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
            Ok(raw) => {
                let (refresh_at, valid_until) = lifetime(&self.options, &raw, now);
                slot.cached = Some(Cached { raw, views: Vec::new(), generation, refresh_at, valid_until });
                slot.not_found = None;
                (view::<E>(slot, target), Ok(()))
            }
            Err(err) if err.is_not_found() && !self.options.not_found_ttl.is_zero() => {
                // The connection is gone: its token is no longer wanted either.
                slot.cached = None;
                let err = Arc::new(err);
                slot.not_found = Some((now + self.options.not_found_ttl, err.clone()));
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
        Slot { cached: None, inflight: None, not_found: None, last_used: now }
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
    Step::Lead { fetch_id, tx, ahead }
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
    let valid_until = now.checked_add(left).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
    // Refresh inside the margin, but never in the first half of a short token's life;
    // drawn between the whole margin and 80 % of it before expiry.
    let margin = options.refresh_margin.min(left / 2);
    let ahead = margin - crate::transport::jitter(margin / 5);
    (valid_until.checked_sub(ahead).unwrap_or(now), valid_until)
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
