//! Connection health: what the SDK's calls learned of each connection, told to the app as
//! one event per change, and a broken connection's calls refused at once until a bounded
//! probe or a reconnect.
//!
//! ```
//! # use std::time::Duration;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use fastn_auth::health::{EventKind, HealthState};
//! use fastn_auth_emulator::{ConnectionBreak, ConnectionKey, MockServer};
//! use futures_util::StreamExt as _;
//!
//! let mock = MockServer::builder().auto_approve_after_polls(1).start().await?;
//! mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
//! let client = mock.client();
//! let mut events = client.events();
//!
//! mock.break_connection("slack", "acme", ConnectionBreak::RefreshFailed);
//! let err = client.credentials("slack").tenant_id("acme").send().await.unwrap_err();
//! assert!(err.needs_reconnect());
//! let event = events.next().await.unwrap()?;
//! assert!(matches!(event.kind, EventKind::Broken { .. }));
//! let health = client.health("slack").tenant_id("acme").send().await;
//! assert!(matches!(health.state, HealthState::Broken { .. }));
//!
//! // One step to mend it: a flow for the same connection; the user consents again.
//! let session = client.reconnect("slack").tenant_id("acme").send().await?;
//! session.wait_for_completion(fastn_auth::PollOptions::new(Duration::from_millis(10), Duration::from_secs(5))).await?;
//! assert_eq!(events.next().await.unwrap()?.kind, EventKind::Reconnected);
//! # Ok(())
//! # }
//! ```

mod board;
mod events;
mod fleet;

use std::time::{Duration, SystemTime};

/// Why a connection is broken (declared with the errors, which carry it).
pub use crate::error::BreakReason;
pub(crate) use board::{Board, Learned};
pub use events::{ConnectionEvents, EventsLagged};
pub(crate) use fleet::Fleet;

/// How long after a connection breaks its calls are refused before one is let through to
/// ask again (a probe); the pause doubles after each probe that finds it still broken, up to
/// [`MAX_PROBE_INTERVAL`].
pub const FIRST_PROBE_AFTER: Duration = Duration::from_secs(30);
/// The longest pause between two probes of a broken connection.
pub const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// The most connections whose health a client tracks; past it, healthy connections are not
/// tracked (broken ones always are).
pub const MAX_TRACKED: usize = 100_000;

/// What the client knows of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthState {
    /// Nothing learned yet (no call for it in this process or, with a shared store, the
    /// fleet).
    Unknown,
    /// The last call that could tell succeeded.
    Healthy,
    /// Broken until the tenant connects again; calls fail at once with
    /// [`needs_reconnect()`](crate::Error::needs_reconnect) but for a probe now and then.
    Broken {
        /// Why.
        reason: BreakReason,
        /// Fastn's code that said so, when it said one.
        fastn_code: Option<String>,
    },
    /// It existed and Fastn no longer has it.
    Disconnected,
}

impl HealthState {
    /// `unknown`, `healthy`, `broken` or `disconnected`.
    pub fn as_str(&self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Healthy => "healthy",
            HealthState::Broken { .. } => "broken",
            HealthState::Disconnected => "disconnected",
        }
    }
}

/// A connection's health ([`HealthRequest::send`](crate::HealthRequest::send)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// The state.
    pub state: HealthState,
    /// Since when it is in that state (`None` while unknown).
    pub since: Option<SystemTime>,
    /// When a call last told anything about it (`None` while unknown).
    pub checked_at: Option<SystemTime>,
}

/// What changed ([`ConnectionEvent::kind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A flow for it ended `ACTIVE` (a new connection, or one made again while healthy).
    Connected,
    /// It broke.
    Broken {
        /// Why.
        reason: BreakReason,
        /// Fastn's code that said so, when it said one.
        fastn_code: Option<String>,
    },
    /// A broken or disconnected connection works again (a reconnect, or a probe found it
    /// mended).
    Reconnected,
    /// It existed and Fastn no longer has it.
    Disconnected,
}

impl EventKind {
    /// `connected`, `broken`, `reconnected` or `disconnected`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Connected => "connected",
            EventKind::Broken { .. } => "broken",
            EventKind::Reconnected => "reconnected",
            EventKind::Disconnected => "disconnected",
        }
    }
}

/// A change of a connection's health ([`FastnAuth::events`](crate::FastnAuth::events)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionEvent {
    /// The connector.
    pub connector_id: String,
    /// The org.
    pub org_id: String,
    /// The tenant, when the connection is a tenant's.
    pub tenant_id: Option<String>,
    /// The connection id, when calls name one.
    pub connection_id: Option<String>,
    /// What changed.
    pub kind: EventKind,
    /// When the change was seen.
    pub at: SystemTime,
}
