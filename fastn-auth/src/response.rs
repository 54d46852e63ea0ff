//! [`ApiResponse`]: a connected app's answer, whose body is read under the call's deadline
//! and within a size limit, however the provider sends it.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Version};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use crate::error::{Error, ErrorKind, RequestInfo, Result};
use crate::target::Target;
use crate::wire::Endpoint;

/// The default limit on the body of a connected app's answer:
/// 16 MiB. Set another per client with [`ApiClient::max_body`](crate::ApiClient::max_body)
/// or per request with [`ApiRequest::max_body`](crate::ApiRequest::max_body).
pub const DEFAULT_MAX_API_BODY: u64 = 16 * 1024 * 1024;

/// A connected app's answer to an [`ApiRequest`](crate::ApiRequest), whatever its status.
///
/// The body is read by [`bytes`](Self::bytes), [`text`](Self::text),
/// [`json`](Self::json) or piece by piece with [`chunk`](Self::chunk), always
/// - **within the call's deadline**, the same one that bounded the request (the request's
///   [`timeout`](crate::ApiRequest::timeout), within the client's call timeout): a provider
///   that dribbles its body gets a timeout error, not a caller stuck reading;
/// - **within the body limit** ([`DEFAULT_MAX_API_BODY`] unless set): a body declared
///   larger is refused before a byte of it is read, one that turns out larger is refused
///   when it passes the limit, and nothing of its declared length is allocated.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = fastn_auth_emulator::MockServer::start().await?;
/// # mock.insert_connection(fastn_auth_emulator::ConnectionKey::new(fastn_auth_emulator::MockServer::SPACE_ID, "notion").tenant_id("acme"), None);
/// # let client = mock.client();
/// let notion = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("acme");
/// let response = notion.get("/users/me").send().await?;
/// assert!(response.status().is_success());
/// let me: fastn_auth::serde_json::Value = response.json().await?;
/// # let _ = me;
/// # Ok(())
/// # }
/// ```
pub struct ApiResponse {
    response: reqwest::Response,
    /// The URL as it may be shown, when the response's own holds the token (in the query):
    /// the token replaced by `[REDACTED]`.
    shown: Option<Url>,
    limit: u64,
    read: u64,
    deadline: Option<Instant>,
    /// What an error says of the request, made only when there is one.
    method: reqwest::Method,
    target: Arc<Target>,
}

impl fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header names only: a `Set-Cookie` value is nobody's business in a log.
        f.debug_struct("ApiResponse")
            .field("status", &self.status())
            .field("url", &self.url().as_str())
            .field("version", &self.version())
            .field("headers", &self.headers().keys().collect::<Vec<_>>())
            .field("max_body", &self.limit)
            .finish_non_exhaustive()
    }
}

impl ApiResponse {
    pub(crate) fn new(
        response: reqwest::Response,
        shown: Option<Url>,
        limit: u64,
        deadline: Option<Instant>,
        method: reqwest::Method,
        target: Arc<Target>,
    ) -> Self {
        ApiResponse { response, shown, limit, read: 0, deadline, method, target }
    }

