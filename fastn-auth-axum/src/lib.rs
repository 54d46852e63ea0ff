//! "Connect Slack" in an [axum](https://docs.rs/axum) app: a router that starts
//! [Fastn](https://fastn.ai) connector flows for the signed-in tenant, keeps their handles
//! where every replica can read them, streams their status to the browser, and serves a
//! small dependency-free `connect.js` for the button.
//!
//! ```
//! use axum::extract::Request;
//! use axum::middleware::{self, Next};
//! use axum::response::Response;
//! use fastn_auth_axum::{ConnectRouter, MemoryHandles, Tenant};
//!
//! /// Your own authentication decides who the tenant is; the router never asks the browser.
//! async fn your_auth(mut request: Request, next: Next) -> Response {
//!     request.extensions_mut().insert(Tenant("acme".into()));
//!     next.run(request).await
//! }
//!
//! # async fn app(client: fastn_auth::FastnAuth) -> axum::Router {
//! let routes: axum::Router = ConnectRouter::new(client, ["slack"]) // or ConnectorId::ALL
//!     .handles(MemoryHandles::default())                     // or RedisHandles (feature `redis`)
//!     .into_router();
//! let app = axum::Router::new().nest("/integrations", routes)
//!     .layer(axum::middleware::from_fn(your_auth));          // your auth inserts `Tenant`
//! # app
//! # }
//! ```
//!
//! and in the page:
//!
//! ```html
//! <script src="/integrations/connect.js" defer></script>
//! <form method="post" action="/integrations/slack/connect">
//!   <button data-fastn-connect="slack">Connect Slack</button>
//! </form>
//! <script>
//!   addEventListener("fastn:connected", (e) => console.log("connected", e.detail.connector));
//!   addEventListener("fastn:failed", (e) => console.log("failed", e.detail.message));
//! </script>
//! ```
//!
//! Routes, relative to where the router is nested:
//!
//! | route | answers |
//! |---|---|
//! | `POST /{connector}/connect` | starts a flow for the tenant, stores its handle; `303` to the consent page, or with `Accept: application/json` `{"state", "redirect_url", "events_url"}`; `403` cross-site, `429` with `Retry-After` past the tenant's limits. With [`ConnectRouter::return_to`]: through Fastn's connections API, `303` to the consent page or `{"connection_id", "redirect_url"}`, and the user comes back to your page |
//! | `GET /flows/{state}` | `{"status": "INACTIVE" \| "ACTIVE" \| "FAILED", "message"?}`; a self-refreshing page for `Accept: text/html` |
//! | `GET /flows/{state}/events` | Server-Sent Events: `event: status` with that JSON on each change, closed after `ACTIVE` or `FAILED` or at the flow's deadline |
//! | `GET /{connector}` | `{"connected": true \| false, "state": "healthy" \| "broken" \| "disconnected" \| "unknown"}` for the tenant, through the client's credentials cache (build it with `.cache(..)`, or each answer asks Fastn); a broken one adds `"reason"` and `"reconnect"` (the route that starts a flow to mend it) |
//! | `GET /events` | Server-Sent Events: `event: health` with `{"connector", "kind", "reason"?}` on each change of one of the tenant's connections (`broken`, `reconnected`, …) |
//! | `GET /connect.js` | the script: a `data-fastn-connect` button opens the consent page in a popup, follows the events and dispatches `fastn:connected` / `fastn:failed` on the button (they bubble); a button whose connection is broken says "Reconnect" and dispatches `fastn:broken` |
//!
//! - **Only your connectors**: [`ConnectRouter::new`] takes the connectors served (a
//!   manifest's `ConnectorId::ALL`); another connector id is `404` and nothing reaches
//!   Fastn. [`ConnectRouter::any`] serves every id, on purpose.
//! - **Tenants**: a request without a [`Tenant`] extension is `401`. A flow belongs to the
//!   tenant that started it: another tenant asking for it gets `404`, as for none.
//! - **No cross-site starts**: a `POST` with the `Origin` of another host, or
//!   `Sec-Fetch-Site: cross-site`, is `403` and nothing is sent to Fastn. The request's
//!   own host is its `Host` header, or over HTTP/2 its `:authority`.
//! - **No tenant crowds out another**: a tenant may have at most
//!   [`DEFAULT_PENDING_FLOWS_PER_TENANT`] flows pending and start at most
//!   [`DEFAULT_STARTS_PER_MINUTE`] a minute ([`ConnectRouter::tenant_limits`]); past
//!   either, `429` with `Retry-After` and nothing sent to Fastn. [`MemoryHandles`] never
//!   drops one tenant's flow to make room for another's.
//! - **One poll per flow**: however many tabs listen, each process polls Fastn once per
//!   interval per flow ([`ConnectRouter::poll_interval`], default 2 s), and stops when the
//!   flow ends, its deadline passes, or nobody listens.
//! - **Bounded**: at most [`MAX_STREAMS`] open event streams per process and
//!   [`MAX_STREAMS_PER_TENANT`] per tenant (over either: `429`), the last quarter of the
//!   process's kept for tenants with none open, each ending at the flow's deadline
//!   ([`ConnectRouter::flow_ttl`], default 10 minutes).
//! - **Any replica**: with `RedisHandles` (feature `redis`), a flow started on one
//!   replica is followed on any other.
//! - **Back to your page instead of a popup**: [`ConnectRouter::return_to`] starts flows
//!   through Fastn's connections API; after consent the user lands on your page, which asks
//!   `GET /{connector}` whether the tenant is now connected.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod handles;
mod quota;
#[cfg(feature = "redis")]
mod redis_handles;
mod routes;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fastn_auth::FastnAuth;

