//! The same client for code without an async runtime (feature `blocking`): a CLI tool, a
//! script, a synchronous web framework, a test.
//!
//! As `reqwest::blocking` does it: the client owns a small runtime of its own, whose
//! worker thread drives the connections and timers; a call waits on the calling thread
//! for its answer. The requests, sessions and API calls are those of the async client,
//! with `send()` in place of `send().await`.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let runtime = tokio::runtime::Runtime::new()?;
//! # let mock = runtime.block_on(fastn_auth_emulator::MockServer::builder().auto_approve_after_polls(1).start())?;
//! # let async_client = mock.client();
//! use fastn_auth::PollOptions;
//! # /*
//! let client = fastn_auth::blocking::FastnAuth::from_env()?;
//! # */
//! # let client = fastn_auth::blocking::FastnAuth::new(async_client)?;
//! let session = client.connect("google-sheets").tenant_id("acme").send()?;
//! println!("send the user to {:?}", session.redirect_url());
//! let credentials = session.wait_for_completion(PollOptions::default())?;
//! assert!(credentials.access_token.is_some());
//! # Ok(())
//! # }
//! ```
//!
//! Called from an async task, every call returns [`ErrorKind::Config`](crate::ErrorKind::Config) saying so (blocking a
//! runtime's thread would stall every task on it): use the async client there. Where tokio
//! allows blocking — `tokio::task::spawn_blocking`, `block_in_place`, a plain thread — it
//! works.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::connector::{Connector, Untyped};
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::session::{PollOptions, SessionHandle, StatusResponse};
use crate::{CacheStats, Method};

/// The runtime every blocking call runs on, shared by a client's clones.
struct Runtime(Option<tokio::runtime::Runtime>);

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Runtime")
    }
}

impl Runtime {
    fn new() -> Result<Runtime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fastn-auth-blocking")
            .enable_all()
            .build()
            .map_err(|err| Error::config(format!("cannot start the blocking client's runtime: {err}")))?;
        Ok(Runtime(Some(runtime)))
    }

    /// Runs `work` to its end, the calling thread waiting.
    fn wait<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        if !may_block() {
            return Err(Error::config(
                "the blocking client was called from an async task, whose runtime thread it would \
                 stall: use the async fastn_auth::FastnAuth there, or tokio::task::spawn_blocking",
            ));
        }
        match &self.0 {
            Some(runtime) => runtime.block_on(work),
            None => Err(Error::config("the blocking client's runtime has shut down")),
        }
    }
}

/// Whether this thread may block: outside any runtime, or where tokio allows it inside one
/// (`spawn_blocking`, `block_in_place`). tokio has no call that says so; what tells is the
/// cooperative budget, which it gives every async task (and `block_on`'s future) and
/// lifts exactly where blocking is allowed. The probe spends budget only where there is
/// one — on an async task, which the call then refuses.
fn may_block() -> bool {
    if tokio::runtime::Handle::try_current().is_err() {
        return true;
    }
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    // Far more than any budget tokio gives a task (128).
    for _ in 0..4_096 {
        match tokio::task::coop::poll_proceed(&mut cx) {
            std::task::Poll::Ready(progress) => progress.made_progress(),
            std::task::Poll::Pending => return false,
        }
    }
    true
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Never blocks, so a client may be dropped anywhere, inside a runtime included.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A blocking [`crate::FastnAuth`]: the same calls, each waiting for its answer. Cheap to
/// clone; clones share the connections, the cache and the runtime.
#[derive(Clone)]
pub struct FastnAuth {
    client: crate::FastnAuth,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for FastnAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::FastnAuth").field("client", &self.client).finish_non_exhaustive()
    }
}

impl FastnAuth {
    /// A blocking client over `client` (built with [`crate::FastnAuth::builder`] and any of
    /// its settings: cache, timeouts, gateway).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the runtime's thread cannot be started.
    pub fn new(client: crate::FastnAuth) -> Result<FastnAuth> {
        Ok(FastnAuth { client, runtime: Arc::new(Runtime::new()?) })
    }

