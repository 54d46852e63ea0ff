//! The client, its builder, and the options of a call.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header;
use secrecy::{ExposeSecret as _, SecretString};
use url::{Host, Url};

use crate::connector::{Connector, Dynamic};
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::session::{AuthSession, SessionHandle};
use crate::transport::{self, Route, Scope, Transport, TransportConfig};

/// The Fastn API of the official clients.
pub const DEFAULT_BASE_URL: &str = "https://live.fastn.ai/api";
/// The org used when a call names none.
pub const DEFAULT_ORG_ID: &str = "community";

const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_RETRIES: u32 = 2;
const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// A client of Fastn's connect API for one space.
///
/// Cheap to clone: clones share one connection pool, so keep one per process and clone
/// it into handlers and tasks.
#[derive(Clone, Debug)]
pub struct FastnAuth {
    transport: Arc<Transport>,
}

/// Builds a [`FastnAuth`]; start with [`FastnAuth::builder`]. `Debug` shows the key and the
/// token as `[REDACTED]`.
#[derive(Debug)]
#[must_use = "call .build() to get a client"]
pub struct FastnAuthBuilder {
    space_id: String,
    api_key: Option<SecretString>,
    auth_token: Option<SecretString>,
    base_url: String,
    custom_auth: bool,
    request_timeout: Duration,
    max_retries: u32,
    max_in_flight: usize,
    allow_insecure_http: bool,
}

impl FastnAuth {
    /// Starts building a client for the space `space_id` (sent as `x-fastn-space-id`).
    pub fn builder(space_id: impl Into<String>) -> FastnAuthBuilder {
        FastnAuthBuilder {
            space_id: space_id.into(),
            api_key: None,
            auth_token: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            custom_auth: true,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            allow_insecure_http: false,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// Starts a connector authentication flow: `POST {base}/connect/init/{org}/{connector}`.
    ///
    /// Takes [`InitOptions`] or just a connector id. Transient failures are retried as
    /// configured by [`FastnAuthBuilder::max_retries`].
    pub async fn initialize(&self, options: impl Into<InitOptions>) -> Result<AuthSession> {
        self.start::<Dynamic>(options.into()).await
    }

    /// Fetches the credentials of a connection made earlier, without a new flow:
    /// `GET {base}/connect/credentials/{org}/{connector}`.
    pub async fn get_credentials(&self, options: impl Into<GetCredentialsOptions>) -> Result<Credentials> {
        self.fetch_credentials::<Dynamic>(&options.into()).await
    }

    /// Continues a flow started elsewhere (another request, another process) from its
    /// [`SessionHandle`].
    pub fn resume(&self, handle: SessionHandle) -> AuthSession {
        AuthSession::new(self.clone(), handle)
    }

    pub(crate) async fn start<C: Connector>(&self, options: ConnectorOptions) -> Result<AuthSession<C>> {
        let org = options.org_or_default::<C>();
        let span =
            tracing::info_span!("fastn_auth.initialize", connector = %options.connector_id, org = %org);
        let body = tracing::Instrument::instrument(
            self.transport.call(
                Route::Init { org, connector: &options.connector_id },
                options.scope(),
                self.transport.max_retries(),
            ),
            span,
        )
        .await?;
        let handle = SessionHandle::from_init(&options, org, body)?;
        tracing::debug!(connector = %options.connector_id, state = handle.state(), "flow started");
        Ok(AuthSession::new(self.clone(), handle))
    }

    pub(crate) async fn fetch_credentials<C: Connector>(
        &self,
        options: &ConnectorOptions,
    ) -> Result<Credentials<C::Extra>> {
        let org = options.org_or_default::<C>();
        self.credentials_for::<C>(&options.connector_id, org, options.scope()).await
    }

    pub(crate) async fn credentials_for<C: Connector>(
        &self,
        connector: &str,
        org: &str,
        scope: Scope<'_>,
    ) -> Result<Credentials<C::Extra>> {
        let span = tracing::info_span!("fastn_auth.get_credentials", connector = %connector, org = %org);
        let body = tracing::Instrument::instrument(
            self.transport.call(Route::Credentials { org, connector }, scope, self.transport.max_retries()),
            span,
        )
        .await?;
        Credentials::decode(connector, body)
    }

    pub(crate) async fn status(
        &self,
        state: &str,
        scope: Scope<'_>,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        self.transport.call(Route::Status { state }, scope, 0).await
    }
}

impl FastnAuthBuilder {
    /// Authenticates with an API key, sent as `x-fastn-api-key`.
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(api_key.into()));
        self
    }

