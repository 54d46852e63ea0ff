//! One connection's slot and the map of slots: the state machine that decides, under the
//! lock and without waiting, whether a caller is served, fails, waits for another's fetch
//! or leads one; eviction; the 401 back-off. Pure: no I/O, tokio `Instant`s only (the
//! token's expiry, a `SystemTime`, is turned into one once, in [`lifetime`]).

use std::any::Any;
use std::any::TypeId;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use super::options::{CacheOptions, CacheStats};
use crate::credentials::{Credentials, Extra};
use crate::error::{Error, Result};
use crate::target::{Key, Target};
use crate::telemetry;
use crate::wire::Endpoint;

/// How long after a failed refresh, with the token still valid, the next one is tried.
pub(super) const RETRY_REFRESH: Duration = Duration::from_secs(5);

/// How long a connection whose refreshed token the provider rejected again gets its `401`s
/// back as they are, without a refresh: 30 s, doubling while it keeps being rejected, up
/// to [`MAX_UNAUTHORIZED_BACKOFF`]. A provider that always answers `401` (the app was
/// revoked at the provider) then costs Fastn a request per back-off, not one per call.
pub const UNAUTHORIZED_BACKOFF: Duration = Duration::from_secs(30);
/// The longest [`UNAUTHORIZED_BACKOFF`] grows to.
pub const MAX_UNAUTHORIZED_BACKOFF: Duration = Duration::from_secs(600);

/// A token the provider rejected even after a refresh: no refresh for it until `until`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rejected {
    pub(super) generation: u64,
    pub(super) until: Instant,
    pub(super) step: Duration,
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
    pub(super) fn wants_newer(self) -> bool {
        self != Freshness::Any
    }
}

/// The last good answer of a connection.
pub(super) struct Cached {
    pub(super) raw: Credentials<Map<String, Value>>,
    /// Typed copies, one per `Extra` type asked for, made once per answer
    /// ([`view`]).
    pub(super) views: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    pub(super) generation: u64,
    pub(super) refresh_at: Instant,
    pub(super) valid_until: Instant,
}

/// The cached answer as `Credentials<E>`: a clone of the view made for `E`, made once.
pub(super) fn view<E: Extra>(slot: &mut Slot, connector_id: &str) -> Result<Credentials<E>> {
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
        .to_typed::<E>(connector_id)
        .map_err(|err| Error::decode(Endpoint::Credentials, None, err))?;
    cached.views.push((wanted, Arc::new(typed.clone())));
    Ok(typed)
}

/// A fetch in flight: its outcome, once known, is `Some`.
pub(super) type FetchResult = Option<std::result::Result<(), Arc<Error>>>;

pub(super) struct Slot {
    pub(super) cached: Option<Cached>,
    /// The newest fetch time of any answer this slot has held: the shared store is never
    /// accepted below it, even after the answer itself is dropped (a 404, expiry).
    pub(super) high_water: Option<SystemTime>,
    pub(super) inflight: Option<(u64, watch::Receiver<FetchResult>)>,
    pub(super) not_found: Option<(Instant, Arc<Error>)>,
    pub(super) rejected: Option<Rejected>,
    pub(super) last_used: Instant,
}

/// Everything behind the lock. The counters live here too: the lock is held anyway, and
/// plain additions keep atomics off the hit path.
pub(super) struct State {
    /// foldhash: fast, and seeded per process, so tenant ids cannot be chosen to collide.
    /// hashbrown's, for lookups by a borrowed [`Key`].
    pub(super) slots: hashbrown::HashMap<Target, Slot, foldhash::fast::RandomState>,
    pub(super) stats: CacheStats,
    pub(super) ids: Ids,
}

/// Numbers for the generations of answers and the ids of fetches: increasing, never reused.
#[derive(Default)]
pub(super) struct Ids(pub(super) u64);