    /// A client from the environment; see [`crate::FastnAuthBuilder::from_env`].
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable that is missing or unusable.
    pub fn from_env() -> Result<FastnAuth> {
        FastnAuth::new(crate::FastnAuth::from_env()?)
    }

    /// The async client underneath, for code that has a runtime after all.
    pub fn as_async(&self) -> &crate::FastnAuth {
        &self.client
    }

    /// What the credentials cache has done; see [`crate::FastnAuth::cache_stats`].
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.client.cache_stats()
    }

    /// Starts a flow; see [`crate::FastnAuth::connect`].
    pub fn connect(&self, connector_id: impl Into<String>) -> ConnectRequest<'_, Untyped> {
        self.connect_with(Untyped::new(connector_id))
    }

    /// Starts a flow of a typed connector; see [`crate::FastnAuth::connect_with`].
    pub fn connect_with<C: Connector>(&self, connector: C) -> ConnectRequest<'_, C> {
        ConnectRequest { inner: self.client.connect_with(connector), runtime: &self.runtime }
    }

    /// A connection's credentials; see [`crate::FastnAuth::credentials`].
    pub fn credentials(&self, connector_id: impl Into<String>) -> CredentialsRequest<'_, Untyped> {
        self.credentials_with(Untyped::new(connector_id))
    }

    /// A typed connector's credentials; see [`crate::FastnAuth::credentials_with`].
    pub fn credentials_with<C: Connector>(&self, connector: C) -> CredentialsRequest<'_, C> {
        CredentialsRequest { inner: self.client.credentials_with(connector), runtime: &self.runtime }
    }

    /// Resumes a flow from its handle; see [`crate::FastnAuth::resume`].
    pub fn resume(&self, handle: SessionHandle) -> AuthSession<Untyped> {
        AuthSession { inner: self.client.resume(handle), runtime: self.runtime.clone() }
    }

    /// A client of a connector's own API; see [`crate::FastnAuth::api`].
    pub fn api(&self, connector_id: impl Into<String>) -> ApiClient {
        ApiClient { inner: self.client.api(connector_id), runtime: self.runtime.clone() }
    }

    /// A client of a typed connector's own API; see [`crate::FastnAuth::api_with`].
    pub fn api_with<C: Connector>(&self, connector: C) -> ApiClient {
        ApiClient { inner: self.client.api_with(connector), runtime: self.runtime.clone() }
    }
}

/// Forwards a consuming setter of the async type underneath.
macro_rules! forward {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $($arg: $ty),*) -> Self {
            self.inner = self.inner.$name($($arg),*);
            self
        }
    )*};
}

