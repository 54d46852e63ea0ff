//! The streamable HTTP transport: rmcp's service, stateless (the 2026-07-28 protocol has no
//! sessions, and earlier clients are served request by request), behind the checks a
//! server reachable from a browser needs and the tenant bounds a shared server needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use fastn_auth_axum::Tenant;
use futures_util::StreamExt as _;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::McpServer;

/// The most requests of one tenant served at once unless
/// [`McpHttp::max_requests_per_tenant`] says otherwise.
pub const DEFAULT_MAX_REQUESTS_PER_TENANT: usize = 16;

/// The most requests served at once over every tenant unless [`McpHttp::max_requests`]
/// says otherwise.
pub const DEFAULT_MAX_REQUESTS: usize = 1_024;

/// The largest request body read, in bytes, unless [`McpHttp::max_body`] says otherwise.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// An [`McpServer`] on streamable HTTP: made by [`McpServer::http`], mounted with
/// [`router`](Self::router).
///
/// - **Tenants**: each request's tenant is the [`Tenant`] the application's auth inserted
///   (a layer of the app's, as for `fastn-auth-axum`'s router), or the server's own
///   [`tenant`](crate::McpServerBuilder::tenant); a request with neither is `401`. Calls
///   run, and connect flows are started and reused, for that tenant only.
/// - **Bounds**: at most [`max_requests_per_tenant`](Self::max_requests_per_tenant) requests
///   of one tenant and [`max_requests`](Self::max_requests) in all are served at once, a
///   streamed answer counting until it ends; others are `429` with `Retry-After`, so one
///   tenant cannot crowd out the rest.
/// - **Browsers**: a request whose `Host` is not an allowed host is `403` (DNS rebinding),
///   and so is one with an `Origin` header that is not an allowed origin (none by
///   default: a cross-site page cannot drive the server).
#[derive(Debug)]
#[must_use = "mount .router()"]
pub struct McpHttp {
    server: McpServer,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    max_per_tenant: usize,
    max_total: usize,
    max_body: usize,
    #[cfg(feature = "auth")]
    auth: Option<Arc<crate::auth::McpAuth>>,
}

impl McpHttp {
    pub(crate) fn new(server: McpServer) -> Self {
        McpHttp {
            server,
            allowed_hosts: fastn_auth_rules::api::LOOPBACK_HOSTS.map(str::to_owned).into(),
            allowed_origins: Vec::new(),
            max_per_tenant: DEFAULT_MAX_REQUESTS_PER_TENANT,
            max_total: DEFAULT_MAX_REQUESTS,
            max_body: DEFAULT_MAX_BODY,
            #[cfg(feature = "auth")]
            auth: None,
        }
    }

    /// Remote clients sign in ([`crate::auth`]): each request needs a bearer token `auth`'s
    /// verifier accepts, whose tenant claim is the request's tenant (the server's own
    /// [`tenant`](crate::McpServerBuilder::tenant) and any [`Tenant`] an app layer inserted
    /// are not used); the protected resource metadata is served at
    /// [`McpAuth::metadata_url`](crate::auth::McpAuth::metadata_url)'s path, and a request
    /// without a usable token is `401` with `WWW-Authenticate` pointing there.
    #[cfg(feature = "auth")]
    pub fn auth(mut self, auth: crate::auth::McpAuth) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// The `Host` values served: hostnames, or `host:port` authorities. Default loopback
    /// only (`localhost`, `127.0.0.1`, `::1`); a public deployment names its own.
    pub fn allowed_hosts<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// The browser origins allowed to call the server (`https://app.example.com:443`, a port
    /// of `*` for any). Default none: a request carrying any `Origin` is refused; requests
    /// without one (non-browser clients) are served.
    pub fn allowed_origins<S: Into<String>>(mut self, origins: impl IntoIterator<Item = S>) -> Self {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// The most requests of one tenant served at once; default
    /// [`DEFAULT_MAX_REQUESTS_PER_TENANT`].
    pub fn max_requests_per_tenant(mut self, requests: usize) -> Self {
        self.max_per_tenant = requests.max(1);
        self
    }

    /// The most requests served at once over every tenant; default [`DEFAULT_MAX_REQUESTS`].
    pub fn max_requests(mut self, requests: usize) -> Self {
        self.max_total = requests.max(1);
        self
    }

    /// The largest request body read, in bytes (a larger one is `413`); default
    /// [`DEFAULT_MAX_BODY`].
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The routes: MCP's streamable HTTP endpoint at `/mcp`. Put the application's auth
    /// (which inserts the [`Tenant`]) as a layer over it.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> axum::Router<S> {
        let mut config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_allowed_hosts(self.allowed_hosts)
            .with_max_request_body_bytes(self.max_body);
        config = if self.allowed_origins.is_empty() {
            config.enforce_origin_validation()
        } else {
            config.with_allowed_origins(self.allowed_origins)
        };
        #[cfg(feature = "auth")]
        let signed_in = self.auth.is_some();
        #[cfg(not(feature = "auth"))]
        let signed_in = false;
        let admission = Arc::new(Admission {
            // Signed in, the token's tenant is the only one.
            fixed: if signed_in { None } else { self.server.inner.tenant.clone() },
            per_tenant: self.max_per_tenant,
            total: self.max_total,
            counts: Mutex::new(Counts::default()),
        });
        let server = self.server;
        let service = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        let router = axum::Router::new()
            .route_service("/mcp", service)
            .layer(axum::middleware::from_fn_with_state(admission, admit));
        #[cfg(feature = "auth")]
        if let Some(auth) = self.auth {
            let metadata = auth.routes();
            return router
                .layer(axum::middleware::from_fn_with_state(auth, crate::auth::authenticate))
                .merge(metadata);
        }
        router
    }
}