    /// Authenticates with a token, sent as `Authorization: Bearer {token}`.
    pub fn auth_token(mut self, auth_token: impl Into<String>) -> Self {
        self.auth_token = Some(SecretString::from(auth_token.into()));
        self
    }

    /// The API's base URL; default [`DEFAULT_BASE_URL`]. `http://` is refused unless the
    /// host is loopback or [`allow_insecure_http`](Self::allow_insecure_http) is set.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Whether to send `x-fastn-custom-auth: true`; default `true`, as the official client.
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

    /// How often `initialize` and `get_credentials` retry a transient failure; default 2.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The most requests this client (and its clones) has on the wire at once; default 64.
    /// Further requests wait their turn, so thousands of waiting sessions share a few
    /// connections instead of opening one each.
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

    /// Checks the settings and builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when neither or both of an API key and an auth token are set, the
    /// base URL is not an absolute http(s) URL (or is plain http to a remote host), a value
    /// cannot be sent as a header, or a limit is zero.
    pub fn build(self) -> Result<FastnAuth> {
        let auth = match (&self.api_key, &self.auth_token) {
            (Some(key), None) => (transport::API_KEY, secret_header("api_key", key)?),
            (None, Some(token)) => {
                let bearer = SecretString::from(format!("Bearer {}", token.expose_secret()));
                (header::AUTHORIZATION, secret_header("auth_token", &bearer)?)
            }
            (None, None) => return Err(Error::config("set an api_key or an auth_token")),
            (Some(_), Some(_)) => {
                return Err(Error::config("set an api_key or an auth_token, not both"));
            }
        };
        if self.space_id.is_empty() {
            return Err(Error::config("space_id must not be empty"));
        }
        if self.request_timeout.is_zero() || self.max_in_flight == 0 {
            return Err(Error::config("request_timeout and max_in_flight must be greater than zero"));
        }
        let transport = Transport::new(TransportConfig {
            base_url: parse_base_url(&self.base_url, self.allow_insecure_http)?,
            space_id: transport::header_value("space_id", &self.space_id)?,
            auth,
            custom_auth: self.custom_auth,
            request_timeout: self.request_timeout,
            max_retries: self.max_retries,
            max_in_flight: self.max_in_flight,
        })?;
        Ok(FastnAuth { transport: Arc::new(transport) })
    }
}

fn secret_header(name: &str, secret: &SecretString) -> Result<reqwest::header::HeaderValue> {
    reqwest::header::HeaderValue::from_str(secret.expose_secret()).map_err(|_| {
        // The value is a secret: say what is wrong with it, never what it is.
        Error::config(format!(
            "{name} contains a character not allowed in an HTTP header (CR, LF or another control character)"
        ))
    })
}

fn parse_base_url(raw: &str, allow_insecure_http: bool) -> Result<Url> {
    let url = Url::parse(raw)
        .map_err(|e| Error::config(format!("base_url {raw:?} is not an absolute URL: {e}")))?;
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
        "http" if allow_insecure_http || is_loopback(url.host()) => Ok(url),
        "http" => Err(Error::config(format!(
            "base_url {raw:?} is plain http to a host that is not loopback; use https, \
             or allow_insecure_http(true) to send the key unencrypted"
        ))),
        other => Err(Error::config(format!("base_url must be http or https, got scheme {other:?}"))),
    }
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Which connection a call is about: connector, and optionally org, tenant and connection.
///
/// Used as [`InitOptions`] for [`FastnAuth::initialize`] and as [`GetCredentialsOptions`]
/// for [`FastnAuth::get_credentials`]. A bare connector id converts into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorOptions {
    pub(crate) connector_id: String,
    pub(crate) org_id: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) connection_id: Option<String>,
}

