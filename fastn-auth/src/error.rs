//! The one error type of the crate, with the official client's error codes.

use std::time::Duration;

use crate::session::AuthStatus;

/// A Fastn endpoint, as named in error messages, tracing spans and the emulator's fault
/// injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST {base}/connect/init/{org}/{connector}`: start a flow.
    Init,
    /// `GET {base}/connect/status/{state}`: poll a flow.
    Status,
    /// `GET {base}/connect/credentials/{org}/{connector}`: fetch a connection's credentials.
    Credentials,
}

impl Endpoint {
    /// Every endpoint, in protocol order.
    pub const ALL: [Endpoint; 3] = [Endpoint::Init, Endpoint::Status, Endpoint::Credentials];

    /// The endpoint's route, as PROTOCOL.md writes it.
    pub const fn route(self) -> &'static str {
        match self {
            Endpoint::Init => "POST /connect/init/{org}/{connector}",
            Endpoint::Status => "GET /connect/status/{state}",
            Endpoint::Credentials => "GET /connect/credentials/{org}/{connector}",
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.route())
    }
}

/// Everything that can go wrong, one variant per error class of the official Python client
/// plus [`Error::Config`] for what this SDK refuses before sending anything.
///
/// No message ever contains the API key, the auth token or a credential token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `wait_for_completion` did not see `ACTIVE` or `FAILED` within its timeout (code
    /// `TIMEOUT`).
    #[error("the flow did not complete within {timeout:?} (last status seen: {})", last_status.map_or("none", AuthStatus::as_str))]
    Timeout {
        /// The timeout that ran out.
        timeout: Duration,
        /// The last status the server reported, if any poll succeeded.
        last_status: Option<AuthStatus>,
    },

    /// The flow ended `FAILED` (code `AUTH_FAILED`).
    #[error("authentication failed: {message}")]
    Authentication {
        /// The server's `errorMessage`, or `authentication failed` when it gave none.
        message: String,
    },

    /// A request failed: no connection, a timeout, or a non-2xx answer (code `NETWORK_ERROR`).
    #[error("{message}")]
    Network {
        /// What failed, naming the endpoint.
        message: String,
        /// The HTTP status code, when the server answered.
        status_code: Option<u16>,
        /// The endpoint the request went to.
        endpoint: Endpoint,
        /// The server's `Retry-After`, when it sent one in seconds.
        retry_after: Option<Duration>,
        /// The underlying transport error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The server answered 2xx with a body this SDK cannot use: not JSON, a missing or
    /// mistyped field, an unknown status, too large (code `INVALID_RESPONSE`).
    #[error("invalid response: {message}")]
    InvalidResponse {
        /// What was expected, what came, and from which endpoint.
        message: String,
    },

    /// A value given to the SDK is unusable, detected before any request (code
    /// `CONFIG_ERROR`).
    #[error("invalid configuration: {message}")]
    Config {
        /// What was expected and which setting or argument was wrong.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The official client's error code: `TIMEOUT`, `AUTH_FAILED`, `NETWORK_ERROR`,
    /// `INVALID_RESPONSE`, or `CONFIG_ERROR` for this SDK's configuration errors.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Timeout { .. } => "TIMEOUT",
            Error::Authentication { .. } => "AUTH_FAILED",
            Error::Network { .. } => "NETWORK_ERROR",
            Error::InvalidResponse { .. } => "INVALID_RESPONSE",
            Error::Config { .. } => "CONFIG_ERROR",
        }
    }

    /// The HTTP status code of a [`Error::Network`] that got an answer.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Network { status_code, .. } => *status_code,
            _ => None,
        }
    }

    /// Whether retrying the same request may succeed: connection failures, request
    /// timeouts and the statuses 408, 425, 429, 500, 502, 503 and 504.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network { status_code: None, .. } => true,
            Error::Network { status_code: Some(code), .. } => {
                matches!(code, 408 | 425 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// How long the server asked the client to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Network { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config { message: message.into() }
    }

    pub(crate) fn invalid(endpoint: Endpoint, message: impl std::fmt::Display) -> Self {
        Error::InvalidResponse { message: format!("{endpoint}: {message}") }
    }
}
