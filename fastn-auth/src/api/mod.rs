//! Calls to a connected app's own API for one connection: [`ApiClient`] and its requests.
//! The token comes from the credentials cache and goes on the request at send time; user
//! code never holds it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;
use tracing::Instrument as _;
use url::Url;

use crate::cache::Freshness;
use crate::connector::{ApiSpec, Connector, TokenPlacement};
use crate::credentials::{Credentials, ExtraMap};
use crate::error::{Error, RequestInfo, Result};
use crate::inner::ClientInner;
use crate::provider::{CheckedPath, Placement, Template, header_name};
use crate::response::{ApiResponse, DEFAULT_MAX_API_BODY};
use crate::target::Target;
use crate::telemetry::{self, Outcome};
use crate::transport::{RetryPolicy, attempt_end};
use crate::wire::Endpoint;

pub(crate) mod grant;

/// The verb shorthands of an API client: `get`, `post`, `put`, `patch`, `delete`, each
/// `self.request(Method::…, path)`; the async and the blocking client alike.
macro_rules! http_verbs {
    () => {
        /// A `GET` of `path`, relative to the base URL (`/users/me`, `users/me?limit=2`).
        pub fn get(&self, path: impl AsRef<str>) -> ApiRequest<'_> {
            self.request(Method::GET, path)
        }

        /// A `POST` of `path`.
        pub fn post(&self, path: impl AsRef<str>) -> ApiRequest<'_> {
            self.request(Method::POST, path)
        }

        /// A `PUT` of `path`.
        pub fn put(&self, path: impl AsRef<str>) -> ApiRequest<'_> {
            self.request(Method::PUT, path)
        }

        /// A `PATCH` of `path`.
        pub fn patch(&self, path: impl AsRef<str>) -> ApiRequest<'_> {
            self.request(Method::PATCH, path)
        }

        /// A `DELETE` of `path`.
        pub fn delete(&self, path: impl AsRef<str>) -> ApiRequest<'_> {
            self.request(Method::DELETE, path)
        }
    };
}
#[cfg_attr(not(feature = "blocking"), allow(unused_imports))]
pub(crate) use http_verbs;

