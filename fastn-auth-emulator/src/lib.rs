//! An emulator of the Fastn connect API: a real HTTP server on loopback, for tests,
//! examples, benchmarks and local development. Add it as a dev-dependency: it is never part
//! of a production build of `fastn-auth`.
//!
//! It answers exactly as `docs/PROTOCOL.md` describes — the official Python client works
//! against it too — checks the headers the real service checks, refuses ids the SDK would
//! refuse to send, serves a consent page at the `redirectUrl` where a person can click
//! Approve or Deny (a per-flow token keeps cross-site forms out), and can be scripted:
//! approve or deny flows, fix credentials, inject faults, and read back the requests it saw.
//! Everything its Rust methods do is also an HTTP call under `/_emulator/` (approve, deny,
//! set credentials, add connections, inject and clear faults, list requests, stats, reset),
//! JSON in and out, for scripts and test suites in any language; `docs/emulator.md` lists them
//! with curl lines.
//!
//! Its memory stays flat however long it runs: flows expire after
//! [`flow_ttl`](MockServerBuilder::flow_ttl) (10 minutes), the request log keeps the newest
//! [`request_log`](MockServerBuilder::request_log) entries (10,000), and a connection that
//! sends no complete request head within
//! [`header_read_timeout`](MockServerBuilder::header_read_timeout) (15 s) is closed.
//!
//! ```
//! use fastn_auth_emulator::{Fault, MockServer};
//! use fastn_auth::{Endpoint, PollOptions};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mock = MockServer::start().await?;
//! let client = mock.client(); // space MockServer::SPACE_ID, key MockServer::API_KEY
//!
//! let session = client.connect("slack").send().await?;
//! mock.inject(Endpoint::Status, Fault::status(503)); // the first poll fails, the SDK polls on
//! assert!(mock.approve(session.state_key()));
//! let credentials = session.wait_for_completion(PollOptions::new(
//!     std::time::Duration::from_millis(10),
//!     std::time::Duration::from_secs(5),
//! )).await?;
//! assert!(credentials.access_token.is_some());
//! # Ok(())
//! # }
//! ```

mod app;
mod config;
mod connections;
mod consent;
mod control;
mod example;
mod faults;
mod generate;
mod json;
mod key;
mod live;
mod provider;
mod rate;
mod registry;
mod requests;
mod server;
mod store;
mod tools;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::watch;

pub use config::{AutoApprove, CredentialsShape, ErrorShape, KeyCase, Wrapping};
pub use faults::{Fault, MAX_DELAY_MS, MAX_FAULT_TIMES, MAX_OVERSIZED_BYTES, MAX_RETRY_AFTER_SECS};
pub use key::{ConnectionBreak, ConnectionKey};

/// The registry the emulator serves when given none: eight tools of Slack, Google Sheets,
/// HubSpot, GitHub and Notion in Fastn's `.fastn/registry.json` format, so that `tools sync`
/// against a bare emulator, and a tool call, work offline from an empty directory.
pub const SAMPLE_REGISTRY: &str = include_str!("sample-registry.json");
pub use live::StartError;
pub use requests::RecordedRequest;

use fastn_auth::wire::Endpoint;
use fastn_auth::{FastnAuth, FastnAuthBuilder};

const DEFAULT_REQUEST_LOG: usize = 10_000;

/// The `errorMessage` of a flow denied on the consent page.
pub const DENIED_MESSAGE: &str = "user denied access";

/// Configures a [`MockServer`]; start with [`MockServer::builder`].
#[derive(Debug, Clone)]
#[must_use = "call .start().await"]
pub struct MockServerBuilder {
    port: u16,
    api_keys: Vec<String>,
    auth_tokens: Vec<String>,
    auto_approve: AutoApprove,
    shape: CredentialsShape,
    limits: store::Limits,
    header_read_timeout: Duration,
    manifest: Option<String>,
    registry: Option<String>,
    log_requests: bool,
    rate_limit: Option<(u64, Duration)>,
    error_shape: ErrorShape,
}

