//! The health of each connection a client has called, the one place its changes are
//! decided, and the gate that refuses a broken connection's calls between probes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast;
use tokio::time::Instant;
use url::Url;

use super::events::{CAPACITY, ConnectionEvents};
use super::{
    BreakReason, ConnectionEvent, EventKind, FIRST_PROBE_AFTER, Health, HealthState, MAX_PROBE_INTERVAL,
    MAX_TRACKED,
};
use crate::error::{Error, ErrorKind};
use crate::target::{Key, Target};

/// What a call learned of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Learned {
    /// Fastn handed out its credentials.
    Served,
    /// The provider accepted its token.
    Accepted,
    /// A flow for it ended `ACTIVE`.
    Connected,
    /// It is broken.
    Broken(BreakReason, Option<String>),
    /// Fastn has no such connection.
    Gone,
}

impl Learned {
    /// What `err` tells of the connection a call was for, if anything: a refusal that
    /// needs a reconnect, or "no such connection". Decided by codes, never by words.
    pub(crate) fn from_error(err: &Error) -> Option<Learned> {
        if let ErrorKind::ConnectionBroken { .. } = err.kind() {
            return None;
        }
        if err.needs_reconnect() {
            let reason = match err.fastn_code() {
                Some("CONN-AUTH-FAILED") => BreakReason::AuthFailed,
                Some("CONN-REFRESH-FAILED") => BreakReason::RefreshFailed,
                _ => BreakReason::Expired,
            };
            return Some(Learned::Broken(reason, err.fastn_code().map(str::to_owned)));
        }
        err.is_not_connected().then_some(Learned::Gone)
    }
}

/// One connection's health, and when a broken one may be asked again.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) state: HealthState,
    since: SystemTime,
    checked_at: SystemTime,
    /// While broken: the next probe, and the pause after it.
    next_probe: Instant,
    probe_step: Duration,
    /// The consent page of a reconnect started for it.
    reconnect_url: Option<Url>,
}

/// Every connection's health in this client (and its clones).
#[derive(Debug)]
pub(crate) struct Board {
    entries: Mutex<hashbrown::HashMap<Target, Entry, foldhash::fast::RandomState>>,
    /// How many entries are broken: while none is, the gate takes no lock.
    broken: AtomicUsize,
    events: broadcast::Sender<ConnectionEvent>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            entries: Mutex::default(),
            broken: AtomicUsize::new(0),
            events: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Board {
    fn lock(&self) -> MutexGuard<'_, hashbrown::HashMap<Target, Entry, foldhash::fast::RandomState>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The events from now on.
    pub(crate) fn subscribe(&self) -> ConnectionEvents {
        ConnectionEvents::new(self.events.subscribe())
    }

    /// Whether a call for `key` may go on: `Err` with
    /// [`needs_reconnect()`](Error::needs_reconnect) while it is broken and no probe is due;
    /// a due probe goes on, and the next waits twice as long.
    pub(crate) fn gate(&self, key: Key<'_>) -> Result<(), Error> {
        if !self.any_broken() {
            return Ok(());
        }
        let now = Instant::now();
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&key) else { return Ok(()) };
        let HealthState::Broken { reason, fastn_code } = &entry.state else { return Ok(()) };
        if now >= entry.next_probe {
            entry.next_probe = now + entry.probe_step;
            entry.probe_step = (entry.probe_step * 2).min(MAX_PROBE_INTERVAL);
            return Ok(());
        }
        Err(Error::from(ErrorKind::ConnectionBroken {
            connector_id: key.connector_id.to_owned(),
            tenant_id: key.tenant_id.map(str::to_owned),
            reason: *reason,
            fastn_code: fastn_code.clone(),
            reconnect_url: entry.reconnect_url.clone(),
            probe_in: entry.next_probe - now,
        }))
    }

