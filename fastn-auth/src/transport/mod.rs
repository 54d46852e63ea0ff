//! The outbound HTTP path: the connection pool and its proxy rule, headers, per-request
//! and per-call deadlines and the one timer of an attempt ([`attempt_end`]), the retry
//! policy and `Retry-After` ([`RetryPolicy::pause`]), the body limit and the cap on
//! requests in flight. Fastn's calls go through [`Transport::call`]; provider calls
//! (`api`) send through their own client but take their deadlines and retry pauses from
//! here, so both follow one set of rules.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument as _;
use url::{Host, Url};

use crate::error::{Error, ErrorKind, RequestInfo, Result};
use crate::target::Scope;
use crate::telemetry::{self, Outcome};
use crate::wire::{self, DecodeError, Endpoint, Route};

mod rate;
mod retry;
mod secret;

pub use rate::{MAX_RESET_WAIT, RateLimit};
pub use retry::{MAX_RETRY_DELAY, MIN_RETRY_DELAY};
pub(crate) use retry::{RetryPolicy, attempt_end, parse_retry_after};

/// Bodies larger than this are refused rather than buffered.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a pooled connection may sit idle before it is closed: shorter than the idle
/// timeouts of common load balancers (60 s and more), so the pool rarely hands out a
/// connection the other side has already dropped.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which proxy requests go through.
#[derive(Debug, Clone, Default)]
pub(crate) enum ProxyChoice {
    /// The `HTTPS_PROXY`/`ALL_PROXY` environment, for `https` base URLs only.
    #[default]
    System,
    /// None.
    Off,
    /// This one, for `https` base URLs only.
    Explicit(Box<reqwest::Proxy>),
}

/// Settings the transport is built from; validated by the client builder.
pub(crate) struct TransportConfig {
    pub(crate) base_url: Url,
    pub(crate) space_id: HeaderValue,
    pub(crate) auth: (HeaderName, HeaderValue),
    pub(crate) custom_auth: bool,
    /// Send `x-fastn-test-mode: true` (a test key's requests).
    pub(crate) test_mode: bool,
    pub(crate) request_timeout: Duration,
    pub(crate) call_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_in_flight: usize,
    pub(crate) proxy: ProxyChoice,
    pub(crate) http_client: Option<reqwest::Client>,
}

/// How much of a call's budget it may use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Retries after the first attempt (transient failures).
    pub(crate) retries: u32,
    /// An outer deadline (a wait's), besides the call timeout.
    pub(crate) deadline: Option<Instant>,
}

/// A pooled HTTP client bound to one Fastn space and credential.
pub(crate) struct Transport {
    http: reqwest::Client,
    /// A client that never reuses a connection, for the one retry of a request that failed
    /// on a pooled connection the server had closed; built on first need (building one
    /// costs milliseconds of CPU). Never set with a caller's client.
    fresh: OnceLock<reqwest::Client>,
    /// How our own clients are built; `None` with a caller's client.
    own: Option<ProxyChoice>,
    base_url: Url,
    host: String,
    headers: HeaderMap,
    request_timeout: Duration,
    call_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    in_flight: Semaphore,
    max_in_flight: usize,
    /// The space's key or token, to scrub from what servers say (`None` without one).
    secret: Option<secret::Secret>,
    /// The rate limit Fastn last announced to this client.
    rate: rate::RateState,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url.as_str())
            .field("request_timeout", &self.request_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Whether requests to `url` may go through a proxy: only `https` to a host that is not
/// loopback, where the key travels inside the TLS tunnel and a proxy sees only `CONNECT`.
pub(crate) fn may_proxy(url: &Url) -> bool {
    url.scheme() == "https" && !is_loopback(url)
}

/// Whether `url`'s host is loopback: the rules crate's one rule, the addresses `url`
/// parsed already taken as they are (a request's path must not parse them again).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => fastn_auth_rules::api::is_loopback_host(name),
        None => false,
    }
}