impl MockServerBuilder {
    /// The shape of every error answer of the API (default [`ErrorShape::Documented`]): the
    /// older shapes some of Fastn's paths still return, to test that a client reads each.
    pub fn error_shape(mut self, shape: ErrorShape) -> Self {
        self.error_shape = shape;
        self
    }

    /// A rate limit per key, as Fastn documents one: at most `limit` requests of the API
    /// (init, status, credentials, tools, registry) in each `window` (at least 1 s); every
    /// answer announces it (`X-RateLimit-Limit`, `-Remaining`, `-Reset`), and a request past
    /// it is `429` `RATE_LIMITED` with `retryAfter` and `Retry-After`. Default: none.
    pub fn rate_limit(mut self, limit: u64, window: Duration) -> Self {
        self.rate_limit = Some((limit, window));
        self
    }

    /// Listens on this port of 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Accepts this API key — instead of the public [`MockServer::API_KEY`] and
    /// [`MockServer::AUTH_TOKEN`], which an emulator given a key or token of its own no
    /// longer accepts (call again to accept several). The control API asks for it too.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_keys.push(key.into());
        self
    }

    /// Accepts this bearer token — instead of the public defaults, as
    /// [`api_key`](Self::api_key).
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_tokens.push(token.into());
        self
    }

    /// Flows approve themselves on the first poll at least `delay` after init.
    pub fn auto_approve_after(mut self, delay: Duration) -> Self {
        self.auto_approve = AutoApprove::After(delay);
        self
    }

    /// Flows approve themselves on their `polls`-th poll.
    pub fn auto_approve_after_polls(mut self, polls: u32) -> Self {
        self.auto_approve = AutoApprove::AfterPolls(polls);
        self
    }

    /// Sets when flows approve themselves.
    pub fn auto_approve(mut self, auto_approve: AutoApprove) -> Self {
        self.auto_approve = auto_approve;
        self
    }

    /// The wire shape of credentials answers (default: envelope, snake_case).
    pub fn credentials_shape(mut self, wrapping: Wrapping, keys: KeyCase) -> Self {
        self.shape = CredentialsShape { wrapping, keys };
        self
    }

    /// Whether to keep the log that [`MockServer::requests`] returns: `false` is
    /// `request_log(0)`, for benchmarks.
    pub fn record_requests(mut self, record: bool) -> Self {
        self.limits.request_log = if record { DEFAULT_REQUEST_LOG } else { 0 };
        self
    }

    /// Keeps the newest `entries` requests in the log (default 10,000; 0: no log).
    pub fn request_log(mut self, entries: usize) -> Self {
        self.limits.request_log = entries;
        self
    }

    /// Forgets flows this long after init, pending or not (default 10 minutes, like an
    /// OAuth state); polling a forgotten flow answers 404.
    pub fn flow_ttl(mut self, ttl: Duration) -> Self {
        self.limits.flow_ttl = ttl;
        self
    }

    /// Closes a connection that has not sent a complete request head this long after it
    /// opened or after its last answer (default 15 s).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Prints a line per API request on stderr: method, path, status and time (default off;
    /// the standalone emulator turns it on unless `--quiet`).
    pub fn log_requests(mut self, log: bool) -> Self {
        self.log_requests = log;
        self
    }

    /// The connectors manifest your code was generated from — pass the `MANIFEST` that
    /// `connectors!` generates, so the emulator reads exactly the file the macro read, from
    /// any directory: each `extra` field it declares gets a value of its type in generated
    /// credentials (a URL for `url`, an integer for `integer`, a list for `list<T>`, …), so
    /// a typed flow of any of your connectors works with no set-up. Without it generated
    /// credentials carry the common fields only, and a typed decode that misses a required
    /// field says to give the emulator the manifest.
    ///
    /// ```
    /// mod fastn {
    ///     fastn_auth::connectors!("../connectors.yaml"); // your crate's own "connectors.yaml"
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let mock = fastn_auth_emulator::MockServer::builder().connectors(fastn::MANIFEST).start().await?;
    /// # Ok(()) }
    /// ```
    pub fn connectors(mut self, manifest: impl Into<String>) -> Self {
        self.manifest = Some(manifest.into());
        self
    }

    /// Serves Fastn's tools from this registry (the `.fastn/registry.json` format, or the
    /// `REGISTRY` that `connectors!` generates for a manifest with `tools:`) instead of
    /// [`SAMPLE_REGISTRY`]:
    /// `executeTool` checks the parameters against each tool's input schema (400 with the
    /// JSON pointer of the first error), requires the tenant's connection (404
    /// `CONNECTION_NOT_FOUND` without one) and answers an echo envelope; `getTools` and the
    /// registry's GraphQL queries answer from the same file.
    pub fn registry(mut self, registry: impl Into<String>) -> Self {
        self.registry = Some(registry.into());
        self
    }

    /// Binds 127.0.0.1 and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// The port could not be bound, or the manifest could not be read or is not valid (the
    /// error says why, as the `connectors!` macro would).
    pub async fn start(self) -> std::io::Result<MockServer> {
        let declared = match &self.manifest {
            None => generate::Declared::default(),
            Some(text) => {
                let manifest = fastn_auth_codegen::manifest::parse(text).map_err(|err| {
                    let at =
                        err.position.map(|(line, column)| format!(":{line}:{column}")).unwrap_or_default();
                    let message = format!("the connectors manifest{at}: {}", err.message);
                    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
                })?;
                generate::declared(&manifest)
            }
        };
        let text = self.registry.as_deref().unwrap_or(SAMPLE_REGISTRY);
        let tools = Arc::new(registry::ToolRegistry::new(
            fastn_auth_rules::registry::Registry::parse(text).map_err(|err| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("the tool registry: {err}"))
            })?,
        ));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(store::Store::new(self.auto_approve, self.shape, self.limits, declared));
        store.set_rate_limit(self.rate_limit);
        let (stop, shutdown) = watch::channel(false);
        let (api_keys, auth_tokens) = if self.api_keys.is_empty() && self.auth_tokens.is_empty() {
            (vec![MockServer::API_KEY.to_owned()], vec![MockServer::AUTH_TOKEN.to_owned()])
        } else {
            (self.api_keys, self.auth_tokens)
        };
        let credential = match (api_keys.first(), auth_tokens.first()) {
            (Some(key), _) => ClientCredential::ApiKey(key.clone()),
            (None, Some(token)) => ClientCredential::Token(token.clone()),
            (None, None) => ClientCredential::ApiKey(MockServer::API_KEY.to_owned()),
        };
        let app = Arc::new(app::App {
            store: store.clone(),
            origin: format!("http://{addr}"),
            hosts: [addr.to_string(), format!("localhost:{}", addr.port())],
            api_keys,
            auth_tokens,
            shutdown: shutdown.clone(),
            log_requests: self.log_requests,
            tools,
            error_shape: self.error_shape,
        });
        let serve =
            server::serve(listener, server::router(app), store.clone(), self.header_read_timeout, shutdown);
        tokio::spawn(serve);
        Ok(MockServer { addr, store, stop, credential })
    }
}

