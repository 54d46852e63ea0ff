//! A started flow: its handle, status polling and `wait_for_completion`.

use std::marker::PhantomData;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::client::{ConnectorOptions, FastnAuth};
use crate::connector::{Connector, Dynamic};
use crate::credentials::Credentials;
use crate::error::{Endpoint, Error, Result};
use crate::transport::{self, Scope};

/// Where a flow stands, as `GET /connect/status/{state}` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthStatus {
    /// Started; waiting for the user to authorize.
    Inactive,
    /// Connected: credentials can be fetched.
    Active,
    /// The flow failed.
    Failed,
}

impl AuthStatus {
    /// The wire name: `INACTIVE`, `ACTIVE` or `FAILED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthStatus::Inactive => "INACTIVE",
            AuthStatus::Active => "ACTIVE",
            AuthStatus::Failed => "FAILED",
        }
    }

    /// Whether the flow has ended, successfully or not.
    pub const fn is_final(self) -> bool {
        !matches!(self, AuthStatus::Inactive)
    }
}

impl std::fmt::Display for AuthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuthStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "INACTIVE" => Ok(AuthStatus::Inactive),
            "ACTIVE" => Ok(AuthStatus::Active),
            "FAILED" => Ok(AuthStatus::Failed),
            other => Err(Error::invalid(
                Endpoint::Status,
                format!("unknown status {:?}, expected INACTIVE, ACTIVE or FAILED", truncate(other)),
            )),
        }
    }
}

/// One answer of the status endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    /// The flow's status.
    pub status: AuthStatus,
    /// Why the flow failed, when the server says.
    pub error_message: Option<String>,
}

impl StatusResponse {
    pub(crate) fn decode(mut body: Map<String, Value>) -> Result<Self> {
        let status = required_string(Endpoint::Status, &mut body, "status")?.parse()?;
        let error_message = optional_string(Endpoint::Status, &mut body, "errorMessage")?;
        Ok(StatusResponse { status, error_message })
    }
}

/// How `wait_for_completion` polls. Default: every 2 s for up to 300 s, as the official
/// client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollOptions {
    /// Time between polls. Each wait is jittered by ±10 % so that many sessions spread out.
    pub interval: Duration,
    /// The whole wait, credentials fetch included; `Error::Timeout` once it has passed.
    pub timeout: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions { interval: Duration::from_secs(2), timeout: Duration::from_secs(300) }
    }
}

impl PollOptions {
    /// Polls every `interval` for up to `timeout`.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        PollOptions { interval, timeout }
    }
}

/// The outcome of a completed flow.
#[derive(Clone)]
#[non_exhaustive]
pub struct AuthResult<E = Map<String, Value>> {
    /// Always [`AuthStatus::Active`]: a failed flow is an [`Error::Authentication`].
    pub status: AuthStatus,
    /// The connection's credentials.
    pub credentials: Option<Credentials<E>>,
    /// Kept for parity with the official client; `None` for a completed flow.
    pub error_message: Option<String>,
}

impl<E: crate::Extra> std::fmt::Debug for AuthResult<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthResult")
            .field("status", &self.status)
            .field("credentials", &self.credentials)
            .field("error_message", &self.error_message)
            .finish()
    }
}

/// Everything needed to continue a flow elsewhere: serialize it into your session store,
/// then [`FastnAuth::resume`] it in another request or process. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionHandle {
    connector_id: String,
    org_id: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    connection_id: String,
    state: String,
    #[serde(default)]
    redirect_url: String,
}

impl SessionHandle {
    pub(crate) fn from_init(
        options: &ConnectorOptions,
        org: &str,
        mut body: Map<String, Value>,
    ) -> Result<Self> {
        let state = required_string(Endpoint::Init, &mut body, "state")?;
        transport::check_segment("state", &state).map_err(|_| {
            Error::invalid(Endpoint::Init, format!("`state` {:?} is not a usable id", truncate(&state)))
        })?;
        let redirect_url = optional_string(Endpoint::Init, &mut body, "redirectUrl")?.unwrap_or_default();
        Ok(SessionHandle {
            connector_id: options.connector_id.clone(),
            org_id: org.to_owned(),
            tenant_id: options.tenant_id.clone().unwrap_or_default(),
            connection_id: options.connection_id.clone().unwrap_or_default(),
            state,
            redirect_url,
        })
    }

    /// The flow's state: its session id and OAuth state key.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The connector id.
    pub fn connector_id(&self) -> &str {
        &self.connector_id
    }

