//! The client and its builder.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderName, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use crate::api::ApiClient;
use crate::cache::{Cache, CacheOptions, CacheStats};
use crate::connector::{Connector, Untyped};
use crate::error::{Error, Result};
use crate::inner::{ClientInner, ToolSettings};
use crate::provider::{self, Providers, Routes};
use crate::request::{ConnectRequest, CredentialsRequest};
use crate::session::{AuthSession, SessionHandle};
use crate::store::Credential;
use crate::tools::{self, ToolClient};
use crate::transport::{self, ProxyChoice, RetryPolicy, Transport, TransportConfig};
use crate::wire;

/// The most retries [`FastnAuthBuilder::max_retries`] accepts.
pub const MAX_RETRIES: u32 = 10;
/// The most requests in flight [`FastnAuthBuilder::max_in_flight`] accepts.
pub const MAX_IN_FLIGHT: usize = 65_536;

const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_MAX_RETRIES: u32 = 2;
const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// A client of Fastn's connect API for one space.
///
/// Cheap to clone: clones share one connection pool, so keep one per process and clone
/// it into handlers and tasks.
#[derive(Clone, Debug)]
pub struct FastnAuth {
    pub(crate) inner: Arc<ClientInner>,
}

/// How [`FastnAuthBuilder::api_key`] sends the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKeyHeader {
    /// `Authorization: Bearer <key>`: the default for keys Fastn issues (`fsk_…`).
    Bearer,
    /// `x-fastn-api-key: <key>`: the default for any other key, as Fastn's API reference
    /// and its published clients send it.
    XFastnApiKey,
}

/// Builds a [`FastnAuth`]; start with [`FastnAuth::builder`] or
/// [`FastnAuthBuilder::from_env`]. `Debug` shows the key and the token as `[REDACTED]`.
#[derive(Debug)]
#[must_use = "call .build() to get a client"]
pub struct FastnAuthBuilder {
    space_id: String,
    api_key: Option<SecretString>,
    auth_token: Option<SecretString>,
    base_url: String,
    custom_auth: bool,
    api_key_header: Option<ApiKeyHeader>,
    test_mode: Option<bool>,
    request_timeout: Duration,
    call_timeout: Duration,
    max_retries: u32,
    max_in_flight: usize,
    allow_insecure_http: bool,
    proxy: ProxyChoice,
    http_client: Option<reqwest::Client>,
    cache: Option<CacheOptions>,
    api_gateway: Option<String>,
    api_bases: Vec<(String, String)>,
    api_http_client: Option<reqwest::Client>,
    agent_id: Option<String>,
    stage: String,
}

impl FastnAuth {
    /// Starts building a client for the space `space_id` (sent as `x-fastn-space-id`).
    pub fn builder(space_id: impl Into<String>) -> FastnAuthBuilder {
        FastnAuthBuilder {
            space_id: space_id.into(),
            api_key: None,
            auth_token: None,
            base_url: wire::DEFAULT_BASE_URL.to_owned(),
            custom_auth: true,
            api_key_header: None,
            test_mode: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            allow_insecure_http: false,
            proxy: ProxyChoice::default(),
            http_client: None,
            cache: None,
            api_gateway: None,
            api_bases: Vec::new(),
            api_http_client: None,
            agent_id: None,
            stage: tools::DEFAULT_STAGE.to_owned(),
        }
    }

    /// A client from the environment; see [`FastnAuthBuilder::from_env`].
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable that is missing or unusable.
    pub fn from_env() -> Result<FastnAuth> {
        FastnAuthBuilder::from_env()?.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        self.inner.transport.base_url()
    }

    /// The most requests this client (and its clones) has on the wire at once
    /// ([`FastnAuthBuilder::max_in_flight`]): a server sharing it between users gives each a
    /// share of these.
    pub fn max_in_flight(&self) -> usize {
        self.inner.transport.max_in_flight()
    }