    /// Whether any connection is broken (no lock taken).
    pub(crate) fn any_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed) > 0
    }

    /// Makes a probe of `key` due now, if it is broken.
    pub(crate) fn probe_now(&self, key: Key<'_>) {
        if let Some(entry) = self.lock().get_mut(&key) {
            entry.next_probe = Instant::now();
        }
    }

    /// The consent page of a reconnect just started for `key`, for the errors of its calls.
    pub(crate) fn reconnect_started(&self, key: Key<'_>, url: Option<Url>) {
        if let Some(entry) = self.lock().get_mut(&key) {
            entry.reconnect_url = url;
        }
    }

    /// The health of `key`.
    pub(crate) fn health(&self, key: Key<'_>) -> Health {
        match self.lock().get(&key) {
            Some(entry) => Health {
                state: entry.state.clone(),
                since: Some(entry.since),
                checked_at: Some(entry.checked_at),
            },
            None => Health { state: HealthState::Unknown, since: None, checked_at: None },
        }
    }

    /// Records what a call learned of `key`; the event, when its state changed (for
    /// [`tell`](Self::tell)).
    pub(crate) fn learned(&self, key: Key<'_>, learned: Learned) -> Option<ConnectionEvent> {
        let now = SystemTime::now();
        let mut entries = self.lock();
        let previous = entries.get(&key).map(|entry| &entry.state);
        let (state, kind) = transition(previous, learned)?;
        let kind = match kind {
            Some(kind) => kind,
            None => {
                // No change a subscriber hears of: only when it was checked.
                if let Some(entry) = entries.get_mut(&key) {
                    entry.checked_at = now;
                    entry.state = state;
                } else if entries.len() < MAX_TRACKED || matches!(state, HealthState::Broken { .. }) {
                    entries.insert(key.to_target(), Entry::new(state, now));
                }
                return None;
            }
        };
        let was_broken = matches!(previous, Some(HealthState::Broken { .. }));
        Some(self.change(entries, key, was_broken, state, kind, now))
    }

    /// Takes a change another replica saw ([`super::fleet`]): recorded, and its event
    /// returned for this process's subscribers, when it changes this process's view (a
    /// `Connected` always does: a flow ended); never published again.
    pub(crate) fn apply_remote(
        &self,
        key: Key<'_>,
        kind: EventKind,
        at: SystemTime,
    ) -> Option<ConnectionEvent> {
        let state = match &kind {
            EventKind::Broken { reason, fastn_code } => {
                HealthState::Broken { reason: *reason, fastn_code: fastn_code.clone() }
            }
            EventKind::Disconnected => HealthState::Disconnected,
            _ => HealthState::Healthy,
        };
        let entries = self.lock();
        let previous = entries.get(&key).map(|entry| &entry.state);
        let same = previous.map(std::mem::discriminant) == Some(std::mem::discriminant(&state));
        if same && kind != EventKind::Connected {
            return None;
        }
        let was_broken = matches!(previous, Some(HealthState::Broken { .. }));
        Some(self.change(entries, key, was_broken, state, kind, at))
    }

    /// Tells `event` (a change [`learned`](Self::learned) or
    /// [`apply_remote`](Self::apply_remote) returned) to the subscribers, counted and logged:
    /// the caller first drops what the change made stale, so that a subscriber acting on it
    /// meets the new state.
    pub(crate) fn tell(&self, event: &ConnectionEvent) {
        crate::telemetry::health_event(event.kind.as_str());
        tracing::info!(
            connector = event.connector_id,
            tenant = event.tenant_id.as_deref().unwrap_or_default(),
            event = event.kind.as_str(),
            "connection health changed"
        );
        // No subscriber is no error: the state is kept all the same.
        let _ = self.events.send(event.clone());
    }

    /// Whether anything is known of `key` in this process.
    pub(crate) fn knows(&self, key: Key<'_>) -> bool {
        self.lock().contains_key(&key)
    }

    /// Sets `key` to `state` (it changed, as `kind` says) and counts it; the event.
    fn change(
        &self,
        mut entries: MutexGuard<'_, hashbrown::HashMap<Target, Entry, foldhash::fast::RandomState>>,
        key: Key<'_>,
        was_broken: bool,
        state: HealthState,
        kind: EventKind,
        at: SystemTime,
    ) -> ConnectionEvent {
        let is_broken = matches!(state, HealthState::Broken { .. });
        entries.insert(key.to_target(), Entry::new(state, at));
        drop(entries);
        match (was_broken, is_broken) {
            (false, true) => self.broken.fetch_add(1, Ordering::Relaxed),
            (true, false) => self.broken.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
        ConnectionEvent {
            connector_id: key.connector_id.to_owned(),
            org_id: key.org_id.to_owned(),
            tenant_id: key.tenant_id.map(str::to_owned),
            connection_id: key.connection_id.map(str::to_owned),
            kind,
            at,
        }
    }
}

impl Entry {
    fn new(state: HealthState, now: SystemTime) -> Self {
        Entry {
            state,
            since: now,
            checked_at: now,
            next_probe: Instant::now() + FIRST_PROBE_AFTER,
            probe_step: (FIRST_PROBE_AFTER * 2).min(MAX_PROBE_INTERVAL),
            reconnect_url: None,
        }
    }
}