impl Ids {
    pub(super) fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// What a caller does after looking at its slot.
pub(super) enum Step<E> {
    Serve(Credentials<E>, u64),
    Fail(Error),
    Wait(watch::Receiver<FetchResult>),
    Lead { fetch_id: u64, tx: watch::Sender<FetchResult>, ahead: bool, fetched_before: Option<SystemTime> },
}

impl Slot {
    pub(super) fn new(now: Instant) -> Self {
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
    pub(super) fn not_found(&mut self, now: Instant) -> Option<Arc<Error>> {
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
    pub(super) fn usable(&self, now: Instant) -> Option<&Cached> {
        self.cached.as_ref().filter(|cached| now < cached.valid_until)
    }

    /// Whether the answer held will do for a caller that has seen generation `seen`:
    /// any valid one, or with `wants_newer` only one that came after.
    pub(super) fn serves(&self, wants_newer: bool, seen: u64, now: Instant) -> bool {
        self.usable(now).is_some_and(|cached| !wants_newer || cached.generation > seen)
    }

    /// Whether the answer held is in its refresh window.
    pub(super) fn refresh_due(&self, now: Instant) -> bool {
        self.usable(now).is_some_and(|cached| now >= cached.refresh_at)
    }

    /// Records a fetch `fetch_id` in flight; its sender is the leader's to answer on.
    pub(super) fn start_fetch(&mut self, fetch_id: u64) -> watch::Sender<FetchResult> {
        let (tx, rx) = watch::channel(None);
        self.inflight = Some((fetch_id, rx));
        tx
    }

    /// What `call` gets at once, without a fetch or a wait: the cached credentials when they
    /// serve it and no refresh is due or one is already running, or the remembered
    /// not-found. `None`: the caller waits or leads (see [`decide`](Self::decide)).
    pub(super) fn settled<E: Extra>(
        &mut self,
        call: Call<'_>,
        seen: &mut Option<u64>,
        stats: &mut CacheStats,
        now: Instant,
    ) -> Option<Step<E>> {
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
            return Some(Step::Fail(err.for_waiter()));
        }
        let serves = self.serves(wants_newer, seen, now);
        let refresh_due = !wants_newer && self.refresh_due(now);
        if !serves || (refresh_due && self.inflight.is_none()) {
            return None;
        }
        stats.hits += 1;
        telemetry::cache_hit();
        let generation = self.cached.as_ref().map_or(0, |cached| cached.generation);
        Some(match view::<E>(self, call.key.connector_id) {
            Ok(credentials) => Step::Serve(credentials, generation),
            Err(err) => Step::Fail(err),
        })
    }

    /// What a caller does: be served, fail, wait for a fetch, or lead one. `seen` is the
    /// generation it saw at its first look (set then); a new fetch takes its id from `ids`.
    pub(super) fn decide<E: Extra>(
        &mut self,
        call: Call<'_>,
        seen: &mut Option<u64>,
        stats: &mut CacheStats,
        ids: &mut Ids,
        now: Instant,
    ) -> Step<E> {
        if let Some(settled) = self.settled(call, seen, stats, now) {
            return settled;
        }
        let wants_newer = call.freshness.wants_newer();
        let serves = self.serves(wants_newer, seen.unwrap_or_default(), now);
        let refresh_due = !wants_newer && self.refresh_due(now);
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
            tracing::debug!(connector = %call.key.connector_id, "refreshing credentials ahead of expiry");
        } else {
            stats.misses += 1;
            telemetry::cache_miss();
        }
        Step::Lead { fetch_id, tx, ahead, fetched_before: self.high_water }
    }
}

/// Who is asking, and how fresh they need the answer.
#[derive(Clone, Copy)]
pub(super) struct Call<'a> {
    pub(super) key: Key<'a>,
    pub(super) freshness: Freshness,
}

impl State {
    /// Looks at the slot of `target` and decides what its caller does.
    pub(super) fn step<E: Extra>(
        &mut self,
        options: &CacheOptions,
        call: Call<'_>,
        seen: &mut Option<u64>,
    ) -> Step<E> {
        let now = Instant::now();
        // One lookup on the hot path; a new key makes room first.
        if let Some(slot) = self.slots.get_mut(&call.key) {
            return slot.decide(call, seen, &mut self.stats, &mut self.ids, now);
        }
        self.make_room(options.max_entries);
        let slot = self.slots.entry(call.key.to_target()).or_insert_with(|| Slot::new(now));
        slot.decide(call, seen, &mut self.stats, &mut self.ids, now)
    }

    /// [`Slot::settled`] for `call`'s slot: `None` also when it has none yet.
    pub(super) fn settled<E: Extra>(&mut self, call: Call<'_>) -> Option<Step<E>> {
        let now = Instant::now();
        let slot = self.slots.get_mut(&call.key)?;
        slot.settled(call, &mut None, &mut self.stats, now)
    }

    /// Keeps the map within `max_entries` before a new key goes in: drops the least
    /// recently used eighth (at least one), never a slot with a fetch in flight.
    pub(super) fn make_room(&mut self, max_entries: usize) {
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
pub(super) fn lifetime(
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
pub(super) fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(100 * 365 * 86_400)).unwrap_or(now)
}
