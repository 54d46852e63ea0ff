//! Health across the replicas that share a store: a change one replica sees is published on
//! the store's channel (and kept as the connection's current state), and every other
//! replica takes it in — its subscribers hear it once, its cached token is dropped — so it
//! stops calling with a broken token. A replica that starts later reads the stored state
//! the first time it needs the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{BreakReason, ConnectionEvent, EventKind};
use crate::store::{self, SharedLevel};
use crate::target::Target;

/// How long a connection's state is kept in the store after its last change.
pub(crate) const STATE_TTL: Duration = Duration::from_secs(7 * 86_400);
/// The longest pause before subscribing again after the store's channel was lost.
const MAX_RESUBSCRIBE: Duration = Duration::from_secs(30);
/// The longest id a message may carry (ids past it are not Fastn's).
const MAX_ID: usize = 512;

/// A change as it travels between replicas, and as the store keeps a connection's state.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Message {
    /// The replica that saw it.
    origin: u64,
    connector_id: String,
    org_id: String,
    tenant_id: Option<String>,
    connection_id: Option<String>,
    /// `connected`, `broken`, `reconnected` or `disconnected`.
    kind: String,
    reason: Option<String>,
    fastn_code: Option<String>,
    at_ms: u64,
}

impl Message {
    fn of(origin: u64, event: &ConnectionEvent) -> Self {
        let (reason, fastn_code) = match &event.kind {
            EventKind::Broken { reason, fastn_code } => {
                (Some(reason.as_str().to_owned()), fastn_code.clone())
            }
            _ => (None, None),
        };
        Message {
            origin,
            connector_id: event.connector_id.clone(),
            org_id: event.org_id.clone(),
            tenant_id: event.tenant_id.clone(),
            connection_id: event.connection_id.clone(),
            kind: event.kind.as_str().to_owned(),
            reason,
            fastn_code,
            at_ms: store::millis(event.at),
        }
    }

    /// The connection, the change and when, if the message is one this version writes
    /// (anything else is dropped: the store sealed it, but it is read as untrusted).
    pub(crate) fn read(bytes: &[u8]) -> Option<(u64, Target, EventKind, SystemTime)> {
        let message: Message = serde_json::from_slice(bytes).ok()?;
        let ids = [Some(&message.connector_id), Some(&message.org_id), message.tenant_id.as_ref()];
        if ids.into_iter().chain([message.connection_id.as_ref()]).flatten().any(|id| id.len() > MAX_ID) {
            return None;
        }
        let code = message.fastn_code.filter(|code| crate::wire::is_code(code));
        let kind = match (message.kind.as_str(), message.reason.as_deref()) {
            ("connected", _) => EventKind::Connected,
            ("reconnected", _) => EventKind::Reconnected,
            ("disconnected", _) => EventKind::Disconnected,
            ("broken", Some(reason)) => EventKind::Broken { reason: reason_of(reason)?, fastn_code: code },
            _ => return None,
        };
        let target = Target {
            connector_id: message.connector_id,
            org_id: message.org_id,
            tenant_id: message.tenant_id,
            connection_id: message.connection_id,
        };
        Some((message.origin, target, kind, store::from_millis(message.at_ms)))
    }
}

fn reason_of(text: &str) -> Option<BreakReason> {
    [BreakReason::Expired, BreakReason::RefreshFailed, BreakReason::AuthFailed, BreakReason::Revoked]
        .into_iter()
        .find(|reason| reason.as_str() == text)
}

/// A client's side of the fleet: the store, the channel, and who this replica is.
#[derive(Debug)]
pub(crate) struct Fleet {
    level: Arc<SharedLevel>,
    channel: String,
    /// This replica, so that it skips its own messages.
    origin: u64,
    listening: AtomicBool,
}

impl Fleet {
    /// The fleet of the clients on `level` whose keys start with `scope`.
    pub(crate) fn new(level: Arc<SharedLevel>, scope: &str) -> Self {
        Fleet {
            level,
            channel: format!("{scope}/health"),
            origin: fastrand::u64(..),
            listening: AtomicBool::new(false),
        }
    }

    /// Publishes `event`, seen here, and keeps it as the connection's state under
    /// `state_key`; a store that fails is logged by the store level, never the caller's
    /// error.
    pub(crate) async fn publish(&self, event: &ConnectionEvent, state_key: &str) {
        let Ok(message) = serde_json::to_vec(&Message::of(self.origin, event)) else { return };
        self.level.set(state_key, &message, STATE_TTL).await;
        self.level.publish(&self.channel, &message).await;
    }

    /// The state another replica stored for the connection of `state_key`.
    pub(crate) async fn stored(&self, state_key: &str) -> Option<(Target, EventKind, SystemTime)> {
        let bytes = self.level.get_bytes(state_key).await?;
        let (_, target, kind, at) = Message::read(&bytes)?;
        Some((target, kind, at))
    }

    /// Starts taking in the other replicas' changes, once: `apply` gets each (and returns
    /// `false` when the client is gone, which ends the listening). Needs a tokio runtime;
    /// without one, a later call starts it.
    pub(crate) fn listen(
        self: &Arc<Self>,
        apply: impl Fn(Target, EventKind, SystemTime) -> bool + Send + 'static,
    ) {
        if self.listening.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        let fleet = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut pause = Duration::from_millis(250);
            loop {
                let Some(this) = fleet.upgrade() else { return };
                // The store first: an unreachable one is reported (once) by its credentials
                // level, and the channel is tried when it is back.
                let _ = this.level.get_bytes(&this.channel).await;
                let subscription =
                    if this.level.is_down() { None } else { this.level.subscribe(&this.channel).await };
                let origin = this.origin;
                drop(this);
                match subscription {
                    Some(Some(mut messages)) => {
                        pause = Duration::from_millis(250);
                        while let Some(bytes) =
                            std::future::poll_fn(|cx| messages.as_mut().poll_next(cx)).await
                        {
                            let Some((from, target, kind, at)) = Message::read(&bytes) else { continue };
                            if from != origin && !apply(target, kind, at) {
                                return;
                            }
                        }
                        tracing::warn!("the store's health channel ended; subscribing again");
                    }
                    // The store carries no messages: the stored state is all there is.
                    Some(None) => return,
                    // The store failed: try again after a pause.
                    None => {}
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RESUBSCRIBE);
            }
        });
    }
}
