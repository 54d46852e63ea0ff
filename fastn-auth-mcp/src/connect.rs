//! Connect on demand: the one pending flow of each tenant and connector, started when a
//! call finds the tenant not connected and reused while the user has not answered it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fastn_auth::{AuthSession, AuthStatus, Error, FastnAuth, PollOptions, Url};
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared, WeakShared};
use tokio::time::Instant;

/// A tenant and a connector (its connect id).
type Key = (String, String);

/// The pending flows of a server, shared by every session and request it serves.
#[derive(Debug)]
pub(crate) struct Flows {
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
    /// The most flows held at once, over every tenant.
    max: usize,
    /// How long a flow is handed out: older, it is replaced, and its place may be taken.
    ttl: Duration,
}

/// One tenant's flow for one connector; the async lock makes its start single-flight.
struct Slot {
    session: tokio::sync::Mutex<Option<AuthSession>>,
    /// When its flow (or the slot, before one) was started.
    started: Mutex<Instant>,
    /// The wait in progress, which every call waiting on this flow shares: one poller
    /// however many calls wait, and none once the last of them is dropped (a weak handle).
    waiting: Mutex<Option<WeakShared<Wait>>>,
}

/// The status wait of one flow.
type Wait = BoxFuture<'static, Waited>;

/// How a wait for a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waited {
    /// Connected, failed or refused: the flow is done with.
    Ended,
    /// Still pending when the wait's time ran out.
    Pending,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("started", &self.started).finish_non_exhaustive()
    }
}

impl Slot {
    fn new() -> Self {
        Slot {
            session: tokio::sync::Mutex::new(None),
            started: Mutex::new(Instant::now()),
            waiting: Mutex::new(None),
        }
    }

    /// The wait in progress on `session`, or a new one.
    fn wait(&self, session: AuthSession, options: PollOptions) -> Shared<Wait> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        // A finished wait still held by a late caller is not joined: it would answer at once.
        if let Some(shared) = waiting.as_ref().and_then(WeakShared::upgrade).filter(|s| s.peek().is_none()) {
            return shared;
        }
        let wait: Wait = async move {
            match session.wait_until_connected(options).await {
                Err(err) if err.is_timeout() => Waited::Pending,
                _ => Waited::Ended,
            }
        }
        .boxed();
        let shared = wait.shared();
        *waiting = shared.downgrade();
        shared
    }

    fn age(&self) -> Duration {
        self.started.lock().unwrap_or_else(PoisonError::into_inner).elapsed()
    }

    fn restart(&self) {
        *self.started.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

/// Why no consent URL could be given.
#[derive(Debug)]
pub(crate) enum ConsentError {
    /// The process holds [`Flows::max`] flows already.
    Full(usize),
    /// Fastn did not start the flow.
    Fastn(Error),
    /// Fastn started a flow with no URL for the user (not a connector the user connects).
    NoUrl,
}

impl std::fmt::Display for ConsentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsentError::Full(max) => {
                write!(f, "{max} connect flows are already waiting for their users; try again later")
            }
            // What a model reads: the SDK's words, never Fastn's text (logged where it failed).
            ConsentError::Fastn(err) => write!(f, "the connect flow could not be started: {}", err.brief()),
            ConsentError::NoUrl => f.write_str("Fastn gave no link for the user to connect it with"),
        }
    }
}

impl Flows {
    pub(crate) fn new(max: usize, ttl: Duration) -> Self {
        Flows { slots: Mutex::new(HashMap::new()), max, ttl }
    }