/// Calls one connection's third-party API (Slack, Salesforce, Notion…) with its token:
/// made by a generated `Salesforce::api(&client)` or by
/// [`FastnAuth::api`](crate::FastnAuth::api).
///
/// Owned, cheap to clone, `Send + Sync + 'static`: keep one per tenant. Each request takes
/// the connection's token from the credentials cache, attaches it only to a URL under the
/// API's base URL, and on a `401` from the provider refreshes the token once (one refresh
/// however many callers saw the `401`) and retries. The provider's answer comes back as an
/// [`ApiResponse`] whatever its status, its body read under the call's deadline and within
/// a size limit ([`max_body`](Self::max_body)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = fastn_auth_emulator::MockServer::start().await?;
/// # mock.insert_connection(fastn_auth_emulator::ConnectionKey::new(fastn_auth_emulator::MockServer::SPACE_ID, "notion").tenant_id("acme"), None);
/// # let client = mock.client();
/// let notion = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("acme");
/// let response = notion.get("/users/me").header("Notion-Version", "2022-06-28").send().await?;
/// assert!(response.status().is_success());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<ClientInner>,
    /// Shared with every answer, for its errors (built only when one happens).
    target: Arc<Target>,
    /// The base URL, or why there is none that works.
    /// `None`: none declared nor given (a gateway may still route the calls).
    base: Option<std::result::Result<Template, Arc<str>>>,
    /// Where the client routes this connector's calls instead (an emulator, a staging
    /// provider), once the base URL has been checked.
    routed: Option<Url>,
    headers: Arc<[(HeaderName, HeaderValue)]>,
    placement: Placement,
    max_body: u64,
    /// A setting that cannot work, reported by the first request.
    problem: Option<Arc<str>>,
    /// Whether the tenant was said: [`tenant_id`](Self::tenant_id) or
    /// [`no_tenant`](Self::no_tenant). A forgotten one is an error, never the space's
    /// connection.
    tenant_said: bool,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Where calls go and for whom; the token is never here to show.
        f.debug_struct("ApiClient")
            .field("connector_id", &self.target.connector_id)
            .field("org_id", &self.target.org_id)
            .field("tenant_id", &self.target.tenant_id)
            .field("connection_id", &self.target.connection_id)
            .field("base_url", &self.base.as_ref().and_then(|base| base.as_ref().ok()).map(Template::as_str))
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    pub(crate) fn new<C: Connector>(inner: Arc<ClientInner>, connector: &C) -> Self {
        let org_id = connector.default_org().unwrap_or(crate::wire::DEFAULT_ORG_ID).to_owned();
        let target =
            Target { connector_id: connector.id().to_owned(), org_id, tenant_id: None, connection_id: None };
        let spec = connector.api_spec();
        let base = spec.as_ref().map(|spec| Template::parse(&spec.base_url).map_err(Arc::from));
        // The manifest checker made sure these work; a hand-written `Connector` may not have.
        let mut problem = None;
        let headers = spec.as_ref().map_or(Ok(Vec::new()), static_headers).unwrap_or_else(|message| {
            problem = Some(Arc::from(message));
            Vec::new()
        });
        let token = spec.as_ref().map_or(&TokenPlacement::Bearer, |spec| &spec.token);
        let placement = Placement::new(token).unwrap_or_else(|message| {
            problem.get_or_insert_with(|| Arc::from(message));
            Placement::bearer()
        });
        let routed = inner.providers.routes.routed(connector.id());
        ApiClient {
            inner,
            target: Arc::new(target),
            base,
            routed,
            headers: headers.into(),
            placement,
            max_body: DEFAULT_MAX_API_BODY,
            problem,
            tenant_said: false,
        }
    }

    /// The org; the connector's manifest default, else
    /// [`DEFAULT_ORG_ID`](crate::limits::DEFAULT_ORG_ID).
    #[must_use]
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.target).org_id = org_id.into();
        self
    }

    /// The tenant (your customer) whose connection is used. Every client says its tenant,
    /// or [`no_tenant`](Self::no_tenant): a request of a client that said neither is an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config), and nothing is sent.
    #[must_use]
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.target).tenant_id = Some(tenant_id.into());
        self.tenant_said = true;
        self
    }

    /// The space's own connection, made without a tenant: said on purpose, since a
    /// forgotten [`tenant_id`](Self::tenant_id) must not reach it.
    #[must_use]
    pub fn no_tenant(mut self) -> Self {
        Arc::make_mut(&mut self.target).tenant_id = None;
        self.tenant_said = true;
        self
    }

    /// The connection instance, when a tenant has several of one connector.
    #[must_use]
    pub fn connection_id(mut self, connection_id: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.target).connection_id = Some(connection_id.into());
        self
    }

    /// The API's base URL, replacing the manifest's: `https://api.notion.com/v1`, or a
    /// template whose `{field}` placeholders are filled from the connection's credentials
    /// (`{instance_url}/services/data/v60.0`). Checked now; a template that cannot work
    /// makes every request an [`ErrorKind::Config`](crate::ErrorKind::Config).
    #[must_use]
    pub fn base_url(mut self, template: impl AsRef<str>) -> Self {
        self.base = Some(Template::parse(template.as_ref()).map_err(Arc::from));
        self
    }

    /// The most bytes an answer's body may have (default
    /// [`DEFAULT_MAX_API_BODY`](crate::limits::DEFAULT_MAX_API_BODY), 16 MiB): reading past
    /// it is an [`ErrorKind::BodyTooLarge`](crate::ErrorKind::BodyTooLarge). A request can set its own with
    /// [`ApiRequest::max_body`].
    #[must_use]
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    http_verbs!();

    /// A request of any method to `path`.
    pub fn request(&self, method: Method, path: impl AsRef<str>) -> ApiRequest<'_> {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
        );
        ApiRequest {
            client: self,
            method,
            path: path.as_ref().to_owned(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Payload::Empty,
            timeout: None,
            max_body: self.max_body,
            idempotent,
            problem: None,
        }
    }

    /// The base URL template of the calls: `None` when a route (a gateway, the emulator)
    /// says where they go instead.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a bad base or none at all.
    fn template(&self) -> Result<Option<&Template>> {
        if !self.tenant_said {
            return Err(Error::config(format!(
                "the API client of `{}` has no tenant: call .tenant_id(…) for your customer's \
                 connection, or .no_tenant() for the space's own",
                fastn_auth_rules::shown_id(&self.target.connector_id)
            )));
        }
        match (&self.problem, &self.base, &self.routed) {
            (Some(problem), _, _) | (None, Some(Err(problem)), _) => Err(Error::config(problem.to_string())),
            (None, Some(Ok(template)), _) => Ok(Some(template)),
            (None, None, Some(_)) => Ok(None),
            (None, None, None) => Err(Error::config(format!(
                "no API base URL for connector `{}`: declare `api: {{ base_url: … }}` in the \
                 manifest, or call .base_url(…)",
                fastn_auth_rules::shown_id(&self.target.connector_id)
            ))),
        }
    }

    /// The base URL of this connection's calls: the route the client was given (an
    /// emulator, a staging provider), else the template filled in. A template is filled in
    /// even when routed, so credentials that would make a hostile base fail alike.
    fn resolve_base<'t>(
        &'t self,
        template: Option<&'t Template>,
        credentials: &Credentials<ExtraMap>,
    ) -> Result<Cow<'t, Url>> {
        let own = template.map(|template| template.resolve(&credentials.extra)).transpose()?;
        match (&self.routed, own) {
            (Some(routed), _) => Ok(Cow::Borrowed(routed)),
            (None, Some(own)) => Ok(own),
            (None, None) => Err(Error::config("no API base URL")),
        }
    }
}