/// The settings of every HTTP client the SDK builds: no redirects (following one to another
/// host would hand it a key or a token), short-lived idle connections, our user agent.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    {
        // reqwest without a built-in provider uses the process default; install ring unless
        // the application installed one of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_nodelay(true)
        .user_agent(concat!("fastn-auth-rust/", env!("CARGO_PKG_VERSION")))
}

/// Our own HTTP client of the Fastn API, with the proxy rule. `max_idle` 0 makes a client
/// that opens a new connection for every request.
fn http_client(base_url: &Url, proxy: &ProxyChoice, max_idle: usize) -> Result<reqwest::Client> {
    let mut builder = client_builder().pool_max_idle_per_host(max_idle);
    builder = match (proxy, may_proxy(base_url)) {
        (ProxyChoice::Explicit(proxy), true) => builder.proxy(proxy.as_ref().clone()),
        (ProxyChoice::System, true) => builder,
        _ => builder.no_proxy(),
    };
    builder.build().map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))
}

impl Transport {
    pub(crate) fn new(config: TransportConfig) -> Result<Self> {
        let (http, own) = match config.http_client {
            Some(given) => (given, None),
            None => {
                let http = http_client(&config.base_url, &config.proxy, config.max_in_flight)?;
                (http, Some(config.proxy))
            }
        };
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(HeaderName::from_static(wire::SPACE_ID), config.space_id);
        let (auth_name, mut auth_value) = config.auth;
        let secret = auth_value.to_str().ok().map(|value| {
            // The key as the server may echo it: without a scheme word (`Bearer …`).
            let key = value.rsplit(' ').next().unwrap_or(value);
            secret::Secret(key.into())
        });
        auth_value.set_sensitive(true);
        headers.insert(auth_name, auth_value);
        if config.custom_auth {
            headers.insert(HeaderName::from_static(wire::CUSTOM_AUTH), HeaderValue::from_static("true"));
        }
        if config.test_mode {
            headers.insert(HeaderName::from_static(wire::TEST_MODE), HeaderValue::from_static("true"));
        }
        let base_url = config.base_url;
        let host = match (base_url.host_str(), base_url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => String::new(),
        };
        Ok(Transport {
            http,
            fresh: OnceLock::new(),
            own,
            host,
            base_url,
            headers,
            request_timeout: config.request_timeout,
            call_timeout: config.call_timeout,
            retry: config.retry,
            in_flight: Semaphore::new(config.max_in_flight),
            max_in_flight: config.max_in_flight,
            secret,
            rate: rate::RateState::default(),
        })
    }

    /// The longest one request may take.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// `text` (server text already sanitised) without the space's key or token, or any
    /// long run of its first characters ([`secret::Secret::scrub`]).
    pub(crate) fn scrub(&self, text: String) -> String {
        match &self.secret {
            Some(secret) => secret.scrub(text),
            None => text,
        }
    }

    /// Shares a spent rate limit with every client on the store `level`, under `key`.
    pub(crate) fn share_rate_limit(&mut self, level: std::sync::Arc<crate::store::SharedLevel>, key: String) {
        self.rate.share(level, key);
    }

    /// The rate limit Fastn last announced, when it did.
    pub(crate) fn rate_limit(&self) -> Option<RateLimit> {
        self.rate.last()
    }

    /// The most requests on the wire at once.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Sends `route`, retries as `budget` allows, and decodes the 2xx body with `decode`.
    ///
    /// Every input is checked before the first byte is sent: an id that cannot make a
    /// valid request is `ErrorKind::Config` (or, for the server's own `state`, an invalid
    /// response at init). The rest is [`send`](Self::send)'s.
    pub(crate) async fn call<T>(
        &self,
        route: Route<'_>,
        scope: Scope<'_>,
        budget: Budget,
        decode: impl FnOnce(&[u8]) -> std::result::Result<T, DecodeError>,
    ) -> Result<T> {
        let outgoing = Outgoing {
            endpoint: route.endpoint(),
            url: self.url(route)?,
            scope,
            headers: scope_headers(scope)?,
            body: None,
            resend: Resend::OnTransient,
            max_body: MAX_BODY_BYTES,
        };
        self.send(&outgoing, budget, decode).await
    }