/// The setters of a connect or credentials request.
macro_rules! selector {
    () => {
        forward! {
            /// The org; see [`crate::ConnectRequest::org_id`].
            fn org_id(org_id: impl Into<std::borrow::Cow<'a, str>>);
            /// The tenant (your customer).
            fn tenant_id(tenant_id: impl Into<std::borrow::Cow<'a, str>>);
            /// The connection instance.
            fn connection_id(connection_id: impl Into<std::borrow::Cow<'a, str>>);
        }
    };
}

/// Starts a flow; made by [`FastnAuth::connect`].
#[derive(Debug)]
#[must_use = "call .send()"]
pub struct ConnectRequest<'a, C: Connector = Untyped> {
    inner: crate::ConnectRequest<'a, C>,
    runtime: &'a Arc<Runtime>,
}

impl<'a, C: Connector> ConnectRequest<'a, C> {
    selector!();

    /// Starts the flow; see [`crate::ConnectRequest::send`].
    ///
    /// # Errors
    /// As [`crate::ConnectRequest::send`], and [`ErrorKind::Config`](crate::ErrorKind::Config) on an async task.
    pub fn send(self) -> Result<AuthSession<C>> {
        let inner = self.runtime.wait(self.inner.send())?;
        Ok(AuthSession { inner, runtime: self.runtime.clone() })
    }
}

/// Fetches credentials; made by [`FastnAuth::credentials`].
#[derive(Debug)]
#[must_use = "call .send()"]
pub struct CredentialsRequest<'a, C: Connector = Untyped> {
    inner: crate::CredentialsRequest<'a, C>,
    runtime: &'a Arc<Runtime>,
}

impl<'a, C: Connector> CredentialsRequest<'a, C> {
    selector!();

    forward! {
        /// Newer credentials than the cache holds; see [`crate::CredentialsRequest::fresh`].
        fn fresh();
    }

    /// Fetches the credentials; see [`crate::CredentialsRequest::send`].
    ///
    /// # Errors
    /// As [`crate::CredentialsRequest::send`], and [`ErrorKind::Config`](crate::ErrorKind::Config) inside an async
    /// runtime.
    pub fn send(self) -> Result<Credentials<C::Extra>> {
        self.runtime.wait(self.inner.send())
    }
}

/// A flow in progress; see [`crate::AuthSession`].
#[must_use = "a flow does nothing until you send the user to its redirect URL and wait for it"]
pub struct AuthSession<C: Connector = Untyped> {
    inner: crate::AuthSession<C>,
    runtime: Arc<Runtime>,
}

impl<C: Connector> fmt::Debug for AuthSession<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<C: Connector> AuthSession<C> {
    /// The session id (the flow's state).
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// Where to send the user to authorize, if the server gave a URL.
    pub fn redirect_url(&self) -> Option<&url::Url> {
        self.inner.redirect_url()
    }

    /// The serializable handle to continue this flow elsewhere.
    pub fn handle(&self) -> &SessionHandle {
        self.inner.handle()
    }

    /// Asks once where the flow stands; see [`crate::AuthSession::get_status`].
    ///
    /// # Errors
    /// As [`crate::AuthSession::get_status`], and [`ErrorKind::Config`](crate::ErrorKind::Config) on an async task.
    pub fn get_status(&self) -> Result<StatusResponse> {
        self.runtime.wait(self.inner.get_status())
    }

    /// The connection's credentials; see [`crate::AuthSession::get_credentials`].
    ///
    /// # Errors
    /// As [`crate::AuthSession::get_credentials`], and [`ErrorKind::Config`](crate::ErrorKind::Config) inside an async
    /// runtime.
    pub fn get_credentials(&self) -> Result<Credentials<C::Extra>> {
        self.runtime.wait(self.inner.get_credentials())
    }

    /// Polls until the flow ends; see [`crate::AuthSession::wait_for_completion`].
    ///
    /// # Errors
    /// As [`crate::AuthSession::wait_for_completion`], and [`ErrorKind::Config`](crate::ErrorKind::Config) inside an
    /// async runtime.
    pub fn wait_for_completion(&self, options: PollOptions) -> Result<Credentials<C::Extra>> {
        self.runtime.wait(self.inner.wait_for_completion(options))
    }
}

/// Calls a connection's own API; see [`crate::ApiClient`].
#[derive(Clone)]
pub struct ApiClient {
    inner: crate::ApiClient,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl ApiClient {
    forward! {
        /// The org; see [`crate::ApiClient::org_id`].
        fn org_id(org_id: impl Into<String>);
        /// The tenant whose connection is used.
        fn tenant_id(tenant_id: impl Into<String>);
        /// The space's own connection, said on purpose; see [`crate::ApiClient::no_tenant`].
        fn no_tenant();
        /// The connection instance.
        fn connection_id(connection_id: impl Into<String>);
        /// The API's base URL; see [`crate::ApiClient::base_url`].
        fn base_url(template: impl AsRef<str>);
        /// The most bytes an answer's body may have; see [`crate::ApiClient::max_body`].
        fn max_body(bytes: u64);
    }

    crate::api::http_verbs!();

    /// A request of any method to `path`.
    pub fn request(&self, method: Method, path: impl AsRef<str>) -> ApiRequest<'_> {
        ApiRequest { inner: self.inner.request(method, path), runtime: &self.runtime }
    }
}

/// One request to a connected app's API; see [`crate::ApiRequest`].
#[must_use = "call .send()"]
pub struct ApiRequest<'a> {
    inner: crate::ApiRequest<'a>,
    runtime: &'a Arc<Runtime>,
}