    /// The org the flow runs in.
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// The tenant id, empty when none.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The connection id, empty when none.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// Where the user goes to authorize (empty when the server gave none).
    pub fn redirect_url(&self) -> &str {
        &self.redirect_url
    }

    fn scope(&self) -> Scope<'_> {
        Scope { tenant_id: &self.tenant_id, connection_id: &self.connection_id }
    }
}

/// A started flow: send the user to [`redirect_url`](Self::redirect_url), then
/// [`wait_for_completion`](Self::wait_for_completion).
///
/// `C` is the connector type generated by [`connectors!`](crate::connectors), which types the
/// credentials' `extra`; [`Dynamic`] (the default) keeps them as a JSON map.
pub struct AuthSession<C: Connector = Dynamic> {
    client: FastnAuth,
    handle: SessionHandle,
    connector: PhantomData<fn() -> C>,
}

impl<C: Connector> Clone for AuthSession<C> {
    fn clone(&self) -> Self {
        AuthSession::new(self.client.clone(), self.handle.clone())
    }
}

impl<C: Connector> std::fmt::Debug for AuthSession<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSession").field("handle", &self.handle).finish_non_exhaustive()
    }
}

impl<C: Connector> AuthSession<C> {
    pub(crate) fn new(client: FastnAuth, handle: SessionHandle) -> Self {
        AuthSession { client, handle, connector: PhantomData }
    }

    /// The session id (the flow's state, as the official client).
    pub fn id(&self) -> &str {
        self.handle.state()
    }

    /// The OAuth state key (the same value as [`id`](Self::id)).
    pub fn state_key(&self) -> &str {
        self.handle.state()
    }

    /// Where to send the user to authorize.
    pub fn redirect_url(&self) -> &str {
        self.handle.redirect_url()
    }

    /// A serializable handle to continue this flow elsewhere.
    pub fn handle(&self) -> SessionHandle {
        self.handle.clone()
    }

    /// Asks once where the flow stands. Not retried: use
    /// [`wait_for_completion`](Self::wait_for_completion) to ride out transient faults.
    pub async fn get_status(&self) -> Result<StatusResponse> {
        StatusResponse::decode(self.client.status(self.handle.state(), self.handle.scope()).await?)
    }

    /// Fetches the connection's credentials (after the flow is `ACTIVE`).
    pub async fn get_credentials(&self) -> Result<Credentials<C::Extra>> {
        let handle = &self.handle;
        self.client.credentials_for::<C>(handle.connector_id(), handle.org_id(), handle.scope()).await
    }

    /// Polls until the flow is `ACTIVE` (then fetches the credentials) or `FAILED`.
    ///
    /// Transient faults (connection errors, timeouts, 408/425/429/5xx) do not end the wait:
    /// polling backs off (honouring `Retry-After`) and continues. The whole call, the
    /// credentials fetch included, returns by `options.timeout`; dropping the future
    /// cancels everything.
    ///
    /// # Errors
    /// [`Error::Authentication`] when the flow failed, [`Error::Timeout`] when the timeout
    /// passed, [`Error::Network`] for a non-transient HTTP error (401, 403, 404, …),
    /// [`Error::InvalidResponse`] for an answer that cannot be read.
    pub async fn wait_for_completion(&self, options: PollOptions) -> Result<AuthResult<C::Extra>> {
        let span = tracing::info_span!(
            "fastn_auth.wait_for_completion",
            connector = %self.handle.connector_id,
            org = %self.handle.org_id,
            state = %self.handle.state,
        );
        let deadline = Instant::now() + options.timeout;
        let mut last_status = None;
        let outcome = tokio::time::timeout_at(
            deadline,
            tracing::Instrument::instrument(self.poll(options.interval, &mut last_status), span),
        )
        .await;
        outcome.unwrap_or(Err(Error::Timeout { timeout: options.timeout, last_status }))
    }

    async fn poll(
        &self,
        interval: Duration,
        last_status: &mut Option<AuthStatus>,
    ) -> Result<AuthResult<C::Extra>> {
        let mut failures = 0u32;
        loop {
            let pause = match self.get_status().await {
                Ok(StatusResponse { status: AuthStatus::Active, .. }) => {
                    *last_status = Some(AuthStatus::Active);
                    let credentials = self.get_credentials().await?;
                    return Ok(AuthResult {
                        status: AuthStatus::Active,
                        credentials: Some(credentials),
                        error_message: None,
                    });
                }
                Ok(StatusResponse { status: AuthStatus::Failed, error_message }) => {
                    *last_status = Some(AuthStatus::Failed);
                    let message = error_message.unwrap_or_else(|| "authentication failed".to_owned());
                    return Err(Error::Authentication { message });
                }
                Ok(StatusResponse { status: AuthStatus::Inactive, .. }) => {
                    *last_status = Some(AuthStatus::Inactive);
                    failures = 0;
                    jittered(interval)
                }
                Err(err) if err.is_transient() => {
                    failures += 1;
                    let pause =
                        err.retry_after().unwrap_or_else(|| transport::backoff(failures - 1)).max(interval);
                    tracing::warn!(error = %err, failures, ?pause, "status poll failed; polling on");
                    pause
                }
                Err(err) => return Err(err),
            };
            tokio::time::sleep(pause).await;
        }
    }
}