/// The manifest's static headers, checked; the error is the message of an
/// [`ErrorKind::Config`](crate::ErrorKind::Config).
fn static_headers(spec: &ApiSpec) -> std::result::Result<Vec<(HeaderName, HeaderValue)>, String> {
    spec.headers
        .iter()
        .map(|(name, value)| {
            let name = header_name(name).map_err(|problem| format!("the API header: {problem}"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of the API header `{name}` cannot be sent"))?;
            Ok((name, value))
        })
        .collect()
}

/// A request body, kept so that it can be sent again after a refresh when it can.
#[derive(Debug)]
enum Payload {
    Empty,
    Bytes(Bytes),
    /// A stream: sent once, never replayed.
    Stream(Option<reqwest::Body>),
}

impl Payload {
    fn replayable(&self) -> bool {
        !matches!(self, Payload::Stream(_))
    }

    fn take(&mut self) -> Option<reqwest::Body> {
        match self {
            Payload::Empty => None,
            Payload::Bytes(bytes) => Some(reqwest::Body::from(bytes.clone())),
            Payload::Stream(body) => body.take(),
        }
    }
}

/// One request to a connected app's API; made by [`ApiClient::get`] and its siblings, sent
/// with [`send`](Self::send).
#[must_use = "call .send().await"]
pub struct ApiRequest<'a> {
    client: &'a ApiClient,
    method: Method,
    path: String,
    query: Vec<String>,
    headers: HeaderMap,
    body: Payload,
    timeout: Option<Duration>,
    max_body: u64,
    idempotent: bool,
    problem: Option<Error>,
}

impl fmt::Debug for ApiRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiRequest")
            .field("connector_id", &self.client.target.connector_id)
            .field("tenant_id", &self.client.target.tenant_id)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ApiRequest<'_> {
    fn fail(&mut self, err: Error) {
        self.problem.get_or_insert(err);
    }

    /// Adds `query`, any `Serialize` of key-value pairs (a struct, a map, `&[("k", "v")]`),
    /// to the query string.
    pub fn query<T: serde::Serialize + ?Sized>(mut self, query: &T) -> Self {
        match serde_urlencoded::to_string(query) {
            Ok(text) if text.is_empty() => {}
            Ok(text) => self.query.push(text),
            Err(err) => self.fail(Error::config(format!("the query cannot be encoded: {err}"))),
        }
        self
    }

    /// Sends `json` as the body, with `Content-Type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, json: &T) -> Self {
        match serde_json::to_vec(json) {
            Ok(bytes) => {
                self.body = Payload::Bytes(bytes.into());
                self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Err(err) => self.fail(Error::config(format!("the JSON body cannot be encoded: {err}"))),
        }
        self
    }

    /// Sends `form` as a URL-encoded body, with `Content-Type:
    /// application/x-www-form-urlencoded`.
    pub fn form<T: serde::Serialize + ?Sized>(mut self, form: &T) -> Self {
        match serde_urlencoded::to_string(form) {
            Ok(text) => {
                self.body = Payload::Bytes(text.into());
                self.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
            Err(err) => self.fail(Error::config(format!("the form body cannot be encoded: {err}"))),
        }
        self
    }

    /// Adds a header (it replaces a header of the same name from the manifest's `api:`
    /// block). A name or value HTTP cannot carry makes `send` an [`ErrorKind::Config`](crate::ErrorKind::Config), and so
    /// does a header that would move the request or its framing
    /// ([`RESERVED_HEADERS`](fastn_auth_rules::api::RESERVED_HEADERS): `Host`, the forwarding
    /// headers, `Connection`, `Transfer-Encoding`, `Content-Length`, `Proxy-*`, …): nothing
    /// is sent then. The token's own header is the SDK's: a value given for it here is
    /// replaced.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let (name, value) = (name.as_ref(), value.as_ref());
        match (header_name(name), HeaderValue::from_str(value)) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            (Err(problem), _) => self.fail(Error::config(problem)),
            (Ok(name), Err(_)) => {
                self.fail(Error::config(format!("the value given for the header `{name}` cannot be sent")));
            }
        }
        self
    }

    /// Sends `body` as it is. A body in memory (`String`, `Vec<u8>`, `Bytes`) can be sent
    /// again after a token refresh; a stream cannot, so a `401` to it is returned as it is.
    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        let body = body.into();
        self.body = match body.as_bytes() {
            Some(bytes) => Payload::Bytes(Bytes::copy_from_slice(bytes)),
            None => Payload::Stream(Some(body)),
        };
        self
    }

    /// The longest one attempt may take, its whole answer included (headers and the body
    /// read from the [`ApiResponse`]); default the client's request timeout. The whole call
    /// stays within the client's call timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The most bytes the answer's body may have, for this request (default the
    /// [`ApiClient::max_body`]): raise it for a large download.
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Whether a `429` or `503` with `Retry-After` is retried: by default for `GET`, `HEAD`,
    /// `OPTIONS`, `PUT`, `DELETE` and `TRACE`; set `true` for a `POST` or `PATCH` you know
    /// is safe to repeat.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Sends the request with the connection's token and returns the provider's answer,
    /// whatever its status.
    ///
    /// A `401` refreshes the connection's credentials once (coalesced with every other
    /// caller, and only if no newer token came meanwhile) and retries once, if the body can
    /// be sent again. When the refresh brings the same token, or the provider rejects the
    /// refreshed one too, that connection's `401`s are returned as they are for a while
    /// ([`UNAUTHORIZED_BACKOFF`](crate::limits::UNAUTHORIZED_BACKOFF), growing), counted in
    /// [`CacheStats::unauthorized_returned`](crate::CacheStats::unauthorized_returned). A
    /// `429` or `503` with `Retry-After` is retried, for an idempotent request, within the
    /// client's retry count and call timeout. Redirects are returned, never followed.
    ///
    /// The answer's body is read from the [`ApiResponse`] under the same deadline and
    /// within [`max_body`](Self::max_body).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a path that leaves the base URL (absolute, `//host`, `..`, a
    /// control character), a header or body that cannot be sent, or no base URL: nothing is
    /// sent then. [`ErrorKind::Network`](crate::ErrorKind::Network) with [`is_not_found()`](Error::is_not_found) when the
    /// tenant has no such connection (or it was revoked), or when Fastn or the provider
    /// did not answer in time. [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) when the credentials make an
    /// unusable base URL (a hostile `instance_url`, a `{field}` value that is not one
    /// segment) or hold no token.
    // Over 80 lines for a reason: the refresh-on-401 and busy-retry loop shares the body,
    // the credentials and their generation; split, each part would take all of them.
    pub async fn send(mut self) -> Result<ApiResponse> {
        crate::transport::in_runtime()?;
        if let Some(err) = self.problem.take() {
            return Err(err);
        }
        // The body is the attempts' to take; the rest of the request they only read.
        let mut body = std::mem::replace(&mut self.body, Payload::Empty);
        let this = &self;
        let client = self.client;
        client.template()?;
        let path = CheckedPath::new(&self.path)?;
        let inner = &client.inner;
        let deadline = inner.transport.call_deadline(None);
        let started = Instant::now();
        let span = tracing::debug_span!(
            "fastn_auth.api",
            connector = %client.target.connector_id,
            method = %self.method,
            path = self.path.split('?').next().unwrap_or_default(),
        );
        // Each step is bounded by the call's deadline on its own, so that a request served
        // from the cache makes one timer (its attempt's), not one per layer.
        let late = || {
            let waited = Instant::now() - started;
            Error::network(&this.info(None), format!("no answer within the call's deadline ({waited:?})"))
                .timed_out()
        };
        let work = async {
            let mut grant = client.grant_within(Freshness::Any, deadline).await?;
            let mut refreshed = false;
            let mut busy_retries = 0;
            loop {
                let response = this
                    .attempt(&grant.base, path, &mut body, &grant.credentials, deadline)
                    .await
                    .unwrap_or_else(|| Err(late()))?;
                match response.status() {
                    StatusCode::UNAUTHORIZED if refreshed => {
                        client.refused_again(&grant);
                        return Ok(response);
                    }
                    StatusCode::UNAUTHORIZED => {
                        refreshed = true;
                        match client.after_401(&grant, body.replayable(), deadline).await? {
                            Some(newer) => grant = newer,
                            None => return Ok(response),
                        }
                        drop(response);
                    }
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                        if this.idempotent
                            && body.replayable()
                            && busy_retries < inner.transport.retry.max_retries =>
                    {
                        let Some(wait) = busy_pause(&response, busy_retries, deadline) else {
                            return Ok(response);
                        };
                        busy_retries += 1;
                        drop(response);
                        tracing::debug!(
                            ?wait,
                            attempt = busy_retries,
                            "the provider is busy; retrying after Retry-After"
                        );
                        // `pause` made sure it ends before the deadline.
                        tokio::time::sleep(wait).await;
                    }
                    _ => {
                        client.accepted();
                        return Ok(response);
                    }
                }
            }
        };
        work.instrument(span).await
    }

    /// One request to the provider under `base`, within its own timeout and the call's
    /// `deadline`; `None` when the deadline passed first.
    async fn attempt(
        &self,
        base: &Url,
        path: CheckedPath<'_>,
        body: &mut Payload,
        credentials: &Credentials<ExtraMap>,
        deadline: Option<Instant>,
    ) -> Option<Result<ApiResponse>> {
        let request = match self.prepare(base, path, body, credentials) {
            Ok(request) => request,
            Err(err) => return Some(Err(err)),
        };
        let client = self.client;
        let timeout = self.timeout.unwrap_or(client.inner.transport.request_timeout());
        let (end, call_ends_first) = attempt_end(timeout, deadline);
        let execute = client.inner.providers.http.execute(request);
        let started = Instant::now();
        let outcome = match end {
            Some(end) => match tokio::time::timeout_at(end, execute).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    telemetry::upstream(Endpoint::Api, Outcome::Timeout, started.elapsed());
                    if call_ends_first {
                        return None;
                    }
                    let message = format!("the API did not answer within {timeout:?}");
                    return Some(Err(Error::network(&self.info(Some(base)), message).timed_out()));
                }
            },
            None => execute.await,
        };
        // Any answer is the API's own: counted `ok`, whatever its status.
        let counted = if outcome.is_ok() { Outcome::Ok } else { Outcome::Network };
        telemetry::upstream(Endpoint::Api, counted, started.elapsed());
        let response = outcome.map_err(|err| {
            // reqwest names the URL in its errors: its query may hold the token.
            let err = err.without_url();
            Error::network(&self.info(Some(base)), format!("the API did not answer: {err}")).with_source(err)
        });
        Some(response.map(|response| {
            let shown = client.placement.redacts_url().then(|| client.placement.shown_url(response.url()));
            ApiResponse::new(response, shown, self.max_body, end, self.method.clone(), client.target.clone())
        }))
    }

    /// The request to send under `base`: the path joined and pinned, the query, the headers,
    /// the token, the body.
    fn prepare(
        &self,
        base: &Url,
        path: CheckedPath<'_>,
        body: &mut Payload,
        credentials: &Credentials<ExtraMap>,
    ) -> Result<reqwest::Request> {
        let client = self.client;
        // Pinned: whatever the path held, the token goes under the base or nowhere (the
        // query and the token added below change neither host nor path).
        let mut url = path.under(base)?;
        if !self.query.is_empty() {
            let mut query = url.query().map(str::to_owned).unwrap_or_default();
            for part in &self.query {
                if !query.is_empty() {
                    query.push('&');
                }
                query.push_str(part);
            }
            url.set_query(Some(&query));
        }
        let mut request = reqwest::Request::new(self.method.clone(), url);
        let headers = request.headers_mut();
        // The manifest's headers, unless this request gives its own value of one.
        for (name, value) in client.headers.iter() {
            if !self.headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        client.placement.attach(credentials, &mut request)?;
        *request.body_mut() = body.take();
        Ok(request)
    }

    /// What an error says of this request: method, host and path, never the query.
    fn info(&self, base: Option<&Url>) -> RequestInfo {
        let target = &self.client.target;
        RequestInfo {
            endpoint: Endpoint::Api,
            method: self.method.to_string(),
            host: base
                .and_then(|base| {
                    base.host_str().map(|host| match base.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host.to_owned(),
                    })
                })
                .unwrap_or_else(|| format!("the API of `{}`", target.connector_id)),
            path: self.path.split('?').next().unwrap_or_default().to_owned(),
            tenant_id: target.tenant_id.clone(),
            connection_id: target.connection_id.clone(),
        }
    }
}

/// How long to wait before asking a busy provider (429, 503) again: only one that says when
/// to come back (`Retry-After`) is asked again, within the call's `deadline`.
fn busy_pause(response: &ApiResponse, busy_retries: u32, deadline: Option<Instant>) -> Option<Duration> {
    let after = response.headers().get(header::RETRY_AFTER).and_then(crate::transport::parse_retry_after)?;
    RetryPolicy::pause(busy_retries, Some(after), deadline)
}