pub use handles::{
    DEFAULT_MEMORY_FLOWS, DEFAULT_MEMORY_FLOWS_PER_TENANT, FlowRecord, HandleError, HandleFuture,
    HandleStore, MemoryHandles,
};
#[cfg(feature = "redis")]
pub use redis_handles::RedisHandles;

/// The default cap on open event streams per process.
pub const MAX_STREAMS: usize = 1_000;
/// The default cap on open event streams per tenant (a few tabs each).
pub const MAX_STREAMS_PER_TENANT: usize = 8;
/// How long a flow can be followed by default: its handle is kept, and its streams end,
/// this long after it starts (an OAuth consent takes minutes, not hours).
pub const DEFAULT_FLOW_TTL: Duration = Duration::from_secs(600);
/// The longest [`ConnectRouter::flow_ttl`]: a day.
pub const MAX_FLOW_TTL: Duration = Duration::from_secs(86_400);
/// The default cap on one tenant's pending flows (started, not yet seen to end, not past
/// their deadline), per process.
pub const DEFAULT_PENDING_FLOWS_PER_TENANT: usize = 20;
/// The default cap on the flows one tenant starts in a minute, per process.
pub const DEFAULT_STARTS_PER_MINUTE: usize = 10;
/// How often each process polls Fastn for a followed flow by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The script `GET /connect.js` serves.
pub const CONNECT_JS: &str = include_str!("connect.js");

/// Who the request is for: your own authentication middleware inserts it as a request
/// extension (`request.extensions_mut().insert(Tenant(id))`). The router never takes a
/// tenant from the browser; a request without one is answered `401`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Tenant>() {
            Some(tenant) if !tenant.0.is_empty() => Ok(tenant.clone()),
            _ => Err((
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({ "error": "sign in first: the request has no tenant" })),
            )
                .into_response()),
        }
    }
}

/// Builds the router; see the [crate docs](crate).
#[must_use = "call .into_router()"]
pub struct ConnectRouter {
    client: FastnAuth,
    handles: Option<Box<dyn HandleStore>>,
    flow_ttl: Duration,
    poll_interval: Duration,
    max_streams: usize,
    max_streams_per_tenant: usize,
    max_pending_flows: usize,
    max_starts_per_minute: usize,
    only: Option<std::collections::HashSet<String>>,
    return_to: Option<fastn_auth::Url>,
}

impl std::fmt::Debug for ConnectRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRouter")
            .field("client", &self.client)
            .field("flow_ttl", &self.flow_ttl)
            .field("poll_interval", &self.poll_interval)
            .field("max_streams", &self.max_streams)
            .field("max_streams_per_tenant", &self.max_streams_per_tenant)
            .field("max_pending_flows", &self.max_pending_flows)
            .field("max_starts_per_minute", &self.max_starts_per_minute)
            .field("only", &self.only)
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

impl ConnectRouter {
    /// A router starting flows with `client` for `connectors` only (a manifest's
    /// `ConnectorId::ALL`, or ids): any other id in `/{connector}/connect` or `/{connector}`
    /// is `404`, and nothing is sent to Fastn, so a typo never starts a flow. Handles are
    /// kept in a [`MemoryHandles`] unless [`handles`](Self::handles) is given.
    ///
    /// ```
    /// # fn build(client: fastn_auth::FastnAuth) -> axum::Router {
    /// fastn_auth_axum::ConnectRouter::new(client, ["slack", "salesforce"]).into_router()
    /// # }
    /// ```
    pub fn new(client: FastnAuth, connectors: impl IntoIterator<Item = impl std::fmt::Display>) -> Self {
        let mut router = ConnectRouter::any(client);
        router.only = Some(connectors.into_iter().map(|id| id.to_string()).collect());
        router
    }