    /// The request this answers, for an error: method, host, path as sent, tenant.
    fn request(&self) -> RequestInfo {
        let url = self.url();
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (host, _) => host.unwrap_or_default().to_owned(),
        };
        RequestInfo {
            endpoint: Endpoint::Api,
            method: self.method.to_string(),
            host,
            path: url.path().to_owned(),
            tenant_id: self.target.tenant_id.clone(),
            connection_id: self.target.connection_id.clone(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The answer's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The HTTP version of the answer.
    pub fn version(&self) -> Version {
        self.response.version()
    }

    /// The URL that answered, with a token sent in the query shown as `[REDACTED]`.
    pub fn url(&self) -> &Url {
        self.shown.as_ref().unwrap_or_else(|| self.response.url())
    }

    /// The body's length as the provider declared it (`Content-Length`), if it did: a
    /// claim, not a fact; reading never trusts it beyond the limit.
    pub fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }

    /// The most bytes of body this answer may have.
    pub fn max_body(&self) -> u64 {
        self.limit
    }

    /// The next piece of the body, `None` at its end: for a large download (raise the
    /// limit with [`ApiRequest::max_body`](crate::ApiRequest::max_body)) or a stream
    /// handled as it arrives. Each read is under the call's deadline, and the pieces
    /// together within the limit.
    ///
    /// # Errors
    /// [`ErrorKind::BodyTooLarge`](crate::ErrorKind::BodyTooLarge) past the limit (or when the declared length is over it);
    /// [`ErrorKind::Network`](crate::ErrorKind::Network) when the deadline passes ([`is_timeout`](Error::is_timeout)) or
    /// the connection fails while reading.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        crate::transport::in_runtime()?;
        let Some(deadline) = self.deadline else { return self.next_chunk().await };
        let outcome = tokio::time::timeout_at(deadline, self.next_chunk()).await;
        outcome.unwrap_or_else(|_| Err(self.late()))
    }

    /// The whole body.
    ///
    /// # Errors
    /// As [`chunk`](Self::chunk).
    pub async fn bytes(mut self) -> Result<Bytes> {
        crate::transport::in_runtime()?;
        // One timer for the whole body, not one per piece.
        let Some(deadline) = self.deadline else { return self.read_all().await };
        let outcome = tokio::time::timeout_at(deadline, self.read_all()).await;
        outcome.unwrap_or_else(|_| Err(self.late()))
    }

    /// Every piece to the end, within the limit.
    async fn read_all(&mut self) -> Result<Bytes> {
        // Never more up front than the limit, nor than a small start: a declared length is
        // only a claim.
        let start = self.content_length().unwrap_or(0).min(self.limit).min(64 * 1024);
        let mut body = Vec::with_capacity(usize::try_from(start).unwrap_or(0));
        while let Some(chunk) = self.next_chunk().await? {
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }

    /// The next piece, within the limit, with no deadline of its own.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if self.read == 0
            && let Some(declared) = self.content_length().filter(|&declared| declared > self.limit)
        {
            return Err(self.too_large(Some(declared)));
        }
        let chunk = self.response.chunk().await.map_err(|err| {
            Error::network(&self.request(), "the connection failed while reading the body")
                .with_source(err.without_url())
        })?;
        if let Some(chunk) = &chunk {
            self.read = self.read.saturating_add(chunk.len() as u64);
            if self.read > self.limit {
                return Err(self.too_large(None));
            }
        }
        Ok(chunk)
    }

    /// The error of a body not complete by the call's deadline.
    fn late(&self) -> Error {
        let message =
            format!("the body was not complete within the call's deadline ({} bytes read)", self.read);
        Error::network(&self.request(), message).timed_out()
    }

    /// The body as text, invalid UTF-8 replaced by U+FFFD.
    ///
    /// # Errors
    /// As [`chunk`](Self::chunk).
    pub async fn text(self) -> Result<String> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The body as JSON of type `T` (a `serde_json::Value` for any JSON).
    ///
    /// # Errors
    /// As [`chunk`](Self::chunk), and [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) when the body is not
    /// JSON of that shape: the message says where, never what the body held.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T> {
        let request = Box::new(self.request());
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|err| {
            ErrorKind::InvalidResponse {
                endpoint: Endpoint::Api,
                message: format!(
                    "the body is not the JSON expected ({:?} error at line {}, column {})",
                    err.classify(),
                    err.line(),
                    err.column()
                ),
                request: Some(request),
                body: None,
                source: Some(err),
            }
            .into()
        })
    }

    fn too_large(&self, declared: Option<u64>) -> Error {
        ErrorKind::BodyTooLarge { request: Box::new(self.request()), limit: self.limit, declared }.into()
    }
}