    /// The rate limit Fastn last announced for this client's key (`X-RateLimit-*`), when it
    /// did: with nothing remaining, the next request waits for the reset when its deadline
    /// allows, else fails at once with `is_rate_limited()`, nothing sent. With a shared
    /// store ([`CacheOptions::store`]), a limit another client on it spent counts too (read
    /// at most once a second, before a request to Fastn).
    pub fn rate_limit(&self) -> Option<crate::RateLimit> {
        self.inner.transport.rate_limit()
    }

    /// What the credentials cache has done so far; `None` when the client has no cache.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.inner.caches_credentials.then(|| self.inner.cache.stats())
    }

    /// A client of the connector `connector_id`'s own API (untyped): give it a base URL with
    /// [`ApiClient::base_url`] and a tenant, then `.get(path).send().await`. The token is
    /// sent as `Authorization: Bearer`.
    pub fn api(&self, connector_id: impl Into<String>) -> ApiClient {
        self.api_with(Untyped::new(connector_id))
    }

    /// A client of `connector`'s API as its manifest `api:` block says; generated code
    /// calls this for `Salesforce::api`.
    pub fn api_with<C: Connector>(&self, connector: C) -> ApiClient {
        ApiClient::new(self.inner.clone(), &connector)
    }

    /// The tools of the connector `connector_id` (Fastn's id, untyped): set the tenant, then
    /// `.call_id(tool_id, parameters).send().await`. See [`tools`](crate::tools).
    pub fn tools(&self, connector_id: impl AsRef<str>) -> ToolClient {
        ToolClient::new(self.inner.clone(), connector_id.as_ref())
    }

    /// Fastn's connections API: a flow whose user comes back to your page, and a
    /// connection's status by id or by connector and tenant. See [`connections`](crate::connections).
    pub fn connections(&self) -> crate::connections::Connections {
        crate::connections::Connections::new(self.inner.clone())
    }

    /// The space this client acts for, as given to [`builder`](Self::builder).
    pub fn space_id(&self) -> &str {
        &self.inner.space_id
    }

    /// One query of Fastn's GraphQL API (`{base}/graphql`), asked as `space` (sent as
    /// `x-fastn-space-id`: the client's space, an org or `community`), through the client's
    /// transport: its key, deadlines and retries (a query is a read). What the registry sync
    /// of `fastn-auth-agent` asks; the answer's body is read up to `max_body` bytes.
    ///
    /// # Errors
    /// As any Fastn call; a 2xx answer with `errors` is [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) with the
    /// first error's message, one without a `data` object too.
    pub async fn graphql(
        &self,
        query: &str,
        variables: serde_json::Value,
        space: &str,
        max_body: usize,
    ) -> Result<serde_json::Value> {
        transport::in_runtime()?;
        self.inner.graphql(query, variables, space, max_body).await
    }

    /// The tools Fastn's `getTools` ranks for `prompt` (what the user asked, in words), best
    /// first, at most `limit` (at most [`MAX_FOUND_TOOLS`](crate::wire::tools::MAX_FOUND_TOOLS)):
    /// Fastn's own ranking, for a set too large to hand a model whole
    /// (`fastn-auth-agent`'s `ToolSet::search_fastn` keeps those of its set).
    ///
    /// # Errors
    /// Network failures and Fastn's refusals, as any call; an answer that lists more than
    /// the limit or a tool without a usable id is [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse).
    pub async fn find_tools(&self, prompt: &str, limit: usize) -> Result<Vec<crate::wire::tools::FoundTool>> {
        transport::in_runtime()?;
        let limit = limit.min(crate::wire::tools::MAX_FOUND_TOOLS);
        self.inner.find_tools(prompt, limit).await
    }

    /// Starts a flow for the connector `connector_id` (untyped credentials); set the
    /// tenant and the rest on the request, then `.send().await`.
    #[doc(alias = "initialize")]
    pub fn connect(&self, connector_id: impl Into<String>) -> ConnectRequest<'_, Untyped> {
        self.connect_with(Untyped::new(connector_id))
    }

    /// Starts a flow for `connector`; generated code calls this for `Slack::connect`.
    pub fn connect_with<C: Connector>(&self, connector: C) -> ConnectRequest<'_, C> {
        ConnectRequest::new(&self.inner, connector)
    }

    /// Fetches the credentials of a connection made earlier, without a new flow (untyped
    /// credentials).
    #[doc(alias = "get_credentials")]
    pub fn credentials(&self, connector_id: impl Into<String>) -> CredentialsRequest<'_, Untyped> {
        self.credentials_with(Untyped::new(connector_id))
    }

    /// Fetches credentials of `connector`; generated code calls this for
    /// `Slack::credentials`.
    pub fn credentials_with<C: Connector>(&self, connector: C) -> CredentialsRequest<'_, C> {
        CredentialsRequest::new(&self.inner, connector)
    }

    /// The health of a connection of `connector_id`, as this client's calls learned it
    /// (`.probe()` to ask Fastn now): see [`health`](crate::health).
    pub fn health(&self, connector_id: impl Into<String>) -> crate::HealthRequest<'_> {
        crate::HealthRequest::new(&self.inner, connector_id.into())
    }

    /// Every change of a connection's health from now on: one
    /// [`ConnectionEvent`](crate::health::ConnectionEvent) per change, never one per failed
    /// call. A slow subscriber is told how many it missed and never holds a call up.
    pub fn events(&self) -> crate::health::ConnectionEvents {
        self.inner.listen();
        self.inner.health.subscribe()
    }

    /// Starts a flow that connects a broken connection again (give the same tenant and, when
    /// calls name one, connection id): its consent page is what calls refused for the broken
    /// connection carry ([`Error::reconnect_url`](crate::Error::reconnect_url)); when it ends
    /// `ACTIVE` the connection is [`Reconnected`](crate::health::EventKind::Reconnected) and
    /// its stale token dropped.
    pub fn reconnect(&self, connector_id: impl Into<String>) -> ConnectRequest<'_, Untyped> {
        ConnectRequest::reconnect(&self.inner, Untyped::new(connector_id))
    }

    /// Continues a flow started elsewhere (another request, another process) from its
    /// [`SessionHandle`], untyped.
    pub fn resume(&self, handle: SessionHandle) -> AuthSession<Untyped> {
        AuthSession::new(self.inner.clone(), handle)
    }

    /// Continues a flow of `connector` from its handle; generated code calls this for
    /// `Slack::resume`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the handle belongs to another connector.
    pub fn resume_with<C: Connector>(&self, connector: C, handle: SessionHandle) -> Result<AuthSession<C>> {
        if handle.connector_id() != connector.id() {
            return Err(Error::config(format!(
                "the session handle is for connector `{}`, not `{}`",
                transport::shown(handle.connector_id()),
                connector.id()
            )));
        }
        Ok(AuthSession::new(self.inner.clone(), handle))
    }
}