/// Options of [`FastnAuth::initialize`].
pub type InitOptions = ConnectorOptions;
/// Options of [`FastnAuth::get_credentials`].
pub type GetCredentialsOptions = ConnectorOptions;

impl ConnectorOptions {
    /// Options for the connector `connector_id` (e.g. `"google-sheets"`).
    pub fn new(connector_id: impl Into<String>) -> Self {
        ConnectorOptions {
            connector_id: connector_id.into(),
            org_id: None,
            tenant_id: None,
            connection_id: None,
        }
    }

    /// The org; [`DEFAULT_ORG_ID`] when not set.
    #[must_use]
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    /// The tenant (your customer), sent as `x-fastn-space-tenantid`.
    #[must_use]
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The connection instance, sent as `x-fastn-space-connection-id`.
    #[must_use]
    pub fn connection_id(mut self, connection_id: impl Into<String>) -> Self {
        self.connection_id = Some(connection_id.into());
        self
    }

    /// The connector id.
    pub fn connector(&self) -> &str {
        &self.connector_id
    }

    fn org_or_default<C: Connector>(&self) -> &str {
        self.org_id.as_deref().or(C::DEFAULT_ORG).unwrap_or(DEFAULT_ORG_ID)
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            tenant_id: self.tenant_id.as_deref().unwrap_or(""),
            connection_id: self.connection_id.as_deref().unwrap_or(""),
        }
    }
}

impl From<&str> for ConnectorOptions {
    fn from(connector_id: &str) -> Self {
        ConnectorOptions::new(connector_id)
    }
}

impl From<String> for ConnectorOptions {
    fn from(connector_id: String) -> Self {
        ConnectorOptions::new(connector_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(f: impl FnOnce(FastnAuthBuilder) -> FastnAuthBuilder) -> Result<FastnAuth> {
        f(FastnAuth::builder("space")).build()
    }

    #[test]
    fn exactly_one_credential_is_required() {
        assert!(build(|b| b).unwrap_err().to_string().contains("api_key or an auth_token"));
        let both = build(|b| b.api_key("k").auth_token("t")).unwrap_err();
        assert!(both.to_string().contains("not both"));
        assert!(build(|b| b.api_key("k")).is_ok());
        assert!(build(|b| b.auth_token("t")).is_ok());
    }

    #[test]
    fn plaintext_only_to_loopback_unless_allowed() {
        for ok in
            ["http://127.0.0.1:9/api", "http://localhost/api", "http://[::1]:80", "https://example.com/api"]
        {
            assert!(build(|b| b.api_key("k").base_url(ok)).is_ok(), "{ok}");
        }
        let err = build(|b| b.api_key("k").base_url("http://example.com/api")).unwrap_err();
        assert_eq!(err.code(), "CONFIG_ERROR");
        assert!(
            build(|b| b.api_key("k").base_url("http://example.com/api").allow_insecure_http(true)).is_ok()
        );
        for bad in ["example.com", "ftp://example.com", "https://u:p@example.com", "https://example.com/?q=1"]
        {
            assert_eq!(build(|b| b.api_key("k").base_url(bad)).unwrap_err().code(), "CONFIG_ERROR", "{bad}");
        }
    }

    #[test]
    fn secrets_with_line_breaks_are_refused_without_being_echoed() {
        let err = build(|b| b.api_key("sekret\r\nx: y")).unwrap_err();
        assert_eq!(err.code(), "CONFIG_ERROR");
        assert!(!err.to_string().contains("sekret"), "{err}");
        let err = build(|b| b.custom_auth(false).auth_token("xyzzy\n")).unwrap_err();
        assert!(!err.to_string().contains("xyzzy"), "{err}");
    }

    #[test]
    fn the_client_is_cheap_to_share_across_tasks() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<FastnAuth>();
    }

    #[test]
    fn debug_never_shows_the_key() {
        let builder = FastnAuth::builder("space").api_key("super-secret-key");
        assert!(!format!("{builder:?}").contains("super-secret-key"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("super-secret-key"));
    }
}