    /// Sends `outgoing` with the space's headers (its own replace those of the same name),
    /// retries as `budget` and `outgoing.resend` allow, and decodes the 2xx body with
    /// `decode`.
    ///
    /// The whole call — waiting for an in-flight slot, every attempt and every pause, each
    /// answer's body — ends by the call timeout or `budget.deadline`, whichever is first.
    /// At most `1 + budget.retries` attempts are made, plus one on a fresh connection when
    /// a request that may be resent failed on a pooled connection before any answer.
    ///
    /// `outgoing` is lent, not given: an async fn keeps an argument moved into it twice
    /// (as given and as its own local), and this future is inside every waiting session's.
    pub(crate) async fn send<T>(
        &self,
        outgoing: &Outgoing<'_>,
        budget: Budget,
        decode: impl FnOnce(&[u8]) -> std::result::Result<T, DecodeError>,
    ) -> Result<T> {
        let Outgoing { endpoint, ref url, scope, headers: ref own, ref body, resend, max_body } = *outgoing;
        // The request's description is built only for an error: most calls need none.
        let ctx = Ctx { endpoint, url, scope, host: &self.host };
        let span = tracing::debug_span!("fastn_auth.request", endpoint = %endpoint, path = url.path());
        let started = Instant::now();
        let deadline = self.call_deadline(budget.deadline);
        let attempts = async {
            let mut attempt = 0;
            let mut fresh_retry = endpoint.is_idempotent();
            loop {
                let request = || {
                    let mut request = reqwest::Request::new(endpoint_method(endpoint), url.clone());
                    let headers = request.headers_mut();
                    headers.clone_from(&self.headers);
                    for (name, value) in own {
                        headers.insert(name, value.clone());
                    }
                    *request.body_mut() = body.clone().map(reqwest::Body::from);
                    request
                };
                // A spent rate limit: wait for its reset, or fail unsent past the deadline.
                match self.rate.before_send(deadline).await {
                    Ok(None) => {}
                    Ok(Some(wait)) => {
                        tracing::debug!(?wait, "the key's rate limit is spent; waiting for its reset");
                        telemetry::rate_limit_wait();
                        Box::pin(tokio::time::sleep(wait)).await;
                    }
                    Err(wait) => return Err(rate_limited_unsent(&ctx.info(), wait)),
                }
                let outcome = {
                    let _permit = self.slot(deadline, &ctx, started).await?;
                    let end = attempt_end(self.request_timeout, deadline);
                    Box::pin(self.exchange(&self.http, request(), &ctx, max_body, end, started)).await
                };
                let outcome = match outcome {
                    Err(Failure { stale: true, .. }) if fresh_retry => {
                        fresh_retry = false;
                        tracing::debug!("a pooled connection failed before answering; retrying on a new one");
                        let _permit = self.slot(deadline, &ctx, started).await?;
                        let end = attempt_end(self.request_timeout, deadline);
                        Box::pin(self.exchange(self.fresh_client(), request(), &ctx, max_body, end, started))
                            .await
                    }
                    outcome => outcome,
                };
                let (err, unsent) = match outcome {
                    Ok(body) => return Ok(body),
                    Err(failure) => (failure.error, failure.unsent),
                };
                if !err.is_transient() || attempt >= budget.retries || !resend.allows(&err, unsent) {
                    return Err(err);
                }
                let Some(delay) = RetryPolicy::pause(attempt, err.retry_after(), deadline) else {
                    return Err(err);
                };
                attempt += 1;
                tracing::debug!(attempt, ?delay, error = %err, "retrying after a transient failure");
                drop(err);
                // Boxed: a pause is rare, and its timer would otherwise enlarge every call.
                Box::pin(tokio::time::sleep(delay)).await;
            }
        };
        // Every wait inside ends by the deadline: a slot's, each attempt's (one timer for its
        // own timeout and the deadline), each pause's.
        let body = attempts.instrument(span).await?;
        decode(&body).map_err(|err| Error::decode(endpoint, Some(&ctx.info()), err))
    }

