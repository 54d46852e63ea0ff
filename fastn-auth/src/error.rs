//! The one error type of the crate, with the official client's error codes.
//!
//! Adding a field to a variant is not a breaking change: every variant is
//! `#[non_exhaustive]`, so matches name the fields they read and end in `..`.

use std::fmt;
use std::time::Duration;

pub use crate::wire::tools::ToolRefusal;
use crate::wire::{AuthStatus, DecodeError, Endpoint};

/// What kind of failure an [`Error`] is, as one stable string to log, count or branch on
/// ([`Error::code`]). The first five are the official Python client's codes; an answer
/// Fastn gave has a code of its own (decided from Fastn's error code, the status as the
/// fallback), never `NETWORK_ERROR`, which means no answer came.
/// [`Error::official_code`] maps back to the official client's five.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `TIMEOUT`: `wait_for_completion` ran past its timeout.
    Timeout,
    /// `AUTH_FAILED`: the flow ended `FAILED` or `EXPIRED`.
    AuthFailed,
    /// `NETWORK_ERROR`: no answer came (no connection, a request timeout, a cut body).
    NetworkError,
    /// `INVALID_RESPONSE`: a 2xx answer that cannot be used.
    InvalidResponse,
    /// `CONFIG_ERROR`: a setting or id refused before sending.
    ConfigError,
    /// `UNAUTHORIZED`: Fastn refused the API key or token (401, 403, `AUTH_INVALID`,
    /// `AUTH_EXPIRED`).
    Unauthorized,
    /// `NOT_CONNECTED`: the tenant has no such connection ([`Error::is_not_connected`]).
    NotConnected,
    /// `RECONNECT_REQUIRED`: the connection is broken until the tenant connects again
    /// (`CONN-AUTH-FAILED`, `CONN-REFRESH-FAILED`: [`Error::needs_reconnect`]).
    ReconnectRequired,
    /// `NOT_FOUND`: no such flow, connection id or resource (404, `NOT_FOUND`).
    NotFound,
    /// `RATE_LIMITED`: Fastn throttled the key; waiting clears it.
    RateLimited,
    /// `QUOTA_EXCEEDED`: the plan's quota is spent; waiting does not clear it.
    QuotaExceeded,
    /// `INVALID_ARGUMENTS`: a tool call's arguments do not match its schema (checked here,
    /// nothing sent, or refused by Fastn: `VALIDATION_ERROR`, `INVALID_PARAMETERS`).
    InvalidArguments,
    /// `TOOL_UNAVAILABLE`: Fastn knows no such tool, or it is not enabled for the space.
    ToolUnavailable,
    /// `REQUEST_REFUSED`: any other 4xx answer.
    RequestRefused,
    /// `SERVER_ERROR`: a 5xx answer (after the retries the call allowed).
    ServerError,
}