    /// A router for every connector id a request names, on purpose (Fastn decides which
    /// exist): for an app whose connectors are not known when it is built.
    pub fn any(client: FastnAuth) -> Self {
        ConnectRouter {
            client,
            handles: None,
            flow_ttl: DEFAULT_FLOW_TTL,
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_streams: MAX_STREAMS,
            max_streams_per_tenant: MAX_STREAMS_PER_TENANT,
            max_pending_flows: DEFAULT_PENDING_FLOWS_PER_TENANT,
            max_starts_per_minute: DEFAULT_STARTS_PER_MINUTE,
            only: None,
            return_to: None,
        }
    }

    /// Where flow handles are kept: [`MemoryHandles`] for one process, `RedisHandles`
    /// (feature `redis`) or your own [`HandleStore`] for a fleet.
    pub fn handles(mut self, handles: impl HandleStore) -> Self {
        self.handles = Some(Box::new(handles));
        self
    }

    /// How long a flow can be followed after it starts (default [`DEFAULT_FLOW_TTL`]; from
    /// 1 second to [`MAX_FLOW_TTL`]).
    pub fn flow_ttl(mut self, ttl: Duration) -> Self {
        self.flow_ttl = ttl.clamp(Duration::from_secs(1), MAX_FLOW_TTL);
        self
    }

    /// How often a followed flow is polled (default [`DEFAULT_POLL_INTERVAL`]; at least
    /// 50 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(50));
        self
    }

    /// The most open event streams of this process (default [`MAX_STREAMS`]) and of one
    /// tenant (default [`MAX_STREAMS_PER_TENANT`]). The last quarter of the process's
    /// streams is kept for tenants with none open, so tenants at their own cap never fill
    /// the process for the others.
    pub fn max_streams(mut self, per_process: usize, per_tenant: usize) -> Self {
        self.max_streams = per_process;
        self.max_streams_per_tenant = per_tenant;
        self
    }

    /// What one tenant may start, per process: at most `pending` flows started and not yet
    /// ended nor past their deadline (default [`DEFAULT_PENDING_FLOWS_PER_TENANT`]), and at
    /// most `per_minute` starts in any minute (default [`DEFAULT_STARTS_PER_MINUTE`]); each
    /// at least 1. Past either a start is `429` with `Retry-After`, and nothing is sent to
    /// Fastn.
    pub fn tenant_limits(mut self, pending: usize, per_minute: usize) -> Self {
        self.max_pending_flows = pending;
        self.max_starts_per_minute = per_minute;
        self
    }

    /// Starts flows through Fastn's connections API so that the user comes back to `url`, a
    /// page of your app, instead of finishing in a popup: `POST /{connector}/connect`
    /// answers `303` to Fastn's consent page (or `{"connection_id", "redirect_url"}` as
    /// JSON, which `connect.js` then follows in the same tab), and after consent Fastn sends
    /// the user to `url` with `connector={id}` added to its query (and Fastn's own
    /// `connection_id` and `status`). Those parameters come from the browser: the page asks
    /// `GET /{connector}` whether the tenant is connected before it says so.
    ///
    /// # Errors
    /// [`fastn_auth::ErrorKind::Config`] when `url` is not an absolute `http(s)` URL.
    ///
    /// ```
    /// # fn build(client: fastn_auth::FastnAuth) -> Result<axum::Router, fastn_auth::Error> {
    /// let routes = fastn_auth_axum::ConnectRouter::new(client, ["hubspot"])
    ///     .return_to("https://app.example.com/settings/integrations")?
    ///     .into_router();
    /// # Ok(routes)
    /// # }
    /// ```
    pub fn return_to(mut self, url: &str) -> Result<Self, fastn_auth::Error> {
        match fastn_auth::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "https" | "http") && parsed.has_host() => {
                self.return_to = Some(parsed);
                Ok(self)
            }
            _ => Err(fastn_auth::Error::config(format!(
                "return_to needs an absolute http(s) URL of your app's page, got {:?}",
                url.chars().take(200).collect::<String>()
            ))),
        }
    }

    /// The routes, to `nest` under a path of your app.
    pub fn into_router(self) -> axum::Router {
        let watchers = Arc::new(watch::Watchers::new(
            self.client.clone(),
            self.poll_interval,
            self.max_streams,
            self.max_streams_per_tenant,
        ));
        let shared = Arc::new(routes::Shared {
            client: self.client,
            handles: self.handles.unwrap_or_else(|| Box::new(MemoryHandles::default())),
            watchers,
            quotas: quota::Quotas::new(self.max_pending_flows, self.max_starts_per_minute),
            only: self.only,
            flow_ttl: self.flow_ttl,
            script: routes::script_for(self.return_to.is_some()),
            return_to: self.return_to,
        });
        axum::Router::new()
            .route("/connect.js", get(routes::script))
            .route("/flows/{state}", get(routes::status))
            .route("/flows/{state}/events", get(routes::events))
            .route("/events", get(routes::health_events))
            .route("/{connector}/connect", post(routes::connect))
            .route("/{connector}", get(routes::connected))
            .with_state(shared)
    }
}