    /// A slot of the in-flight cap, waited for until `deadline`.
    async fn slot(
        &self,
        deadline: Option<Instant>,
        ctx: &Ctx<'_>,
        started: Instant,
    ) -> Result<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so acquiring only waits.
        if let Ok(permit) = self.in_flight.try_acquire() {
            return Ok(permit);
        }
        let waited = self.in_flight.acquire();
        let permit = match deadline {
            Some(at) => tokio::time::timeout_at(at, waited)
                .await
                .map_err(|_| deadline_passed(&ctx.info(), at - started))?,
            None => waited.await,
        };
        permit.map_err(|_| Error::config("the client's request slots are closed"))
    }

    /// The client for a retry on a new connection: ours without pooling, or the caller's
    /// (which has dropped the broken connection from its pool).
    fn fresh_client(&self) -> &reqwest::Client {
        let Some(proxy) = &self.own else { return &self.http };
        self.fresh.get_or_init(|| {
            // The same settings built once already, so this does not fail; if it did, the
            // pooled client is the next best.
            http_client(&self.base_url, proxy, 0).unwrap_or_else(|_| self.http.clone())
        })
    }

    /// The deadline of a call starting now: its call timeout, or `outer` when sooner.
    /// `None` when neither can be reached (`Duration::MAX`).
    pub(crate) fn call_deadline(&self, outer: Option<Instant>) -> Option<Instant> {
        match (Instant::now().checked_add(self.call_timeout), outer) {
            (Some(own), Some(outer)) => Some(own.min(outer)),
            (own, outer) => own.or(outer),
        }
    }

    /// The error of a call to `route` that found no answer in the `waited` before its
    /// deadline.
    pub(crate) fn deadline_error(&self, route: Route<'_>, scope: Scope<'_>, waited: Duration) -> Error {
        match self.url(route) {
            Ok(url) => {
                let ctx = Ctx { endpoint: route.endpoint(), url: &url, scope, host: &self.host };
                deadline_passed(&ctx.info(), waited)
            }
            Err(err) => err,
        }
    }

    /// Checks every id of a call to `route` as [`call`](Self::call) would, sending nothing
    /// and allocating nothing (it runs before every cache hit).
    pub(crate) fn check_ids(route: Route<'_>, scope: Scope<'_>) -> Result<()> {
        for (name, value) in route.params() {
            if let Some(problem) = wire::id_problem(value, true) {
                return Err(refused(name, value, &problem));
            }
        }
        for (name, value) in [("tenant_id", scope.tenant_id), ("connection_id", scope.connection_id)] {
            if let Some(problem) = value.and_then(|value| wire::id_problem(value, false)) {
                return Err(refused(name, value.unwrap_or_default(), &problem));
            }
        }
        Ok(())
    }

    /// `base_url` + `connect/{verb}/{params…}`, each parameter one percent-encoded segment.
    fn url(&self, route: Route<'_>) -> Result<Url> {
        if let Some((name, value, problem)) =
            route.params().find_map(|(name, value)| Some((name, value, wire::id_problem(value, true)?)))
        {
            return Err(refused(name, value, &problem));
        }
        let verb = ["connect", route.endpoint().verb()];
        self.url_of(verb.into_iter().chain(route.params().map(|(_, value)| value)))
    }

    /// `base_url` + `segments`, each one percent-encoded segment.
    pub(crate) fn url_of<'s>(&self, segments: impl IntoIterator<Item = &'s str>) -> Result<Url> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::config("base_url cannot carry a path"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// One request ending by `end` ([`attempt_end`]: the request timeout, or the call's
    /// deadline of a call that `started` then), its 2xx body read up to `max_body` bytes.
    async fn exchange(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        ctx: &Ctx<'_>,
        max_body: usize,
        (end, end_is_deadline): (Option<Instant>, bool),
        started_call: Instant,
    ) -> std::result::Result<Vec<u8>, Failure> {
        let sent_url = request.url().clone();
        let exchange = async {
            let response = client.execute(request).await.map_err(|e| {
                if e.is_builder() {
                    // Refused locally: nothing was sent, and sending again will not help.
                    let what = format!("{}: the request could not be built: {e}", ctx.info());
                    return Failure::of(Error::config(what));
                }
                let (stale, unsent) = (!e.is_connect(), e.is_connect());
                let what = if e.is_connect() { "cannot connect" } else { "the request failed" };
                Failure {
                    error: Error::network(&ctx.info(), what).with_source(e.without_url()),
                    stale,
                    unsent,
                }
            })?;
            if let Some(publish) = self.rate.observe(response.headers()) {
                publish.run().await;
            }
            if response.url() != &sent_url {
                return Err(Failure::of(Error::network(
                    &ctx.info(),
                    "the answer came through a redirect, which the SDK does not follow: build the \
                     http_client with redirect::Policy::none()",
                )));
            }
            let status = response.status();
            if !status.is_success() {
                let retry_after = response.headers().get(header::RETRY_AFTER).and_then(parse_retry_after);
                // Reading a small error body lets the connection go back to the pool.
                let body = read_body(response, 64 * 1024, ctx).await.unwrap_or_default();
                let said = wire::fastn_error(&body);
                let server_message = said.message.map(|said| self.scrub(said));
                let retry_after = retry_after.or(said.retry_after);
                let message = match &server_message {
                    Some(said) => format!("the server answered {status}: {said:?}"),
                    None => format!("the server answered {status}"),
                };
                return Err(Failure::of(
                    ErrorKind::Network {
                        request: Box::new(ctx.info()),
                        message,
                        status_code: Some(status.as_u16()),
                        server_message,
                        fastn_code: said.code,
                        retry_after,
                        timed_out: false,
                        source: None,
                    }
                    .into(),
                ));
            }
            read_body(response, max_body, ctx).await.map_err(Failure::of)
        };
        let started = Instant::now();
        let outcome = match end {
            Some(end) => match tokio::time::timeout_at(end, exchange).await {
                Ok(outcome) => outcome,
                Err(_) if end_is_deadline => {
                    Err(Failure::of(deadline_passed(&ctx.info(), end - started_call)))
                }
                Err(_) => {
                    let message = format!("no complete answer within {:?}", self.request_timeout);
                    Err(Failure::of(Error::network(&ctx.info(), message).timed_out()))
                }
            },
            None => exchange.await,
        };
        let counted = outcome.as_ref().map_or_else(|failure| Outcome::of(&failure.error), |_| Outcome::Ok);
        telemetry::upstream(ctx.endpoint, counted, started.elapsed());
        outcome
    }
}