impl fmt::Debug for ApiRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl ApiRequest<'_> {
    forward! {
        /// A header; see [`crate::ApiRequest::header`].
        fn header(name: impl AsRef<str>, value: impl AsRef<str>);
        /// The longest one attempt may take, answer included.
        fn timeout(timeout: Duration);
        /// The most bytes of the answer's body.
        fn max_body(bytes: u64);
        /// Whether a `429`/`503` with `Retry-After` is retried.
        fn idempotent(idempotent: bool);
    }

    /// Adds `query` to the query string; see [`crate::ApiRequest::query`].
    pub fn query<T: serde::Serialize + ?Sized>(mut self, query: &T) -> Self {
        self.inner = self.inner.query(query);
        self
    }

    /// Sends `json` as the body; see [`crate::ApiRequest::json`].
    pub fn json<T: serde::Serialize + ?Sized>(mut self, json: &T) -> Self {
        self.inner = self.inner.json(json);
        self
    }

    /// Sends `form` URL-encoded; see [`crate::ApiRequest::form`].
    pub fn form<T: serde::Serialize + ?Sized>(mut self, form: &T) -> Self {
        self.inner = self.inner.form(form);
        self
    }

    /// Sends `body` as it is (in memory, so it can be sent again after a refresh).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.inner = self.inner.body(body.into());
        self
    }

    /// Sends the request; see [`crate::ApiRequest::send`].
    ///
    /// # Errors
    /// As [`crate::ApiRequest::send`], and [`ErrorKind::Config`](crate::ErrorKind::Config) on an async task.
    pub fn send(self) -> Result<ApiResponse> {
        let inner = self.runtime.wait(self.inner.send())?;
        Ok(ApiResponse { inner, runtime: self.runtime.clone() })
    }
}

/// A connected app's answer; see [`crate::ApiResponse`]: its body is read under the call's
/// deadline and within its limit.
pub struct ApiResponse {
    inner: crate::ApiResponse,
    runtime: Arc<Runtime>,
}

impl fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl ApiResponse {
    /// The HTTP status.
    pub fn status(&self) -> crate::StatusCode {
        self.inner.status()
    }

    /// The answer's headers.
    pub fn headers(&self) -> &crate::header::HeaderMap {
        self.inner.headers()
    }

    /// The next piece of the body; see [`crate::ApiResponse::chunk`].
    ///
    /// # Errors
    /// As [`crate::ApiResponse::chunk`].
    pub fn chunk(&mut self) -> Result<Option<Bytes>> {
        let runtime = self.runtime.clone();
        runtime.wait(self.inner.chunk())
    }

    /// The whole body.
    ///
    /// # Errors
    /// As [`crate::ApiResponse::bytes`].
    pub fn bytes(self) -> Result<Bytes> {
        self.runtime.wait(self.inner.bytes())
    }

    /// The body as text.
    ///
    /// # Errors
    /// As [`crate::ApiResponse::text`].
    pub fn text(self) -> Result<String> {
        self.runtime.wait(self.inner.text())
    }

    /// The body as JSON of type `T`.
    ///
    /// # Errors
    /// As [`crate::ApiResponse::json`].
    pub fn json<T: DeserializeOwned>(self) -> Result<T> {
        self.runtime.wait(self.inner.json())
    }
}