/// Takes the string field `key` of an answer, which must be present.
fn required_string(endpoint: Endpoint, body: &mut Map<String, Value>, key: &str) -> Result<String> {
    match body.remove(key) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(wrong_type(endpoint, key, &other)),
        None => Err(Error::invalid(endpoint, format!("the required field `{key}` is missing"))),
    }
}

/// Takes the string field `key` of an answer; `None` when absent or null.
fn optional_string(endpoint: Endpoint, body: &mut Map<String, Value>, key: &str) -> Result<Option<String>> {
    match body.remove(key) {
        Some(Value::String(text)) => Ok(Some(text)),
        None | Some(Value::Null) => Ok(None),
        Some(other) => Err(wrong_type(endpoint, key, &other)),
    }
}

fn wrong_type(endpoint: Endpoint, key: &str, value: &Value) -> Error {
    Error::invalid(endpoint, format!("`{key}` must be a string, got {}", transport::json_kind(value)))
}

/// `interval` ± 10 %, so that sessions started together do not poll in lockstep.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + fastrand::f64() * 0.2)
}

/// At most 64 characters of server-sent text, for error messages.
fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: &str) -> Result<StatusResponse> {
        StatusResponse::decode(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn status_decodes_the_three_states_and_the_message() {
        assert_eq!(status(r#"{"status":"INACTIVE"}"#).unwrap().status, AuthStatus::Inactive);
        let failed = status(r#"{"status":"FAILED","errorMessage":"denied"}"#).unwrap();
        assert_eq!(
            failed,
            StatusResponse { status: AuthStatus::Failed, error_message: Some("denied".into()) }
        );
    }

    #[test]
    fn bad_status_bodies_are_invalid_responses_naming_the_problem() {
        for (body, expected) in [
            (r#"{"state":"x"}"#, "`status` is missing"),
            (r#"{"status":7}"#, "`status` must be a string, got a number"),
            (r#"{"status":"PENDING"}"#, "unknown status \"PENDING\""),
            (r#"{"status":"ACTIVE","errorMessage":[]}"#, "`errorMessage` must be a string"),
        ] {
            let err = status(body).unwrap_err();
            assert_eq!(err.code(), "INVALID_RESPONSE");
            assert!(err.to_string().contains(expected), "{err}");
            assert!(err.to_string().contains("/connect/status/"), "{err}");
        }
    }

    #[test]
    fn polls_spread_within_ten_percent() {
        let interval = Duration::from_secs(1);
        let waits: Vec<Duration> = (0..200).map(|_| jittered(interval)).collect();
        assert!(waits.iter().all(|w| *w >= interval.mul_f64(0.9) && *w <= interval.mul_f64(1.1)));
        let (min, max) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*max - *min > Duration::from_millis(100), "spread {:?}..{:?}", min, max);
    }

    #[test]
    fn handle_round_trips_through_json() {
        let options = ConnectorOptions::new("slack").tenant_id("acme");
        let body = serde_json::from_str(r#"{"state":"abc","redirectUrl":"https://x/y"}"#).unwrap();
        let handle = SessionHandle::from_init(&options, "community", body).unwrap();
        let json = serde_json::to_string(&handle).unwrap();
        assert_eq!(serde_json::from_str::<SessionHandle>(&json).unwrap(), handle);
        assert_eq!(
            (handle.state(), handle.tenant_id(), handle.redirect_url()),
            ("abc", "acme", "https://x/y")
        );
    }

    #[test]
    fn init_without_a_usable_state_is_invalid() {
        let options = ConnectorOptions::new("slack");
        for body in [r#"{"redirectUrl":"x"}"#, r#"{"state":5}"#, r#"{"state":".."}"#, r#"{"state":""}"#] {
            let err = SessionHandle::from_init(&options, "community", serde_json::from_str(body).unwrap())
                .unwrap_err();
            assert_eq!(err.code(), "INVALID_RESPONSE", "{body}");
        }
    }
}