/// Who may be served now.
#[derive(Debug)]
struct Admission {
    fixed: Option<String>,
    per_tenant: usize,
    total: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Requests in flight per tenant; a tenant with none has no entry.
    per_tenant: HashMap<String, usize>,
}

/// A request being served; counted until dropped.
#[derive(Debug)]
struct Admitted {
    admission: Arc<Admission>,
    tenant: String,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.admission.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.per_tenant.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.per_tenant.remove(&self.tenant);
            }
        }
    }
}

/// An admitted request's place, shared by the response and the handler's request parts.
#[derive(Debug, Clone)]
struct Place {
    _held: Arc<Admitted>,
}

impl Admission {
    fn enter(self: &Arc<Self>, tenant: &str) -> Option<Admitted> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let of_tenant = counts.per_tenant.get(tenant).copied().unwrap_or(0);
        if counts.total >= self.total || of_tenant >= self.per_tenant {
            return None;
        }
        counts.total += 1;
        *counts.per_tenant.entry(tenant.to_owned()).or_insert(0) += 1;
        Some(Admitted { admission: self.clone(), tenant: tenant.to_owned() })
    }
}

fn refused(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The tenant and bounds check in front of rmcp's service.
async fn admit(State(admission): State<Arc<Admission>>, mut request: Request, next: Next) -> Response {
    let tenant = match (&admission.fixed, request.extensions().get::<Tenant>()) {
        (Some(fixed), _) => fixed.clone(),
        (None, Some(Tenant(tenant))) => tenant.clone(),
        (None, None) => return refused(StatusCode::UNAUTHORIZED, "no tenant: the request is not signed in"),
    };
    let Some(admitted) = admission.enter(&tenant) else {
        return refused(StatusCode::TOO_MANY_REQUESTS, "too many requests in flight; retry shortly");
    };
    // The handler reads the tenant from here, whichever way it was decided.
    request.extensions_mut().insert(Tenant(tenant));
    // rmcp runs the handler in a task of its own, which outlives a response its client
    // dropped: the handler holds the place too (its request's parts carry this), so it is
    // free only once both the handler has ended and the answer is sent or dropped.
    let place = Place { _held: Arc::new(admitted) };
    request.extensions_mut().insert(place.clone());
    let (parts, body) = next.run(request).await.into_parts();
    // A streamed answer holds its place until its last byte.
    let body = body.into_data_stream().map(move |chunk| {
        let _held = &place;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_past_its_bound_waits_and_others_are_still_served() {
        let admission = Arc::new(Admission {
            fixed: None,
            per_tenant: 2,
            total: 3,
            counts: Mutex::new(Counts::default()),
        });
        let first = admission.enter("acme").unwrap();
        let _second = admission.enter("acme").unwrap();
        assert!(admission.enter("acme").is_none(), "acme is at its bound");
        let globex = admission.enter("globex").unwrap();
        assert!(admission.enter("initech").is_none(), "the process is at its bound");
        drop(first);
        assert!(admission.enter("acme").is_some(), "a place freed is acme's again");
        drop(globex);
        let counts = admission.counts.lock().unwrap();
        assert!(!counts.per_tenant.contains_key("globex"), "a tenant with nothing in flight is not kept");
    }
}