/// A running emulator; it stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    store: Arc<store::Store>,
    stop: watch::Sender<bool>,
    /// What [`client`](MockServer::client) authenticates with.
    credential: ClientCredential,
}

/// The first key or token an emulator accepts, for its own clients.
#[derive(Clone)]
enum ClientCredential {
    ApiKey(String),
    Token(String),
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl MockServer {
    /// The API key every emulator accepts.
    pub const API_KEY: &'static str = "mock-api-key";
    /// The bearer token every emulator accepts.
    pub const AUTH_TOKEN: &'static str = "mock-auth-token";
    /// The space id of [`client`](Self::client).
    pub const SPACE_ID: &'static str = "mock-space";

    /// Starts an emulator with the defaults on a free port.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start() -> std::io::Result<MockServer> {
        MockServer::builder().start().await
    }

    /// Configures an emulator.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            port: 0,
            api_keys: Vec::new(),
            auth_tokens: Vec::new(),
            auto_approve: AutoApprove::Never,
            shape: CredentialsShape::default(),
            limits: store::Limits { flow_ttl: Duration::from_secs(600), request_log: DEFAULT_REQUEST_LOG },
            header_read_timeout: Duration::from_secs(15),
            manifest: None,
            registry: None,
            log_requests: false,
            rate_limit: None,
            error_shape: ErrorShape::Documented,
        }
    }

    /// The base URL to give the client: `http://127.0.0.1:{port}/api`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// A client of this emulator: space [`SPACE_ID`](Self::SPACE_ID), key
    /// [`API_KEY`](Self::API_KEY) (or the first key or token the emulator was given),
    /// default settings.
    ///
    /// # Panics
    /// Never for an emulator's own settings; a panic would be a bug in the SDK.
    pub fn client(&self) -> FastnAuth {
        self.client_builder().build().expect("the emulator's own client settings are valid")
    }

    /// A builder of such a client, to change settings before `build()`. Its API calls
    /// ([`FastnAuth::api`]) go to the emulator's provider API ([`provider_url`](Self::provider_url)).
    pub fn client_builder(&self) -> FastnAuthBuilder {
        let builder =
            FastnAuth::builder(Self::SPACE_ID).base_url(self.base_url()).api_gateway(self.provider_url());
        match &self.credential {
            ClientCredential::ApiKey(key) => builder.api_key(key.clone()),
            ClientCredential::Token(token) => builder.auth_token(token.clone()),
        }
    }

    /// Where the provider API of every connector is: `http://127.0.0.1:{port}/_provider`,
    /// the connector `slack` at `…/_provider/slack`. A request with a connection's current
    /// token (placed as the manifest's `api:` block says; `Authorization: Bearer` without
    /// one) is answered 200 with a JSON echo — `method`, `path` (under the connector's
    /// base), `query`, `headers` (the token's left out), `body`, `connector_id`,
    /// `tenant_id` —, any other 401 `{"error": "invalid_token"}`.
    pub fn provider_url(&self) -> String {
        format!("http://{}/_provider", self.addr)
    }

    /// Gives the connections of `connector_id` and `tenant_id` new tokens, as a provider
    /// that rotated them: the old ones are answered 401 from now on. `false` when there is
    /// no such connection.
    pub fn rotate_token(&self, connector_id: &str, tenant_id: &str) -> bool {
        self.store.rotate_token(connector_id, tenant_id) > 0
    }

    /// Revokes the connections of `connector_id` and `tenant_id`: their tokens are answered
    /// 401 and their credentials 404 from now on. `false` when there is no such connection.
    pub fn revoke(&self, connector_id: &str, tenant_id: &str) -> bool {
        self.store.revoke(connector_id, tenant_id) > 0
    }

    /// Expires the connections of `connector_id` and `tenant_id`, as a refresh that failed
    /// for good: their credentials are answered `401` with Fastn's `CONN-REFRESH-FAILED`
    /// (`needs_reconnect()`), the flows that made them `EXPIRED` and the connections API
    /// `expired` from now on. `false` when there is no such connection.
    pub fn expire_connection(&self, connector_id: &str, tenant_id: &str) -> bool {
        self.break_connection(connector_id, tenant_id, ConnectionBreak::Expired)
    }

    /// Scripts what Fastn's model fills in for a prompt: `getTools` asked with exactly
    /// `prompt` gives its top tool these `parameters` (what `fastn-ai`'s `run(prompt)`
    /// executes). The control API's `PUT /_emulator/prompts` does the same.
    pub fn answer_prompt(&self, prompt: &str, parameters: serde_json::Value) {
        self.store.answer_prompt(prompt, parameters);
    }

    /// Breaks the connections of `connector_id` and `tenant_id` as `kind` says (expired,
    /// refresh failed, revoked at the provider, deleted), answering for them as Fastn and
    /// the provider do; the control API's `POST /_emulator/connections/break` does the same.
    /// `false` when there is no such connection.
    pub fn break_connection(&self, connector_id: &str, tenant_id: &str, kind: ConnectionBreak) -> bool {
        self.store.break_connection(connector_id, tenant_id, kind) > 0
    }

    /// Sets the rate limit per key from now on, as
    /// [`MockServerBuilder::rate_limit`] does (`None`: no limit); every key's window starts
    /// afresh. The control API's `PUT /_emulator/rate-limit` does the same.
    pub fn set_rate_limit(&self, limit: Option<(u64, Duration)>) {
        self.store.set_rate_limit(limit);
    }

    /// How many requests `endpoint` has received (`Endpoint::Api`: the provider API),
    /// counted whether or not requests are recorded.
    pub fn requests_to(&self, endpoint: Endpoint) -> u64 {
        self.store.served(endpoint)
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Approves the pending flow `state`, as a click on Approve would; `false` when no flow
    /// with that state is pending.
    pub fn approve(&self, state: &str) -> bool {
        self.store.decide(state, None, true, "")
    }

    /// Fails the pending flow `state` with `message` as its `errorMessage`; `false` when no
    /// flow with that state is pending.
    pub fn deny(&self, state: &str, message: &str) -> bool {
        self.store.decide(state, None, false, message)
    }

    /// Every connection of `connector_id` approved from now on gets these credentials (a
    /// JSON object, snake_case keys) instead of generated ones.
    ///
    /// # Panics
    /// When `credentials` is not a JSON object: a mistake in the calling test.
    pub fn set_credentials(&self, connector_id: &str, credentials: Value) {
        self.store.set_template(connector_id, into_object(credentials));
    }

    /// Creates a completed connection, as if a flow had been approved earlier, and returns
    /// its credentials: with `None`, realistic generated ones.
    ///
    /// # Panics
    /// When `credentials` is given and is not a JSON object.
    pub fn insert_connection(&self, key: ConnectionKey, credentials: Option<Value>) -> Map<String, Value> {
        self.store.insert_connection(key, credentials.map(into_object))
    }

    /// Makes the next request to `endpoint` fail with `fault`.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.store.inject(endpoint, fault, 1);
    }

    /// Makes the next `times` requests to `endpoint` fail with `fault`.
    pub fn inject_times(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        self.store.inject(endpoint, fault, times);
    }

    /// The requests received so far, oldest first: the newest
    /// [`request_log`](MockServerBuilder::request_log) of them.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.store.requests()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.store.clear_requests();
    }

    /// Forgets every fault injected and not yet used.
    pub fn clear_faults(&self) {
        self.store.clear_faults();
    }

    /// Back to a just-started emulator: no flows, connections, fixed credentials, faults or
    /// logged requests (the counters keep counting).
    pub fn reset(&self) {
        self.store.reset();
    }

    /// How many TCP connections it has accepted.
    pub fn connections_accepted(&self) -> u64 {
        self.store.connections_accepted.load(Ordering::Relaxed)
    }

    /// How many requests it has received (counted even when recording is off).
    pub fn requests_served(&self) -> u64 {
        self.store.requests_served.load(Ordering::Relaxed)
    }

    /// How many flows are waiting for approval (expired ones not counted).
    pub fn pending_flows(&self) -> usize {
        self.store.pending_flows()
    }

    /// How many flows the emulator holds in memory, expired ones not yet dropped included.
    pub fn flows_held(&self) -> usize {
        self.store.flows_held()
    }
}

fn into_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("mock credentials must be a JSON object, got {other}"),
    }
}