impl ErrorCode {
    /// The code as a string: `TIMEOUT`, `AUTH_FAILED`, `NETWORK_ERROR`, `INVALID_RESPONSE`,
    /// `CONFIG_ERROR`, `UNAUTHORIZED`, `NOT_CONNECTED`, `RECONNECT_REQUIRED`, `NOT_FOUND`,
    /// `RATE_LIMITED`, `QUOTA_EXCEEDED`, `INVALID_ARGUMENTS`, `TOOL_UNAVAILABLE`,
    /// `REQUEST_REFUSED` or `SERVER_ERROR`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::AuthFailed => "AUTH_FAILED",
            ErrorCode::NetworkError => "NETWORK_ERROR",
            ErrorCode::InvalidResponse => "INVALID_RESPONSE",
            ErrorCode::ConfigError => "CONFIG_ERROR",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::NotConnected => "NOT_CONNECTED",
            ErrorCode::ReconnectRequired => "RECONNECT_REQUIRED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::InvalidArguments => "INVALID_ARGUMENTS",
            ErrorCode::ToolUnavailable => "TOOL_UNAVAILABLE",
            ErrorCode::RequestRefused => "REQUEST_REFUSED",
            ErrorCode::ServerError => "SERVER_ERROR",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a connection is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakReason {
    /// The connection expired (a status `EXPIRED`).
    Expired,
    /// Fastn's refresh of the token failed for good (`CONN-REFRESH-FAILED`).
    RefreshFailed,
    /// Fastn's credentials for the provider were refused (`CONN-AUTH-FAILED`).
    AuthFailed,
    /// The provider refused the token again after a refresh: access was revoked there.
    Revoked,
}

impl BreakReason {
    /// `expired`, `refresh_failed`, `auth_failed` or `revoked`.
    pub const fn as_str(self) -> &'static str {
        match self {
            BreakReason::Expired => "expired",
            BreakReason::RefreshFailed => "refresh_failed",
            BreakReason::AuthFailed => "auth_failed",
            BreakReason::Revoked => "revoked",
        }
    }
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request an error is about, as it was sent: method, host, the actual path with its
/// ids, and the tenant and connection. Never a key or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestInfo {
    /// The endpoint called.
    pub endpoint: Endpoint,
    /// The HTTP method sent.
    pub method: String,
    /// `host` or `host:port` of the base URL.
    pub host: String,
    /// The path as sent, percent-encoded: `/api/connect/status/3f2a…`.
    pub path: String,
    /// The tenant id sent, if any.
    pub tenant_id: Option<String>,
    /// The connection id sent, if any.
    pub connection_id: Option<String>,
}

impl fmt::Display for RequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", self.method, self.host, self.path)?;
        match (&self.tenant_id, &self.connection_id) {
            (Some(tenant), Some(connection)) => write!(f, " (tenant `{tenant}`, connection `{connection}`)"),
            (Some(tenant), None) => write!(f, " (tenant `{tenant}`)"),
            (None, Some(connection)) => write!(f, " (connection `{connection}`)"),
            (None, None) => Ok(()),
        }
    }
}

/// Everything that can go wrong, as one pointer (`size_of::<Error>()` is 8: every `Result`
/// of the SDK moves that much, the error's details are on the heap). Branch on the methods
/// ([`is_not_found`](Self::is_not_found), [`fastn_code`](Self::fastn_code), …) or match
/// [`kind`](Self::kind): one variant per error class of the official Python client plus
/// [`ErrorKind::Config`] for what this SDK refuses before sending anything.
///
/// No message ever contains the API key, the auth token or a credential token. Text from
/// the server is cut to [`MAX_SERVER_TEXT_CHARS`](crate::wire::MAX_SERVER_TEXT_CHARS)
/// characters with control characters escaped.
pub struct Error(Box<ErrorKind>);