/// What an error needs to describe a request, borrowed from the call.
struct Ctx<'a> {
    endpoint: Endpoint,
    url: &'a Url,
    scope: Scope<'a>,
    host: &'a str,
}

impl Ctx<'_> {
    fn info(&self) -> RequestInfo {
        RequestInfo {
            endpoint: self.endpoint,
            method: self.endpoint.method().to_owned(),
            host: self.host.to_owned(),
            path: self.url.path().to_owned(),
            tenant_id: self.scope.tenant_id.map(str::to_owned),
            connection_id: self.scope.connection_id.map(str::to_owned),
        }
    }
}

/// A request not sent: the key's rate limit is spent for `wait`, past the call's deadline.
fn rate_limited_unsent(info: &RequestInfo, wait: Duration) -> Error {
    let message = format!(
        "the key's rate limit is spent for {wait:?} more (X-RateLimit-Remaining: 0), past the call's \
         deadline; nothing was sent"
    );
    ErrorKind::Network {
        request: Box::new(info.clone()),
        message,
        status_code: None,
        server_message: None,
        fastn_code: Some("RATE_LIMITED".to_owned()),
        retry_after: Some(wait),
        timed_out: false,
        source: None,
    }
    .into()
}

/// The error of a call that found no complete answer before its deadline, `waited` after
/// it started.
fn deadline_passed(info: &RequestInfo, waited: Duration) -> Error {
    Error::network(info, format!("no complete answer within the call's deadline ({waited:?})")).timed_out()
}