    fn held(&self, key: &Key) -> Option<Arc<Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    /// The slot of `key`, made when there is none and the process has room.
    fn held_or_new(&self, key: &Key) -> Result<Arc<Slot>, ConsentError> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(key) {
            return Ok(slot.clone());
        }
        if slots.len() >= self.max {
            // Flows past their time are not handed out again: their places are free.
            slots.retain(|_, slot| slot.age() < self.ttl);
        }
        if slots.len() >= self.max {
            return Err(ConsentError::Full(self.max));
        }
        let slot = Arc::new(Slot::new());
        slots.insert(key.clone(), slot.clone());
        Ok(slot)
    }

    fn forget(&self, key: &Key) {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    /// The consent URL of the tenant's pending flow for `connector`: the flow already
    /// started when Fastn still has it pending, else a new one.
    pub(crate) async fn consent(
        &self,
        client: &FastnAuth,
        tenant: &str,
        connector: &str,
    ) -> Result<Url, ConsentError> {
        let key = (tenant.to_owned(), connector.to_owned());
        let slot = self.held_or_new(&key)?;
        let mut held = slot.session.lock().await;
        if let Some(session) = held.as_ref().filter(|_| slot.age() < self.ttl) {
            // One status request says whether the user can still answer it: a flow that
            // failed, expired or was connected meanwhile is not handed out again.
            match session.get_status().await {
                Ok(status) if status.status == AuthStatus::Inactive => {
                    if let Some(url) = session.redirect_url() {
                        return Ok(url.clone());
                    }
                }
                _ => {}
            }
            *held = None;
        }
        // A reconnect: for a broken connection its calls then point at this consent page
        // (for one never made, the same as a connect).
        let started = client.reconnect(connector).tenant_id(tenant).send().await;
        let session = match started {
            Ok(session) => session,
            Err(err) => {
                drop(held);
                self.forget(&key);
                tracing::warn!(error = %err, connector, tenant, "a connect flow could not be started");
                return Err(ConsentError::Fastn(err));
            }
        };
        let Some(url) = session.redirect_url().cloned() else {
            drop(held);
            self.forget(&key);
            return Err(ConsentError::NoUrl);
        };
        tracing::info!(connector, tenant, "connect flow started for a tool call");
        *held = Some(session);
        slot.restart();
        Ok(url)
    }

    /// Waits up to `wait` for the tenant's pending flow of `connector` to be connected. A
    /// flow connected or failed is forgotten (the next call runs, or starts another); one
    /// still pending is kept.
    ///
    /// Calls waiting on one flow share one status poll, which ends with the first wait's
    /// time (a later call joining it waits no longer than that) or when every call waiting
    /// on it was dropped (its client hung up or cancelled): nobody polls for nobody.
    /// Only the status is asked: this process never fetches the tenant's credentials.
    pub(crate) async fn wait(&self, tenant: &str, connector: &str, interval: Duration, wait: Duration) {
        let key = (tenant.to_owned(), connector.to_owned());
        let Some(slot) = self.held(&key) else { return };
        let Some(session) = slot.session.lock().await.clone() else { return };
        if slot.wait(session, PollOptions::new(interval, wait)).await == Waited::Ended {
            self.forget(&key);
        }
    }

    /// Forgets the tenant's flow of `connector`: its call succeeded.
    pub(crate) fn connected(&self, tenant: &str, connector: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        // Most successful calls had no flow: no key is built for them.
        if !slots.is_empty() {
            slots.remove(&(tenant.to_owned(), connector.to_owned()));
        }
    }

    /// How many flows are held.
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastn_auth::Endpoint;
    use fastn_auth_emulator::MockServer;

    #[tokio::test]
    async fn a_full_process_takes_new_flows_again_once_one_is_past_its_time() {
        let mock = MockServer::start().await.unwrap();
        let client = mock.client();
        let ttl = crate::DEFAULT_FLOW_TTL;
        let flows = Flows::new(1, ttl);
        let first = flows.consent(&client, "acme", "slack").await.unwrap();
        assert_eq!(flows.consent(&client, "acme", "slack").await.unwrap(), first, "reused while pending");
        let full = flows.consent(&client, "globex", "slack").await;
        assert!(matches!(full, Err(ConsentError::Full(1))), "{full:?}");
        // The flow's time passes (the clock moved, no wait).
        tokio::time::pause();
        tokio::time::advance(ttl).await;
        tokio::time::resume();
        let globex = flows.consent(&client, "globex", "slack").await.unwrap();
        assert_ne!(globex, first);
        assert_eq!(flows.len(), 1, "acme's old flow gave its place");
        assert_eq!(mock.requests_to(Endpoint::Init), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_waiting_on_one_flow_share_one_poll_which_stops_when_they_hang_up() {
        let mock = MockServer::start().await.unwrap();
        let client = mock.client();
        let flows = Arc::new(Flows::new(10, crate::DEFAULT_FLOW_TTL));
        flows.consent(&client, "acme", "slack").await.unwrap();
        let interval = Duration::from_secs(1);
        let waiters: Vec<_> = (0..16)
            .map(|_| {
                let flows = flows.clone();
                tokio::spawn(async move {
                    flows.wait("acme", "slack", interval, Duration::from_secs(120)).await;
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let polled = mock.requests_to(Endpoint::Status);
        assert!((9..=12).contains(&polled), "16 waiting calls, one poll a second: {polled} in 10 s");
        for waiter in &waiters {
            waiter.abort();
        }
        for waiter in waiters {
            assert!(waiter.await.unwrap_err().is_cancelled());
        }
        let after = mock.requests_to(Endpoint::Status);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(mock.requests_to(Endpoint::Status), after, "no poll for calls that hung up");
        assert_eq!(flows.len(), 1, "the flow itself is still pending for its user");
    }
}