/// What went wrong, in detail: [`Error::kind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `wait_for_completion` did not see `ACTIVE` or `FAILED` within its timeout.
    #[error("the flow did not complete within {timeout:?} (last status seen: {})", last_status.map_or("none", AuthStatus::as_str))]
    #[non_exhaustive]
    Timeout {
        /// The timeout that ran out.
        timeout: Duration,
        /// The last status the server reported, if any poll succeeded.
        last_status: Option<AuthStatus>,
    },

    /// The flow ended `FAILED`.
    #[error("authentication of connector `{connector_id}` failed: {message}")]
    #[non_exhaustive]
    Authentication {
        /// The connector of the flow.
        connector_id: String,
        /// The server's `errorMessage` (sanitised), or `authentication failed` when it gave
        /// none.
        message: String,
    },

    /// A request failed: no connection, no complete answer in time, or a non-2xx answer.
    #[error("{request}: {message}")]
    #[non_exhaustive]
    Network {
        /// The request that failed.
        request: Box<RequestInfo>,
        /// What failed: `the server answered 404 Not Found: "unknown state"`, `no complete
        /// answer within 30s`, …
        message: String,
        /// The HTTP status code, when the server answered.
        status_code: Option<u16>,
        /// The message of the server's JSON error body (`message`, `error`,
        /// `errorMessage`), sanitised.
        server_message: Option<String>,
        /// Fastn's error code, canonical ([`Error::fastn_code`]).
        fastn_code: Option<String>,
        /// The server's `Retry-After`, in seconds or as an HTTP date (else its envelope's
        /// `retryAfter`).
        retry_after: Option<Duration>,
        /// Whether a request or call timeout ended it.
        timed_out: bool,
        /// The transport error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The server answered 2xx with a body this SDK cannot use: not JSON, a missing or
    /// mistyped field, an unknown status, an unusable `state` or `redirectUrl`, too large.
    #[error("invalid response to {}: {message}", request.as_ref().map_or_else(|| endpoint.to_string(), |r| r.to_string()))]
    #[non_exhaustive]
    InvalidResponse {
        /// The endpoint that answered.
        endpoint: Endpoint,
        /// The request, when known.
        request: Option<Box<RequestInfo>>,
        /// What was expected and what came.
        message: String,
        /// The body as it came, when kept: a tool's answer that does not fit its typed
        /// output ([`ToolOutput::typed`](crate::tools::ToolOutput::typed)). Never in the
        /// message.
        body: Option<String>,
        /// The JSON parser's error, when the body did not parse.
        #[source]
        source: Option<serde_json::Error>,
    },

    /// An answer's body is larger than the limit: the declared length (`Content-Length`)
    /// or the bytes that came. Nothing past the limit was read or kept.
    #[error("{request}: the answer's body is larger than the limit of {limit} bytes{}", declared.map_or_else(String::new, |declared| format!(" (it declared {declared})")))]
    #[non_exhaustive]
    BodyTooLarge {
        /// The request answered.
        request: Box<RequestInfo>,
        /// The limit in force ([`ApiRequest::max_body`](crate::ApiRequest::max_body)).
        limit: u64,
        /// The length the answer declared, when that was over the limit.
        declared: Option<u64>,
    },

    /// Fastn refused to run a tool (`executeTool`): no such tool, the tool is not enabled,
    /// or the tenant has no connection of the tool's connector. What the provider answers
    /// is never this: it is a [`ToolOutput`](crate::tools::ToolOutput) with its status.
    #[error("{request}: {message}")]
    #[non_exhaustive]
    ToolRefused {
        /// The request refused.
        request: Box<RequestInfo>,
        /// Why, as far as Fastn's answer tells.
        refusal: ToolRefusal,
        /// What failed, with Fastn's message.
        message: String,
        /// Fastn's HTTP status.
        status_code: u16,
        /// The message of Fastn's JSON error body, sanitised.
        server_message: Option<String>,
        /// Fastn's error code, canonical ([`Error::fastn_code`]).
        fastn_code: Option<String>,
    },

    /// The arguments of a tool call do not match the tool's input schema; nothing was sent.
    #[error("invalid arguments for tool `{tool}`: {message}")]
    #[non_exhaustive]
    InvalidArguments {
        /// The tool, as the call named it.
        tool: String,
        /// The JSON pointer of the first offending value (`/channel`; empty for the whole
        /// arguments).
        pointer: String,
        /// What is wrong, for every offending value (values themselves are not quoted).
        message: String,
    },

    /// The connection is broken ([`crate::health`]): the call was refused at once, nothing
    /// sent, until the tenant connects again or the next probe.
    #[error("the connection of `{connector_id}`{} is broken ({reason}{}): it needs a reconnect; nothing was sent (next probe in {probe_in:?})", tenant_id.as_ref().map_or_else(String::new, |tenant| format!(" (tenant `{tenant}`)")), fastn_code.as_ref().map_or_else(String::new, |code| format!(", {code}")))]
    #[non_exhaustive]
    ConnectionBroken {
        /// The connector.
        connector_id: String,
        /// The tenant, if any.
        tenant_id: Option<String>,
        /// Why it is broken.
        reason: BreakReason,
        /// Fastn's code that said so, when it said one.
        fastn_code: Option<String>,
        /// The consent page of a reconnect started for it, when one was.
        reconnect_url: Option<url::Url>,
        /// How long until a call is let through to ask again.
        probe_in: Duration,
    },

    /// A value given to the SDK is unusable, detected before any request.
    #[error("invalid configuration: {message}")]
    #[non_exhaustive]
    Config {
        /// What was expected and which setting, argument or variable was wrong.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What went wrong, to match on.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// What went wrong, owned.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// What kind of failure this is ([`ErrorCode`]): for an answer Fastn gave, decided by
    /// its error code with the status as the fallback, in this order: quota, rate limit,
    /// reconnect, not connected, invalid arguments, unavailable tool, unauthorized, 404,
    /// 5xx, any other refusal.
    pub fn code(&self) -> ErrorCode {
        match self.kind() {
            ErrorKind::Timeout { .. } => ErrorCode::Timeout,
            ErrorKind::Authentication { .. } => ErrorCode::AuthFailed,
            ErrorKind::Network { status_code: None, .. } => ErrorCode::NetworkError,
            ErrorKind::Network { status_code: Some(status), .. }
            | ErrorKind::ToolRefused { status_code: status, .. } => self.answer_code(*status),
            ErrorKind::InvalidResponse { .. } | ErrorKind::BodyTooLarge { .. } => ErrorCode::InvalidResponse,
            ErrorKind::Config { .. } => ErrorCode::ConfigError,
            ErrorKind::InvalidArguments { .. } => ErrorCode::InvalidArguments,
            ErrorKind::ConnectionBroken { .. } => ErrorCode::ReconnectRequired,
        }
    }

    /// The code of an answer Fastn gave with `status`.
    fn answer_code(&self, status: u16) -> ErrorCode {
        if self.is_quota_exceeded() {
            ErrorCode::QuotaExceeded
        } else if self.is_rate_limited() {
            ErrorCode::RateLimited
        } else if self.needs_reconnect() {
            ErrorCode::ReconnectRequired
        } else if self.is_not_connected() {
            ErrorCode::NotConnected
        } else if self.is_invalid_arguments() {
            ErrorCode::InvalidArguments
        } else if self.is_tool_not_found() || self.is_tool_not_enabled() {
            ErrorCode::ToolUnavailable
        } else if self.is_unauthorized() {
            ErrorCode::Unauthorized
        } else if status == 404 || self.fastn_code().is_some_and(|code| code.ends_with("NOT_FOUND")) {
            ErrorCode::NotFound
        } else if status >= 500 {
            ErrorCode::ServerError
        } else {
            ErrorCode::RequestRefused
        }
    }

    /// The official Python client's code for this error (`TIMEOUT`, `AUTH_FAILED`,
    /// `NETWORK_ERROR` for any failed request or non-2xx answer, `INVALID_RESPONSE`), or
    /// `CONFIG_ERROR` for what this SDK refuses before sending: for logs and dashboards
    /// shared with services on that client.
    pub fn official_code(&self) -> ErrorCode {
        match self.kind() {
            ErrorKind::Timeout { .. } => ErrorCode::Timeout,
            ErrorKind::Authentication { .. } => ErrorCode::AuthFailed,
            ErrorKind::Network { .. }
            | ErrorKind::ToolRefused { .. }
            | ErrorKind::ConnectionBroken { .. } => ErrorCode::NetworkError,
            ErrorKind::InvalidResponse { .. } | ErrorKind::BodyTooLarge { .. } => ErrorCode::InvalidResponse,
            ErrorKind::Config { .. } | ErrorKind::InvalidArguments { .. } => ErrorCode::ConfigError,
        }
    }

    /// The HTTP status code of a non-2xx answer.
    pub fn status_code(&self) -> Option<u16> {
        match self.kind() {
            ErrorKind::Network { status_code, .. } => *status_code,
            ErrorKind::ToolRefused { status_code, .. } => Some(*status_code),
            _ => None,
        }
    }

    /// The body of an answer that did not fit what was expected, as it came, when the error
    /// kept it ([`ErrorKind::InvalidResponse`]: a tool's body that is not its typed output).
    /// Untrusted text, never in the error's message.
    pub fn response_body(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::InvalidResponse { body, .. } => body.as_deref(),
            _ => None,
        }
    }

    /// What the server said: the message of its JSON error body, or a failed flow's
    /// `errorMessage`; sanitised.
    pub fn server_message(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::Network { server_message, .. } | ErrorKind::ToolRefused { server_message, .. } => {
                server_message.as_deref()
            }
            ErrorKind::Authentication { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Fastn's error code, when its answer carried one: canonical (the legacy aliases some
    /// paths still return mapped to the current names, `CONNECTOR_REFRESH_FAILED` →
    /// `CONN-REFRESH-FAILED`), made only of capitals, digits, `_` and `-`. Branch on it (or
    /// on the predicates below, which use it), never on the message.
    pub fn fastn_code(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::Network { fastn_code, .. }
            | ErrorKind::ToolRefused { fastn_code, .. }
            | ErrorKind::ConnectionBroken { fastn_code, .. } => fastn_code.as_deref(),
            _ => None,
        }
    }

    /// Fastn throttled the key (`RATE_LIMITED`, or a 429 without another code): waiting
    /// clears it ([`retry_after`](Self::retry_after) says how long).
    pub fn is_rate_limited(&self) -> bool {
        match self.fastn_code() {
            Some(code) => code == "RATE_LIMITED",
            None => self.status_code() == Some(429),
        }
    }

    /// The plan's quota is spent (`QUOTA_EXCEEDED`): waiting will not clear it, and the SDK
    /// never retries it.
    pub fn is_quota_exceeded(&self) -> bool {
        self.fastn_code() == Some("QUOTA_EXCEEDED")
    }

    /// The tenant has no such connection: Fastn's `CONNECTION_NOT_FOUND`, a tool refused
    /// for it, or a credentials request answered 404.
    pub fn is_not_connected(&self) -> bool {
        match self.kind() {
            ErrorKind::ToolRefused { refusal, .. } => *refusal == ToolRefusal::NotConnected,
            ErrorKind::Network { request, status_code, fastn_code, .. } => {
                fastn_code.as_deref() == Some("CONNECTION_NOT_FOUND")
                    || (request.endpoint == Endpoint::Credentials && *status_code == Some(404))
            }
            _ => false,
        }
    }

    /// The connection exists but is broken, and will not mend by itself: the tenant has to
    /// connect again (`CONN-AUTH-FAILED`, `CONN-REFRESH-FAILED`, a flow or connection
    /// that ended `EXPIRED` or `FAILED`, or a call refused because the connection is known
    /// broken: [`reconnect_url`](Self::reconnect_url)).
    pub fn needs_reconnect(&self) -> bool {
        match self.kind() {
            ErrorKind::Authentication { .. } | ErrorKind::ConnectionBroken { .. } => true,
            _ => matches!(self.fastn_code(), Some("CONN-AUTH-FAILED" | "CONN-REFRESH-FAILED")),
        }
    }

    /// What failed, in the SDK's own words only: no server text, host, path, id or key.
    /// For a language model or an MCP client, which must not read what Fastn said (a
    /// server's text may echo a key or its internals, and is a way into the prompt); the
    /// whole error (its `Display`) is for the operator's log.
    ///
    /// ```
    /// # let err = fastn_auth::FastnAuth::builder("").build().unwrap_err();
    /// assert_eq!(err.brief(), "the tool service is not configured correctly (CONFIG_ERROR)");
    /// ```
    pub fn brief(&self) -> String {
        let what = match self.kind() {
            ErrorKind::ToolRefused { refusal: ToolRefusal::NotConnected, .. } => {
                "the user has not connected this app yet".to_owned()
            }
            ErrorKind::ToolRefused { refusal: ToolRefusal::NotEnabled, .. } => {
                "the tool is not enabled for this workspace".to_owned()
            }
            ErrorKind::ToolRefused { refusal: ToolRefusal::ToolNotFound, .. } => {
                "the tool service does not know this tool".to_owned()
            }
            ErrorKind::InvalidArguments { .. } => "the arguments do not match the tool's schema".to_owned(),
            ErrorKind::Timeout { .. } | ErrorKind::Network { timed_out: true, .. } => {
                "the tool service did not answer in time".to_owned()
            }
            _ if self.is_unauthorized() => "the tool service refused this server's credentials".to_owned(),
            ErrorKind::Network { status_code: Some(status), .. } => {
                format!("the tool service answered with an error (HTTP {status})")
            }
            ErrorKind::Network { .. } => "the tool service could not be reached".to_owned(),
            ErrorKind::InvalidResponse { .. } | ErrorKind::BodyTooLarge { .. } => {
                "the tool service's answer could not be read".to_owned()
            }
            ErrorKind::Authentication { .. } => "connecting the app failed".to_owned(),
            ErrorKind::ConnectionBroken { .. } => "the user must connect this app again".to_owned(),
            ErrorKind::Config { .. } => "the tool service is not configured correctly".to_owned(),
        };
        format!("{what} ({})", self.code())
    }

    /// The consent page of a reconnect started for a broken connection
    /// ([`FastnAuth::reconnect`](crate::FastnAuth::reconnect)), for a call refused because
    /// of it.
    pub fn reconnect_url(&self) -> Option<&url::Url> {
        match self.kind() {
            ErrorKind::ConnectionBroken { reconnect_url, .. } => reconnect_url.as_ref(),
            _ => None,
        }
    }

    /// The request the error is about, when there was one.
    pub fn request(&self) -> Option<&RequestInfo> {
        match self.kind() {
            ErrorKind::Network { request, .. } => Some(request),
            ErrorKind::InvalidResponse { request, .. } => request.as_deref(),
            ErrorKind::BodyTooLarge { request, .. } | ErrorKind::ToolRefused { request, .. } => Some(request),
            _ => None,
        }
    }

    /// No such connection (this tenant has not connected this connector: the server
    /// answered 404, or refused a tool for it) or no such flow `state`.
    pub fn is_not_found(&self) -> bool {
        match self.kind() {
            ErrorKind::ToolRefused { refusal, .. } => *refusal == ToolRefusal::NotConnected,
            _ => self.status_code() == Some(404),
        }
    }

    /// Fastn knows no such tool ([`ToolRefusal::ToolNotFound`]).
    pub fn is_tool_not_found(&self) -> bool {
        matches!(self.kind(), ErrorKind::ToolRefused { refusal: ToolRefusal::ToolNotFound, .. })
    }

    /// The tool is not enabled for the space ([`ToolRefusal::NotEnabled`]).
    pub fn is_tool_not_enabled(&self) -> bool {
        matches!(self.kind(), ErrorKind::ToolRefused { refusal: ToolRefusal::NotEnabled, .. })
    }

    /// A tool call's arguments did not match its schema ([`ErrorKind::InvalidArguments`]:
    /// nothing was sent), or Fastn refused them (`VALIDATION_ERROR`, `INVALID_PARAMETERS`).
    pub fn is_invalid_arguments(&self) -> bool {
        matches!(self.kind(), ErrorKind::InvalidArguments { .. })
            || matches!(self.fastn_code(), Some("VALIDATION_ERROR" | "INVALID_PARAMETERS"))
    }

    /// Fastn refused the API key or token (`AUTH_INVALID`, `AUTH_EXPIRED`, `FORBIDDEN`, or a
    /// 401 or 403 without another code): it is wrong or lacks access to the space — not a
    /// connection's own refusal ([`needs_reconnect`](Self::needs_reconnect)).
    pub fn is_unauthorized(&self) -> bool {
        match self.fastn_code() {
            Some("AUTH_INVALID" | "AUTH_EXPIRED" | "FORBIDDEN") => true,
            _ => matches!(self.status_code(), Some(401 | 403)) && !self.needs_reconnect(),
        }
    }

    /// An answer's body was over the limit ([`ErrorKind::BodyTooLarge`]).
    pub fn is_too_large(&self) -> bool {
        matches!(self.kind(), ErrorKind::BodyTooLarge { .. })
    }

    /// A deadline ended it: [`ErrorKind::Timeout`], or a request or call timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind(), ErrorKind::Timeout { .. } | ErrorKind::Network { timed_out: true, .. })
    }

    /// Whether retrying the same request may succeed: no answer (connection failures,
    /// timeouts) and the statuses 408, 425, 429, 500, 502, 503 and 504 — but never Fastn's
    /// `QUOTA_EXCEEDED`, a 429 that waiting does not clear.
    pub fn is_transient(&self) -> bool {
        if self.is_quota_exceeded() {
            // A 429 that waiting will not clear.
            return false;
        }
        match self.kind() {
            ErrorKind::Network { status_code: None, .. } => true,
            ErrorKind::Network { status_code: Some(code), .. } => {
                matches!(code, 408 | 425 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// How long the server asked the client to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind() {
            ErrorKind::Network { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// An [`ErrorKind::Config`]: for crates built on this one that refuse a value before
    /// sending anything. `message` says what was expected and where.
    pub fn config(message: impl Into<String>) -> Self {
        ErrorKind::Config { message: message.into() }.into()
    }

    /// An [`ErrorKind::InvalidArguments`] of `tool`: the JSON pointer of the first offending
    /// value and what is wrong (never quoting the values).
    pub fn invalid_arguments(
        tool: impl Into<String>,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ErrorKind::InvalidArguments { tool: tool.into(), pointer: pointer.into(), message: message.into() }
            .into()
    }

    pub(crate) fn decode(endpoint: Endpoint, request: Option<&RequestInfo>, err: DecodeError) -> Self {
        let (message, source) = err.into_parts();
        ErrorKind::InvalidResponse {
            endpoint,
            request: request.cloned().map(Box::new),
            message,
            body: None,
            source,
        }
        .into()
    }

    /// An [`ErrorKind::InvalidResponse`] of `endpoint` that is no parse error: for crates built
    /// on this one that read an answer further.
    pub fn invalid(endpoint: Endpoint, message: impl Into<String>) -> Self {
        ErrorKind::InvalidResponse {
            endpoint,
            request: None,
            message: message.into(),
            body: None,
            source: None,
        }
        .into()
    }

    pub(crate) fn network(request: &RequestInfo, message: impl Into<String>) -> Self {
        ErrorKind::Network {
            request: Box::new(request.clone()),
            message: message.into(),
            status_code: None,
            server_message: None,
            fastn_code: None,
            retry_after: None,
            timed_out: false,
            source: None,
        }
        .into()
    }

    /// The same error for another caller that waited on the same request: every field but
    /// the source, which cannot be cloned (its text is in the message already).
    pub(crate) fn for_waiter(&self) -> Self {
        let kind = match self.kind() {
            ErrorKind::Timeout { timeout, last_status } => {
                ErrorKind::Timeout { timeout: *timeout, last_status: *last_status }
            }
            ErrorKind::Authentication { connector_id, message } => {
                ErrorKind::Authentication { connector_id: connector_id.clone(), message: message.clone() }
            }
            ErrorKind::Network {
                request,
                message,
                status_code,
                server_message,
                fastn_code,
                retry_after,
                timed_out,
                ..
            } => ErrorKind::Network {
                request: request.clone(),
                message: message.clone(),
                status_code: *status_code,
                server_message: server_message.clone(),
                fastn_code: fastn_code.clone(),
                retry_after: *retry_after,
                timed_out: *timed_out,
                source: None,
            },
            ErrorKind::InvalidResponse { endpoint, request, message, body, .. } => {
                ErrorKind::InvalidResponse {
                    endpoint: *endpoint,
                    request: request.clone(),
                    message: message.clone(),
                    body: body.clone(),
                    source: None,
                }
            }
            ErrorKind::ConnectionBroken {
                connector_id,
                tenant_id,
                reason,
                fastn_code,
                reconnect_url,
                probe_in,
            } => ErrorKind::ConnectionBroken {
                connector_id: connector_id.clone(),
                tenant_id: tenant_id.clone(),
                reason: *reason,
                fastn_code: fastn_code.clone(),
                reconnect_url: reconnect_url.clone(),
                probe_in: *probe_in,
            },
            ErrorKind::BodyTooLarge { request, limit, declared } => {
                ErrorKind::BodyTooLarge { request: request.clone(), limit: *limit, declared: *declared }
            }
            ErrorKind::ToolRefused { request, refusal, message, status_code, server_message, fastn_code } => {
                ErrorKind::ToolRefused {
                    request: request.clone(),
                    refusal: *refusal,
                    message: message.clone(),
                    status_code: *status_code,
                    server_message: server_message.clone(),
                    fastn_code: fastn_code.clone(),
                }
            }
            ErrorKind::InvalidArguments { tool, pointer, message } => ErrorKind::InvalidArguments {
                tool: tool.clone(),
                pointer: pointer.clone(),
                message: message.clone(),
            },
            ErrorKind::Config { message } => ErrorKind::Config { message: message.clone() },
        };
        kind.into()
    }

    /// A [`ErrorKind::Network`] marked as ended by a deadline.
    pub(crate) fn timed_out(mut self) -> Self {
        if let ErrorKind::Network { timed_out, .. } = &mut *self.0 {
            *timed_out = true;
        }
        self
    }

    /// A [`ErrorKind::Network`] with its transport error.
    pub(crate) fn with_source(mut self, error: impl std::error::Error + Send + Sync + 'static) -> Self {
        if let ErrorKind::Network { source, .. } = &mut *self.0 {
            *source = Some(Box::new(error));
        }
        self
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// As the [`ErrorKind`]'s: the variant and its fields.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RequestInfo {
        RequestInfo {
            endpoint: Endpoint::Credentials,
            method: "GET".into(),
            host: "live.fastn.ai".into(),
            path: "/api/connect/credentials/community/slack".into(),
            tenant_id: Some("acme".into()),
            connection_id: None,
        }
    }

    #[test]
    fn an_error_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert!(std::mem::size_of::<Result<()>>() <= 16);
    }

    #[test]
    fn codes_are_the_official_strings() {
        let codes = [
            (ErrorCode::Timeout, "TIMEOUT"),
            (ErrorCode::AuthFailed, "AUTH_FAILED"),
            (ErrorCode::NetworkError, "NETWORK_ERROR"),
            (ErrorCode::InvalidResponse, "INVALID_RESPONSE"),
            (ErrorCode::ConfigError, "CONFIG_ERROR"),
        ];
        for (code, text) in codes {
            assert_eq!((code.as_str(), code.to_string()), (text, text.to_owned()));
        }
    }

    #[test]
    fn a_404_names_the_request_and_keeps_the_server_message() {
        let err: Error = ErrorKind::Network {
            request: Box::new(request()),
            message: "the server answered 404 Not Found: \"no completed connection\"".into(),
            status_code: Some(404),
            server_message: Some("no completed connection".into()),
            fastn_code: None,
            retry_after: None,
            timed_out: false,
            source: None,
        }
        .into();
        assert!(err.is_not_found() && !err.is_unauthorized() && !err.is_transient() && !err.is_timeout());
        assert!(err.is_not_connected() && !err.needs_reconnect() && !err.is_rate_limited());
        assert_eq!(
            err.to_string(),
            "GET live.fastn.ai/api/connect/credentials/community/slack (tenant `acme`): \
             the server answered 404 Not Found: \"no completed connection\""
        );
        assert_eq!(err.server_message(), Some("no completed connection"));
        assert_eq!(err.request().unwrap().tenant_id.as_deref(), Some("acme"));
    }
}