/// A failed attempt; `stale` when it may have failed on a pooled connection the server had
/// closed, before any answer; `unsent` when no connection was made, so the server cannot
/// have seen the request.
struct Failure {
    error: Error,
    stale: bool,
    unsent: bool,
}

impl Failure {
    fn of(error: Error) -> Self {
        Failure { error, stale: false, unsent: false }
    }
}

/// One call for [`Transport::send`].
pub(crate) struct Outgoing<'a> {
    pub(crate) endpoint: Endpoint,
    pub(crate) url: Url,
    /// The tenant and connection, for errors.
    pub(crate) scope: Scope<'a>,
    /// Headers of this call; they replace the space's of the same name.
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<bytes::Bytes>,
    pub(crate) resend: Resend,
    /// The largest 2xx body read.
    pub(crate) max_body: usize,
}

/// Which transient failures a call may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Any: the connect API's calls, which change nothing when repeated or are harmless to.
    OnTransient,
    /// Only those the server cannot have acted on: no connection made, or a 429 with
    /// `Retry-After` (the server refused it). For actions, which must not run twice.
    OnlyUnacted,
}

impl Resend {
    fn allows(self, err: &Error, unsent: bool) -> bool {
        match self {
            Resend::OnTransient => true,
            Resend::OnlyUnacted => unsent || (err.status_code() == Some(429) && err.retry_after().is_some()),
        }
    }
}

fn endpoint_method(endpoint: Endpoint) -> reqwest::Method {
    match endpoint {
        Endpoint::Init
        | Endpoint::ExecuteTool
        | Endpoint::Registry
        | Endpoint::ConnectionsInitiate
        | Endpoint::ConnectionsStatus => reqwest::Method::POST,
        Endpoint::Status | Endpoint::Credentials | Endpoint::Api => reqwest::Method::GET,
    }
}

/// `Ok` inside a tokio runtime, which every call needs (its connections, timers and
/// deadlines are tokio's); else the [`ErrorKind::Config`](crate::ErrorKind::Config) that says so, instead of tokio's
/// panic deep inside a call.
pub(crate) fn in_runtime() -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Ok(());
    }
    Err(Error::config(
        "fastn-auth's async client runs on a tokio runtime, and this call was made outside one: \
         call it from #[tokio::main] or a tokio task, or use fastn_auth::blocking (feature `blocking`)",
    ))
}

/// The per-connection headers of a Fastn call: empty when unset, as the protocol says.
fn scope_headers(scope: Scope<'_>) -> Result<HeaderMap> {
    let mut headers = HeaderMap::with_capacity(2);
    headers.insert(HeaderName::from_static(wire::TENANT_ID), header_value("tenant_id", scope.tenant_id)?);
    headers.insert(
        HeaderName::from_static(wire::CONNECTION_ID),
        header_value("connection_id", scope.connection_id)?,
    );
    Ok(headers)
}

/// An id for messages: at most 64 characters, escaped.
pub(crate) fn shown(value: &str) -> String {
    fastn_auth_rules::shown_id(value)
}

/// The error of an id `name` that cannot be sent, saying why.
fn refused(name: &str, value: &str, problem: &str) -> Error {
    Error::config(format!("{name} cannot be sent: {problem} (got \"{}\")", shown(value)))
}

/// `value` as an id sent in a header or a JSON body, or the error naming `name` and why not.
pub(crate) fn check_id(name: &str, value: &str) -> Result<()> {
    match wire::id_problem(value, false) {
        None => Ok(()),
        Some(problem) => Err(refused(name, value, &problem)),
    }
}