/// The state after `learned`, and the event of the change (`None` when subscribers hear of
/// nothing); `None` when nothing is to be recorded.
///
/// - served (credentials): unknown → healthy, quietly (the process learned of it, nothing
///   changed); broken → healthy, `Reconnected`, except a connection the provider revoked,
///   which only the provider's acceptance or a new flow mends;
/// - accepted (the provider): broken → healthy, `Reconnected`; else quietly healthy;
/// - connected (a flow `ACTIVE`): broken or disconnected → `Reconnected`, else `Connected`;
/// - broken: anything else → broken, `Broken`; already broken, quietly (the reason kept
///   up to date);
/// - gone: healthy or broken → disconnected, `Disconnected`; never known → nothing.
fn transition(previous: Option<&HealthState>, learned: Learned) -> Option<(HealthState, Option<EventKind>)> {
    use HealthState::{Broken, Disconnected, Healthy, Unknown};
    let previous = previous.unwrap_or(&Unknown);
    Some(match (previous, learned) {
        (Broken { reason: BreakReason::Revoked, .. }, Learned::Served) => (previous.clone(), None),
        (Broken { .. } | Disconnected, Learned::Served | Learned::Accepted | Learned::Connected) => {
            (Healthy, Some(EventKind::Reconnected))
        }
        (_, Learned::Connected) => (Healthy, Some(EventKind::Connected)),
        (_, Learned::Served | Learned::Accepted) => (Healthy, None),
        (Broken { .. }, Learned::Broken(reason, fastn_code)) => (Broken { reason, fastn_code }, None),
        (_, Learned::Broken(reason, fastn_code)) => {
            let kind = EventKind::Broken { reason, fastn_code: fastn_code.clone() };
            (Broken { reason, fastn_code }, Some(kind))
        }
        (Healthy | Broken { .. }, Learned::Gone) => (Disconnected, Some(EventKind::Disconnected)),
        (Unknown | Disconnected, Learned::Gone) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key<'static> {
        Key { connector_id: "slack", org_id: "community", tenant_id: Some("acme"), connection_id: None }
    }

    fn kinds(board: &Board, steps: Vec<Learned>) -> Vec<Option<&'static str>> {
        steps.into_iter().map(|step| board.learned(key(), step).map(|event| event.kind.as_str())).collect()
    }

    fn broken() -> Learned {
        Learned::Broken(BreakReason::RefreshFailed, Some("CONN-REFRESH-FAILED".into()))
    }

    #[test]
    fn one_event_per_change_never_one_per_call() {
        let board = Board::default();
        let steps = vec![
            Learned::Served,
            Learned::Served,
            broken(),
            broken(),
            broken(),
            Learned::Served,
            Learned::Gone,
            Learned::Gone,
            Learned::Connected,
            Learned::Connected,
        ];
        let expected = vec![
            None,
            None,
            Some("broken"),
            None,
            None,
            Some("reconnected"),
            Some("disconnected"),
            None,
            Some("reconnected"),
            Some("connected"),
        ];
        assert_eq!(kinds(&board, steps), expected);
        assert_eq!(board.broken.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_revoked_token_is_mended_by_the_provider_or_a_flow_not_by_fastn_serving_it() {
        let board = Board::default();
        let revoked = Learned::Broken(BreakReason::Revoked, None);
        assert_eq!(
            kinds(&board, vec![revoked, Learned::Served, Learned::Accepted]),
            vec![Some("broken"), None, Some("reconnected")]
        );
        assert_eq!(kinds(&board, vec![Learned::Gone]), vec![Some("disconnected")]);
        assert_eq!(board.health(key()).state, HealthState::Disconnected);
        let never = Key { tenant_id: Some("never-connected"), ..key() };
        assert!(board.learned(never, Learned::Gone).is_none(), "a connection never seen is not disconnected");
        assert_eq!(board.health(never).state, HealthState::Unknown);
    }

    #[tokio::test(start_paused = true)]
    async fn a_broken_connection_is_refused_between_probes_that_back_off() {
        let board = Board::default();
        assert!(board.gate(key()).is_ok());
        board.learned(key(), broken());
        let err = board.gate(key()).unwrap_err();
        assert!(err.needs_reconnect() && err.fastn_code() == Some("CONN-REFRESH-FAILED"), "{err}");
        let mut probes = Vec::new();
        let started = Instant::now();
        // An hour of calls, one a second: the probes the gate lets through.
        for _ in 0..3600 {
            if board.gate(key()).is_ok() {
                probes.push((Instant::now() - started).as_secs());
            }
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(probes, vec![30, 90, 210, 450, 930, 1830, 2730]);
        board.learned(key(), Learned::Connected);
        assert!(board.gate(key()).is_ok(), "a reconnect ends it");
    }
}