impl FastnAuthBuilder {
    /// A builder from the variables of [`crate::env`]: `FASTN_SPACE_ID`, `FASTN_API_KEY` or
    /// `FASTN_AUTH_TOKEN` (exactly one) and, optionally, `FASTN_BASE_URL` and
    /// `FASTN_API_GATEWAY` — the ones the `fastn-auth` command line reads. Empty variables
    /// count as unset.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable that is missing, not UTF-8, or set twice over
    /// (`FASTN_API_KEY` and `FASTN_AUTH_TOKEN` together).
    pub fn from_env() -> Result<FastnAuthBuilder> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    fn from_vars(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<FastnAuthBuilder> {
        let read = |name: &str| -> Result<Option<String>> {
            match var(name) {
                None => Ok(None),
                Some(value) if value.is_empty() => Ok(None),
                Some(value) => value
                    .into_string()
                    .map(Some)
                    .map_err(|_| Error::config(format!("the environment variable {name} is not UTF-8"))),
            }
        };
        use crate::env::{API_GATEWAY, API_KEY, AUTH_TOKEN, BASE_URL, SPACE_ID};
        let space = read(SPACE_ID)?
            .ok_or_else(|| Error::config(format!("the environment variable {SPACE_ID} is not set")))?;
        let mut builder = FastnAuth::builder(space);
        builder = match (read(API_KEY)?, read(AUTH_TOKEN)?) {
            (Some(key), None) => builder.api_key(key),
            (None, Some(token)) => builder.auth_token(token),
            (None, None) => {
                return Err(Error::config(format!(
                    "neither {API_KEY} nor {AUTH_TOKEN} is set in the environment; set one"
                )));
            }
            (Some(_), Some(_)) => {
                return Err(Error::config(format!("both {API_KEY} and {AUTH_TOKEN} are set; set one")));
            }
        };
        if let Some(base_url) = read(BASE_URL)? {
            builder = builder.base_url(base_url);
        }
        if let Some(gateway) = read(API_GATEWAY)? {
            builder = builder.api_gateway(gateway);
        }
        Ok(builder)
    }

    /// Authenticates with an API key, sent as Fastn issues it: a key starting `fsk_` as
    /// `Authorization: Bearer <key>` (as Fastn's newer documentation sends it), any other
    /// key as `x-fastn-api-key` (as its API reference and every published client do);
    /// [`api_key_header`](Self::api_key_header) forces one. A test key (`fsk_test_…`) also
    /// sends `x-fastn-test-mode: true`, without which Fastn refuses it
    /// ([`test_mode`](Self::test_mode) forces it on or off).
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(api_key.into()));
        self
    }

    /// How the API key is sent, whatever it looks like.
    pub fn api_key_header(mut self, header: ApiKeyHeader) -> Self {
        self.api_key_header = Some(header);
        self
    }

    /// Whether every request carries `x-fastn-test-mode: true`; default: when the API key
    /// is a test key (`fsk_test_…`), never otherwise. Fastn's pages disagree on whether a
    /// live key may send it, so none does unless this says so.
    pub fn test_mode(mut self, test_mode: bool) -> Self {
        self.test_mode = Some(test_mode);
        self
    }

    /// Authenticates with a token, sent as `Authorization: Bearer {token}`.
    pub fn auth_token(mut self, auth_token: impl Into<String>) -> Self {
        self.auth_token = Some(SecretString::from(auth_token.into()));
        self
    }

    /// The API's base URL; default [`DEFAULT_BASE_URL`](crate::limits::DEFAULT_BASE_URL). `http://` is refused unless the
    /// host is loopback or [`allow_insecure_http`](Self::allow_insecure_http) is set.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Whether to send `x-fastn-custom-auth: true`; default `true`, as the official client
    /// 1.0.5. The header tells Fastn the space authenticates its tenants with its own
    /// (custom) auth, so tenant ids are the caller's to choose; turn it off only for a space
    /// set up for Fastn's built-in tenant auth, as `custom_auth=False` does in Python.
    pub fn custom_auth(mut self, custom_auth: bool) -> Self {
        self.custom_auth = custom_auth;
        self
    }

    /// The longest one request may take, body included; default 30 s. Within
    /// `wait_for_completion` the wait's own deadline also bounds each request.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The longest one call (`send()`, one status poll) may take: waiting for an in-flight
    /// slot, every attempt and every pause between them; default 60 s. `Duration::MAX`:
    /// no limit beyond the request timeout and retries.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How often a call retries a transient failure (no answer, 408, 425, 429, 5xx);
    /// default 2, at most [`MAX_RETRIES`]. One call makes at most `max_retries + 2`
    /// requests: the retries, plus one on a fresh connection when a status or credentials
    /// request failed on a pooled connection the server had closed.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The most requests this client (and its clones) has on the wire at once; default 64,
    /// at most [`MAX_IN_FLIGHT`]. Further requests wait their turn (within their call
    /// timeout), so thousands of waiting sessions share a few connections.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests;
        self
    }

    /// Allows an `http://` base URL on a non-loopback host, sending the key in plain text.
    /// Default `false`.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sends requests through this proxy. Only for an `https` base URL to a host that is
    /// not loopback, where the proxy sees a `CONNECT` and never the key; `build()` refuses
    /// it otherwise. Without this, the `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` environment is
    /// honoured for such URLs, and no proxy is used for any other.
    pub fn proxy(mut self, proxy: reqwest::Proxy) -> Self {
        self.proxy = ProxyChoice::Explicit(Box::new(proxy));
        self
    }

    /// Uses no proxy at all, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxyChoice::Off;
        self
    }

    /// Sends requests with your own `reqwest::Client` (custom CA roots, a proxy, a local
    /// address). The SDK's timeouts, retries, body limit, headers and id checks still apply;
    /// proxies and TLS are then the client's. Build it with
    /// `.redirect(reqwest::redirect::Policy::none())`: the SDK refuses an answer that came
    /// through a redirect, but only your client can keep the key from being sent on one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Caches credentials for every credentials request of this client and its clones,
    /// typed and untyped; the fetch that ends `wait_for_completion` seeds it. Off unless
    /// set: turn it on when you fetch a connection's token for each use (an API call per
    /// user request), rather than keeping it yourself. See `docs/caching.md` in the repository
    /// for the rules.
    pub fn cache(mut self, options: CacheOptions) -> Self {
        self.cache = Some(options);
        self
    }

    /// Sends every connector's API calls to `{url}/{connector_id}/…` instead of its own base
    /// URL: what a client of the emulator does (`MockServer::client()`), or a gateway of
    /// yours. The base URL is still filled in and checked, then replaced.
    pub fn api_gateway(mut self, url: impl Into<String>) -> Self {
        self.api_gateway = Some(url.into());
        self
    }

    /// Sends the API calls of `connector_id` to `url` instead of its own base URL: a
    /// staging or sandbox provider, say. Wins over [`api_gateway`](Self::api_gateway).
    pub fn api_base_url(mut self, connector_id: impl Into<String>, url: impl Into<String>) -> Self {
        self.api_bases.push((connector_id.into(), url.into()));
        self
    }

    /// Sends API calls with your own `reqwest::Client` (a proxy, custom CA roots). Build it
    /// with `.redirect(reqwest::redirect::Policy::none())`: a redirect it follows takes the
    /// token along. Without this, API calls use a client of the SDK's that follows no
    /// redirect and uses no proxy.
    pub fn api_http_client(mut self, client: reqwest::Client) -> Self {
        self.api_http_client = Some(client);
        self
    }

    /// The agent tool calls are made as (`agentId`); default the space id.
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// The deployment stage tool calls name (`stage`); default
    /// [`DEFAULT_STAGE`](crate::tools::DEFAULT_STAGE), `LIVE`.
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = stage.into();
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when neither or both of an API key and an auth token are set, one
    /// is empty or has a control character, the space id is unusable, the base URL is not
    /// an absolute http(s) URL (or is plain http to a remote host), a proxy is set where
    /// none may be used, or a limit is zero or over its maximum.
    pub fn build(self) -> Result<FastnAuth> {
        let key = self.api_key.as_ref().map(|key| key.expose_secret());
        let key_header = self.api_key_header.unwrap_or(match key {
            Some(key) if key.starts_with("fsk_") => ApiKeyHeader::Bearer,
            _ => ApiKeyHeader::XFastnApiKey,
        });
        // `x-fastn-custom-auth: true` marks a bearer token as an end user's: never with the
        // space's key.
        let key_as_bearer = key.is_some() && key_header == ApiKeyHeader::Bearer;
        let auth = match (&self.api_key, &self.auth_token) {
            (Some(key), None) if key_as_bearer => {
                (header::AUTHORIZATION, secret_header("api_key", key, "Bearer ")?)
            }
            (Some(key), None) => (HeaderName::from_static(wire::API_KEY), secret_header("api_key", key, "")?),
            (None, Some(token)) => (header::AUTHORIZATION, secret_header("auth_token", token, "Bearer ")?),
            (None, None) => return Err(Error::config("set an api_key or an auth_token")),
            (Some(_), Some(_)) => return Err(Error::config("set an api_key or an auth_token, not both")),
        };
        let test_mode = self.test_mode.unwrap_or(key.is_some_and(|key| key.starts_with("fsk_test_")));
        let space_id = transport::header_value("space_id", Some(&self.space_id))?;
        if self.request_timeout.is_zero() || self.call_timeout.is_zero() {
            return Err(Error::config("request_timeout and call_timeout must be greater than zero"));
        }
        if self.max_retries > MAX_RETRIES {
            return Err(Error::config(format!("max_retries is {}, at most {MAX_RETRIES}", self.max_retries)));
        }
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return Err(Error::config(format!(
                "max_in_flight is {}, expected 1 to {MAX_IN_FLIGHT}",
                self.max_in_flight
            )));
        }
        let base_url = parse_base_url(&self.base_url, self.allow_insecure_http)?;
        if let ProxyChoice::Explicit(_) = self.proxy {
            if self.http_client.is_some() {
                return Err(Error::config("set a proxy on your http_client, not on the builder"));
            }
            if !transport::may_proxy(&base_url) {
                return Err(Error::config(format!(
                    "a proxy is set, but requests to {} never go through one: plain http would \
                     show the API key to the proxy, and loopback needs none",
                    base_url.origin().ascii_serialization()
                )));
            }
        }
        let mut transport = Transport::new(TransportConfig {
            base_url,
            space_id,
            auth,
            custom_auth: self.custom_auth && !key_as_bearer,
            test_mode,
            request_timeout: self.request_timeout,
            call_timeout: self.call_timeout,
            retry: RetryPolicy { max_retries: self.max_retries },
            max_in_flight: self.max_in_flight,
            proxy: self.proxy,
            http_client: self.http_client,
        })?;
        if let Some(options) = &self.cache {
            options.check()?;
        }
        let mut routes = Routes::default();
        if let Some(gateway) = &self.api_gateway {
            routes.gateway(gateway)?;
        }
        for (connector_id, url) in self.api_bases {
            routes.base(connector_id, &url)?;
        }
        let http = match self.api_http_client {
            Some(client) => client,
            None => provider::http_client()?,
        };
        // `auth` above made sure exactly one of them is set.
        let credential = match (&self.api_key, &self.auth_token) {
            (Some(key), _) => Credential::ApiKey(key.expose_secret()),
            (None, token) => Credential::Token(token.as_ref().map_or("", |t| t.expose_secret())),
        };
        let caches_credentials = self.cache.is_some();
        // Without a cache of its own, a client still caches for its API calls.
        let cache =
            Cache::new(self.cache.unwrap_or_default(), transport.base_url(), &self.space_id, credential);
        let fleet = cache.shared_level().map(|(level, scope)| {
            transport.share_rate_limit(level.clone(), format!("{scope}/rate-limit"));
            Arc::new(crate::health::Fleet::new(level, scope))
        });
        let providers = Providers { http, routes };
        let agent_id = self.agent_id.unwrap_or_else(|| self.space_id.clone());
        transport::header_value("agent_id", Some(&agent_id))?;
        let tools = ToolSettings::new(&transport, agent_id, &self.stage)?;
        let space_id = self.space_id;
        let inner = Arc::new_cyclic(|me| ClientInner {
            me: me.clone(),
            transport,
            cache,
            caches_credentials,
            providers,
            space_id,
            tools,
            health: crate::health::Board::default(),
            fleet,
        });
        // With a shared store, the other replicas' changes are taken in from now on (or
        // from the first call, for a client built outside a runtime).
        inner.listen();
        Ok(FastnAuth { inner })
    }
}

