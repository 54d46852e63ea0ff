//! Following flows for the browser: one poller per flow per process, however many event
//! streams listen, and the caps on open streams.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fastn_auth::{AuthStatus, FastnAuth, SessionHandle};
use serde::Serialize;
use tokio::sync::watch;

/// A flow's status as the routes answer it: `{"status": "ACTIVE", "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FlowStatus {
    pub(crate) status: AuthStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
}

impl FlowStatus {
    pub(crate) fn is_final(&self) -> bool {
        self.status != AuthStatus::Inactive
    }
}

type Latest = watch::Sender<Option<FlowStatus>>;

/// The flows followed by this process, and its open event streams.
pub(crate) struct Watchers {
    client: FastnAuth,
    interval: Duration,
    flows: Mutex<HashMap<String, Arc<Latest>>>,
    streams: Mutex<Streams>,
    max_streams: usize,
    max_streams_per_tenant: usize,
}

#[derive(Default)]
struct Streams {
    open: usize,
    per_tenant: HashMap<String, usize>,
}

/// An open event stream, counted until dropped.
pub(crate) struct StreamSlot {
    watchers: Arc<Watchers>,
    tenant: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.watchers.streams();
        streams.open = streams.open.saturating_sub(1);
        if let Some(count) = streams.per_tenant.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                streams.per_tenant.remove(&self.tenant);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Watchers {
    pub(crate) fn new(client: FastnAuth, interval: Duration, max_streams: usize, per_tenant: usize) -> Self {
        Watchers {
            client,
            interval,
            flows: Mutex::default(),
            streams: Mutex::default(),
            max_streams,
            max_streams_per_tenant: per_tenant,
        }
    }

    fn streams(&self) -> std::sync::MutexGuard<'_, Streams> {
        lock(&self.streams)
    }

    /// A slot for one more event stream of `tenant`, or `None` when this process or this
    /// tenant has as many open as allowed. The last quarter of the process's streams is
    /// kept for tenants that have none open: tenants at their own cap cannot fill the
    /// process for the others.
    pub(crate) fn open_stream(self: &Arc<Self>, tenant: &str) -> Option<StreamSlot> {
        let mut streams = self.streams();
        let of_tenant = streams.per_tenant.get(tenant).copied().unwrap_or(0);
        let shared = self.max_streams - self.max_streams / 4;
        if streams.open >= self.max_streams
            || of_tenant >= self.max_streams_per_tenant
            || (of_tenant > 0 && streams.open >= shared)
        {
            return None;
        }
        streams.open += 1;
        *streams.per_tenant.entry(tenant.to_owned()).or_default() += 1;
        Some(StreamSlot { watchers: self.clone(), tenant: tenant.to_owned() })
    }

    /// The latest status of `state`, if this process follows it and has polled it.
    pub(crate) fn latest(&self, state: &str) -> Option<FlowStatus> {
        lock(&self.flows).get(state).and_then(|latest| latest.borrow().clone())
    }

    /// Follows the flow of `handle` until it ends, `until` passes, or nobody listens: one
    /// poller for every subscriber of this process.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        handle: &SessionHandle,
        until: SystemTime,
    ) -> watch::Receiver<Option<FlowStatus>> {
        let mut flows = lock(&self.flows);
        if let Some(latest) = flows.get(handle.state()) {
            return latest.subscribe();
        }
        let latest = Arc::new(watch::Sender::new(None));
        let receiver = latest.subscribe();
        flows.insert(handle.state().to_owned(), latest.clone());
        tokio::spawn(self.clone().poll(handle.clone(), latest, until));
        receiver
    }

    /// One status request per interval (the SDK's own status wait: a transient fault backs
    /// off, honouring `Retry-After`), its answer shared with every listener.
    async fn poll(self: Arc<Self>, handle: SessionHandle, latest: Arc<Latest>, until: SystemTime) {
        let state = handle.state().to_owned();
        let session = self.client.resume(handle);
        let deadline =
            tokio::time::Instant::now() + until.duration_since(SystemTime::now()).unwrap_or_default();
        if let Ok(mut poller) = session.poller(self.interval) {
            loop {
                tokio::select! {
                    answer = poller.next() => match answer {
                        Ok(answer) => {
                            let status = FlowStatus { status: answer.status, message: answer.error_message };
                            let last = status.is_final();
                            latest.send_if_modified(|held| {
                                let changed = held.as_ref() != Some(&status);
                                *held = Some(status);
                                changed
                            });
                            if last {
                                break;
                            }
                        }
                        // What polling again will not mend (the flow is unknown, the key
                        // refused): the listeners keep the last status until their own end.
                        Err(err) => {
                            tracing::debug!(error = %err, "polling a flow failed");
                            break;
                        }
                    },
                    () = tokio::time::sleep_until(deadline) => break,
                    () = latest.closed() => {
                        // Nobody listens now; a new listener made under the lock keeps it going.
                        let mut flows = lock(&self.flows);
                        if latest.receiver_count() == 0 {
                            flows.remove(&state);
                            return;
                        }
                    }
                }
            }
        }
        lock(&self.flows).remove(&state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastn_auth::wire::Endpoint;
    use fastn_auth_emulator::{Fault, MockServer};

    #[tokio::test(start_paused = true)]
    async fn a_status_answered_with_retry_after_is_asked_again_only_after_it() {
        let mock = MockServer::builder().start().await.unwrap();
        let client = mock.client();
        let session = client.connect("slack").tenant_id("acme").send().await.unwrap();
        mock.inject(Endpoint::Status, Fault::status_retry_after(503, 7));
        let watchers = Arc::new(Watchers::new(client, Duration::from_secs(1), 24, 8));
        let started = tokio::time::Instant::now();
        let mut latest = watchers.subscribe(session.handle(), SystemTime::now() + Duration::from_secs(60));
        latest.changed().await.unwrap();
        assert_eq!(latest.borrow().as_ref().map(|s| s.status), Some(AuthStatus::Inactive));
        assert!(started.elapsed() >= Duration::from_secs(7), "asked again after {:?}", started.elapsed());
        assert_eq!(mock.requests_to(Endpoint::Status), 2, "the 503, then one poll after its Retry-After");
    }

    #[tokio::test]
    async fn tenants_at_their_cap_leave_room_for_a_tenant_with_none() {
        let client = FastnAuth::builder("space").api_key("key").build().unwrap();
        let watchers = Arc::new(Watchers::new(client, Duration::from_secs(2), 24, 8));
        let mut held = Vec::new();
        let mut opened = HashMap::new();
        for tenant in ["a", "b", "c"] {
            while let Some(slot) = watchers.open_stream(tenant) {
                held.push(slot);
                *opened.entry(tenant).or_insert(0) += 1;
            }
        }
        assert_eq!((opened["a"], opened["b"], opened["c"]), (8, 8, 2), "three quarters are shared");
        for tenant in ["d", "e", "f", "g", "h", "i"] {
            held.push(watchers.open_stream(tenant).unwrap_or_else(|| panic!("{tenant} got no first stream")));
        }
        assert!(watchers.open_stream("j").is_none(), "the process cap holds");
        held.truncate(0);
        assert_eq!(watchers.streams().open, 0, "every slot is given back");
    }
}