/// A header value from caller input; `None` sends the empty string, as the protocol says.
pub(crate) fn header_value(name: &str, value: Option<&str>) -> Result<HeaderValue> {
    let Some(value) = value else { return Ok(HeaderValue::from_static("")) };
    match wire::id_problem(value, false) {
        None => HeaderValue::from_str(value).map_err(|_| {
            Error::config(format!("{name} cannot be sent as an HTTP header (got \"{}\")", shown(value)))
        }),
        Some(problem) => Err(refused(name, value, &problem)),
    }
}

async fn read_body(mut response: reqwest::Response, limit: usize, ctx: &Ctx<'_>) -> Result<Vec<u8>> {
    let too_large = |declared: Option<u64>| -> Error {
        ErrorKind::BodyTooLarge { request: Box::new(ctx.info()), limit: limit as u64, declared }.into()
    };
    if let Some(len) = response.content_length().filter(|&len| len > limit as u64) {
        return Err(too_large(Some(len)));
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0).min(limit as u64) as usize);
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            Error::network(&ctx.info(), "the connection failed while reading the body")
                .with_source(e.without_url())
        })?;
        let Some(chunk) = chunk else { return Ok(body) };
        if body.len() + chunk.len() > limit {
            return Err(too_large(None));
        }
        body.extend_from_slice(&chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport() -> Transport {
        Transport::new(TransportConfig {
            base_url: Url::parse("https://live.fastn.ai/api/").unwrap(),
            space_id: HeaderValue::from_static("s"),
            auth: (HeaderName::from_static(wire::API_KEY), HeaderValue::from_static("k")),
            custom_auth: true,
            test_mode: false,
            request_timeout: Duration::from_secs(1),
            call_timeout: Duration::from_secs(1),
            retry: RetryPolicy { max_retries: 0 },
            max_in_flight: 1,
            proxy: ProxyChoice::Off,
            http_client: None,
        })
        .unwrap()
    }

    #[test]
    fn path_parameters_are_single_encoded_segments() {
        let t = transport();
        let url = t.url(Route::Init { org: "a/b", connector: "../admin?x#y" }).unwrap();
        assert_eq!(url.as_str(), "https://live.fastn.ai/api/connect/init/a%2Fb/..%2Fadmin%3Fx%23y");
        let url = t.url(Route::Status { state: "s t%" }).unwrap();
        assert_eq!(url.as_str(), "https://live.fastn.ai/api/connect/status/s%20t%25");
    }

    #[test]
    fn unusable_ids_are_config_errors_naming_the_id() {
        let t = transport();
        let long = "c".repeat(70_000);
        for bad in ["", ".", "..", "sla\tck", "\r", "a\nb", "\u{0}", "\u{7f}", "\u{85}", long.as_str()] {
            let err = t.url(Route::Credentials { org: "community", connector: bad }).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::ConfigError, "{bad:?}");
            assert!(err.to_string().contains("connector_id"), "{err}");
        }
    }

    #[test]
    fn header_values_refuse_what_http_would_alter() {
        assert!(header_value("tenant_id", Some("Acme GmbH · Zürich")).is_ok());
        assert_eq!(header_value("tenant_id", None).unwrap(), "");
        for bad in ["acme\r\nx-evil: 1", "\t", " acme", "acme ", "a\tb", ""] {
            let err = header_value("tenant_id", Some(bad)).unwrap_err();
            assert!(err.to_string().contains("tenant_id"), "{err}");
        }
    }

    #[test]
    fn only_https_to_remote_hosts_is_proxied() {
        for (url, proxied) in [
            ("https://live.fastn.ai/api", true),
            ("http://example.com/api", false),
            ("https://127.0.0.1:8443/api", false),
            ("https://localhost/api", false),
            ("http://[::1]:80/api", false),
        ] {
            assert_eq!(may_proxy(&Url::parse(url).unwrap()), proxied, "{url}");
        }
    }
}