/// The header value of a key or token; what is wrong with it is said, never what it is.
fn secret_header(name: &str, secret: &SecretString, prefix: &str) -> Result<HeaderValue> {
    let value = secret.expose_secret();
    let problem = if value.is_empty() {
        Some("is empty")
    } else if value.chars().any(char::is_control) {
        Some("contains a control character (CR, LF, tab, NUL, U+0085, …)")
    } else if value.trim() != value {
        Some("has leading or trailing white space")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(Error::config(format!("{name} {problem}")));
    }
    HeaderValue::from_str(&format!("{prefix}{value}"))
        .map_err(|_| Error::config(format!("{name} cannot be sent as an HTTP header")))
}

fn parse_base_url(raw: &str, allow_insecure_http: bool) -> Result<Url> {
    let url = Url::parse(raw).map_err(|e| {
        Error::config(format!("base_url {:?} is not an absolute URL: {e}", without_user_info(raw)))
    })?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(Error::config(format!(
            "base_url must be scheme://host[:port]/path without user info, query or fragment, got {}",
            url.origin().ascii_serialization()
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_insecure_http || transport::is_loopback(&url) => Ok(url),
        "http" => Err(Error::config(format!(
            "base_url {} is plain http to a host that is not loopback; use https, or allow \
             insecure http (FastnAuthBuilder::allow_insecure_http; the CLI's \
             --allow-insecure-http) to send the key unencrypted",
            url.origin().ascii_serialization()
        ))),
        other => Err(Error::config(format!("base_url must be http or https, got scheme {other:?}"))),
    }
}

/// `raw` for an error message: anything between `://` and an `@` (user info, perhaps a
/// password) replaced, and cut to 100 characters.
fn without_user_info(raw: &str) -> String {
    let shown = match raw.split_once("://") {
        Some((scheme, rest)) => match rest.split(['/', '?', '#']).next().and_then(|auth| auth.rfind('@')) {
            Some(at) => format!("{scheme}://[user info]{}", &rest[at..]),
            None => raw.to_owned(),
        },
        None if raw.contains('@') => "[a value with user info]".to_owned(),
        None => raw.to_owned(),
    };
    shown.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::ErrorCode;

    fn build(f: impl FnOnce(FastnAuthBuilder) -> FastnAuthBuilder) -> Result<FastnAuth> {
        f(FastnAuth::builder("space")).build()
    }

    #[test]
    fn exactly_one_usable_credential_is_required() {
        assert!(build(|b| b).unwrap_err().to_string().contains("api_key or an auth_token"));
        let both = build(|b| b.api_key("k").auth_token("t")).unwrap_err();
        assert!(both.to_string().contains("not both"));
        assert!(build(|b| b.api_key("k")).is_ok());
        assert!(build(|b| b.auth_token("t")).is_ok());
        for bad in ["", "a\tb", "k\u{85}", "sekret\r\nx: y", " k"] {
            let err = build(|b| b.api_key(bad)).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ConfigError, "{bad:?}");
            let err2 = build(|b| b.auth_token(bad)).unwrap_err();
            assert!(!err.to_string().contains("sekret") && !err2.to_string().contains("sekret"), "{err}");
        }
    }

    #[test]
    fn plaintext_only_to_loopback_unless_allowed() {
        for ok in
            ["http://127.0.0.1:9/api", "http://localhost/api", "http://[::1]:80", "https://example.com/api"]
        {
            assert!(build(|b| b.api_key("k").base_url(ok)).is_ok(), "{ok}");
        }
        let err = build(|b| b.api_key("k").base_url("http://example.com/api")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigError);
        assert!(
            build(|b| b.api_key("k").base_url("http://example.com/api").allow_insecure_http(true)).is_ok()
        );
        for bad in ["example.com", "ftp://example.com", "https://u:p@example.com", "https://example.com/?q=1"]
        {
            assert_eq!(
                build(|b| b.api_key("k").base_url(bad)).unwrap_err().code(),
                ErrorCode::ConfigError,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_base_url_in_an_error_never_shows_user_info() {
        for raw in [
            "https://user:hunter2@exa mple.com/api",
            "https://user:hunter2@[::1/api",
            "user:hunter2@host",
            "https://user:hunter2@example.com/api",
        ] {
            let err = build(|b| b.api_key("k").base_url(raw)).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn every_extreme_setting_builds_or_is_a_config_error() {
        let durations = [Duration::ZERO, Duration::from_nanos(1), Duration::from_secs(1), Duration::MAX];
        for d in durations {
            for result in
                [build(|b| b.api_key("k").request_timeout(d)), build(|b| b.api_key("k").call_timeout(d))]
            {
                assert_eq!(result.is_ok(), !d.is_zero(), "{d:?}");
            }
        }
        for (n, ok) in [(0, true), (MAX_RETRIES, true), (MAX_RETRIES + 1, false), (u32::MAX, false)] {
            assert_eq!(build(|b| b.api_key("k").max_retries(n)).is_ok(), ok, "{n}");
        }
        for (n, ok) in
            [(0, false), (1, true), (MAX_IN_FLIGHT, true), (MAX_IN_FLIGHT + 1, false), (usize::MAX, false)]
        {
            assert_eq!(build(|b| b.api_key("k").max_in_flight(n)).is_ok(), ok, "{n}");
        }
    }

    #[test]
    fn a_proxy_is_refused_where_it_could_read_the_key() {
        let proxy = || reqwest::Proxy::all("http://127.0.0.1:3128").unwrap();
        assert!(build(|b| b.api_key("k").proxy(proxy())).is_ok(), "https to a remote host");
        for base in ["http://127.0.0.1:9/api", "https://localhost/api"] {
            let err = build(|b| b.api_key("k").base_url(base).proxy(proxy())).unwrap_err();
            assert!(err.to_string().contains("never go through one"), "{err}");
        }
        let err =
            build(|b| b.api_key("k").base_url("http://example.com").allow_insecure_http(true).proxy(proxy()));
        assert_eq!(err.unwrap_err().code(), ErrorCode::ConfigError);
    }

    #[test]
    fn from_env_names_the_missing_variable() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| OsString::from(v))
        };
        let err = FastnAuthBuilder::from_vars(vars(&[])).unwrap_err().to_string();
        assert!(err.contains("FASTN_SPACE_ID is not set"), "{err}");
        let err = FastnAuthBuilder::from_vars(vars(&[("FASTN_SPACE_ID", "s")])).unwrap_err().to_string();
        assert!(err.contains("FASTN_API_KEY nor FASTN_AUTH_TOKEN"), "{err}");
        let both = vars(&[("FASTN_SPACE_ID", "s"), ("FASTN_API_KEY", "k"), ("FASTN_AUTH_TOKEN", "t")]);
        assert!(FastnAuthBuilder::from_vars(both).unwrap_err().to_string().contains("both"));
        let ok = vars(&[
            ("FASTN_SPACE_ID", "s"),
            ("FASTN_AUTH_TOKEN", "t"),
            ("FASTN_BASE_URL", "http://127.0.0.1:1/api"),
            ("FASTN_API_GATEWAY", "http://127.0.0.1:1/_provider"),
        ]);
        let client = FastnAuthBuilder::from_vars(ok).unwrap().build().unwrap();
        assert_eq!(client.base_url().as_str(), "http://127.0.0.1:1/api");
        let routed = client.inner.providers.routes.routed("slack").map(|url| url.to_string());
        assert_eq!(
            routed.as_deref(),
            Some("http://127.0.0.1:1/_provider/slack"),
            "the CLI's gateway variable too"
        );
        let hostile = vars(&[
            ("FASTN_SPACE_ID", "s"),
            ("FASTN_API_KEY", "k"),
            ("FASTN_API_GATEWAY", "http://evil.example"),
        ]);
        let err = FastnAuthBuilder::from_vars(hostile).unwrap().build().unwrap_err();
        assert!(err.to_string().contains("api_gateway"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let builder = FastnAuth::builder("space").api_key("super-secret-key");
        assert!(!format!("{builder:?}").contains("super-secret-key"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("super-secret-key"));
    }
}
