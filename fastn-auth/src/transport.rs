//! The only module that speaks HTTP: URLs, headers, per-request timeouts, retries, the body
//! limit and the cap on requests in flight.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use tracing::Instrument as _;
use url::Url;

use crate::error::{Endpoint, Error, Result};

/// Bodies larger than this are refused rather than buffered.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A `Retry-After` longer than this ends `initialize`/`get_credentials` retries at once
/// rather than blocking the caller for minutes.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

const SPACE_ID: HeaderName = HeaderName::from_static("x-fastn-space-id");
pub(crate) const API_KEY: HeaderName = HeaderName::from_static("x-fastn-api-key");
const CUSTOM_AUTH: HeaderName = HeaderName::from_static("x-fastn-custom-auth");
const TENANT_ID: HeaderName = HeaderName::from_static("x-fastn-space-tenantid");
const CONNECTION_ID: HeaderName = HeaderName::from_static("x-fastn-space-connection-id");

/// One Fastn call: the endpoint and its path parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route<'a> {
    Init { org: &'a str, connector: &'a str },
    Status { state: &'a str },
    Credentials { org: &'a str, connector: &'a str },
}

impl Route<'_> {
    pub(crate) fn endpoint(self) -> Endpoint {
        match self {
            Route::Init { .. } => Endpoint::Init,
            Route::Status { .. } => Endpoint::Status,
            Route::Credentials { .. } => Endpoint::Credentials,
        }
    }

    /// Appends `connect/…` to `url`, each parameter one percent-encoded path segment.
    fn push_path(self, url: &mut Url) -> Result<()> {
        let (verb, params): (&str, &[(&str, &str)]) = match self {
            Route::Init { org, connector } => ("init", &[("org_id", org), ("connector_id", connector)]),
            Route::Status { state } => ("status", &[("state", state)]),
            Route::Credentials { org, connector } => {
                ("credentials", &[("org_id", org), ("connector_id", connector)])
            }
        };
        for (name, value) in params {
            check_segment(name, value)?;
        }
        let mut segments =
            url.path_segments_mut().map_err(|()| Error::config("base_url cannot carry a path"))?;
        segments.pop_if_empty().extend(["connect", verb]);
        segments.extend(params.iter().map(|(_, value)| *value));
        Ok(())
    }
}

/// Refuses path parameters that would change the route even when encoded: empty, `.` and
/// `..` segments, and control characters (URL parsing silently drops tabs and line breaks,
/// so `sla\tck` would reach the server as `slack`).
pub(crate) fn check_segment(name: &str, value: &str) -> Result<()> {
    if value.is_empty() || value == "." || value == ".." || value.chars().any(char::is_control) {
        let shown: String = value.chars().take(64).collect();
        return Err(Error::config(format!(
            "{name} must be a non-empty id other than `.` and `..`, without control characters, got {shown:?}"
        )));
    }
    Ok(())
}

/// A header value from caller input. Control characters (CR, LF, tab, …) are refused, and
/// so is leading or trailing whitespace, which HTTP strips: ` acme` would arrive as `acme`.
pub(crate) fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    let usable = !value.chars().any(char::is_control) && value.trim_matches(' ') == value;
    HeaderValue::from_str(value).ok().filter(|_| usable).ok_or_else(|| {
        let shown: String = value.chars().take(64).collect();
        Error::config(format!(
            "{name} must be usable as an HTTP header value (no CR, LF, tab or other control \
             characters, no leading or trailing space), got {shown:?}"
        ))
    })
}

/// The per-connection headers of a call: tenant and connection ids (empty when none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) tenant_id: &'a str,
    pub(crate) connection_id: &'a str,
}

/// Settings the transport is built from; validated by the client builder.
pub(crate) struct TransportConfig {
    pub(crate) base_url: Url,
    pub(crate) space_id: HeaderValue,
    pub(crate) auth: (HeaderName, HeaderValue),
    pub(crate) custom_auth: bool,
    pub(crate) request_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) max_in_flight: usize,
}

/// A pooled HTTP client bound to one Fastn space and credential.
pub(crate) struct Transport {
    http: reqwest::Client,
    base_url: Url,
    headers: HeaderMap,
    request_timeout: Duration,
    max_retries: u32,
    in_flight: Semaphore,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url.as_str())
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(config: TransportConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            // The API never redirects; following one to another host would hand it our key.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(config.max_in_flight)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("fastn-auth-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?;

        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(SPACE_ID, config.space_id);
        let (auth_name, mut auth_value) = config.auth;
        auth_value.set_sensitive(true);
        headers.insert(auth_name, auth_value);
        if config.custom_auth {
            headers.insert(CUSTOM_AUTH, HeaderValue::from_static("true"));
        }
        Ok(Transport {
            http,
            base_url: config.base_url,
            headers,
            request_timeout: config.request_timeout,
            max_retries: config.max_retries,
            in_flight: Semaphore::new(config.max_in_flight),
        })
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub(crate) fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Sends `route` and retries transient failures up to `retries` times.
    ///
    /// Every input is validated before the first byte is sent. The HTTP exchange is boxed
    /// and started only once an in-flight permit is held: a session waiting for its turn
    /// (or between polls) holds a few hundred bytes, not the kilobytes of an exchange's
    /// state, which adds up over 10,000 waiting sessions.
    pub(crate) async fn call(
        &self,
        route: Route<'_>,
        scope: Scope<'_>,
        retries: u32,
    ) -> Result<Map<String, Value>> {
        let endpoint = route.endpoint();
        let mut url = self.base_url.clone();
        route.push_path(&mut url)?;
        let tenant = header_value("tenant_id", scope.tenant_id)?;
        let connection = header_value("connection_id", scope.connection_id)?;
        let span = tracing::debug_span!("fastn_auth.request", endpoint = %endpoint, path = url.path());
        async {
            let mut attempt = 0;
            loop {
                let outcome = {
                    // The semaphore is never closed, so acquiring only waits.
                    let _permit = self.in_flight.acquire().await;
                    let request = self.request(route, url.clone(), tenant.clone(), connection.clone());
                    Box::pin(self.send_once(endpoint, request)).await
                };
                match outcome {
                    Err(err) if err.is_transient() && attempt < retries => {
                        let delay = err.retry_after().unwrap_or_else(|| backoff(attempt));
                        if delay > MAX_RETRY_AFTER {
                            return Err(err);
                        }
                        attempt += 1;
                        tracing::debug!(attempt, ?delay, error = %err, "retrying after a transient failure");
                        tokio::time::sleep(delay).await;
                    }
                    outcome => return outcome,
                }
            }
        }
        .instrument(span)
        .await
    }

    fn request(
        &self,
        route: Route<'_>,
        url: Url,
        tenant: HeaderValue,
        connection: HeaderValue,
    ) -> reqwest::Request {
        let method = match route {
            Route::Init { .. } => reqwest::Method::POST,
            Route::Status { .. } | Route::Credentials { .. } => reqwest::Method::GET,
        };
        let mut request = reqwest::Request::new(method, url);
        let headers = request.headers_mut();
        *headers = self.headers.clone();
        headers.insert(TENANT_ID, tenant);
        headers.insert(CONNECTION_ID, connection);
        request
    }

    async fn send_once(&self, endpoint: Endpoint, request: reqwest::Request) -> Result<Map<String, Value>> {
        let exchange = async {
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| network(endpoint, format!("{endpoint}: request failed"), Some(e)))?;
            let status = response.status();
            if !status.is_success() {
                let retry_after = response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                // Reading a small error body lets the connection go back to the pool.
                let _ = read_body(endpoint, response, 64 * 1024).await;
                return Err(Error::Network {
                    message: format!("{endpoint}: the server answered {status}"),
                    status_code: Some(status.as_u16()),
                    endpoint,
                    retry_after,
                    source: None,
                });
            }
            let body = read_body(endpoint, response, MAX_BODY_BYTES).await?;
            parse_object(endpoint, &body)
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(network(
                endpoint,
                format!("{endpoint}: no complete answer within {:?}", self.request_timeout),
                None,
            )),
        }
    }
}

/// A failure without an HTTP answer: no connection, a broken body, a timeout.
fn network(endpoint: Endpoint, message: String, source: Option<reqwest::Error>) -> Error {
    Error::Network {
        message,
        status_code: None,
        endpoint,
        retry_after: None,
        // The message already names the endpoint; the URL would only repeat it.
        source: source.map(|e| Box::new(e.without_url()) as _),
    }
}

async fn read_body(endpoint: Endpoint, mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
    let too_large = |len: u64| {
        Error::invalid(endpoint, format!("the body of {len} bytes exceeds the limit of {limit} bytes"))
    };
    if let Some(len) = response.content_length().filter(|&len| len > limit as u64) {
        return Err(too_large(len));
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        network(endpoint, format!("{endpoint}: the connection failed while reading the body"), Some(e))
    })? {
        if body.len() + chunk.len() > limit {
            return Err(too_large((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn parse_object(endpoint: Endpoint, body: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => {
            Err(Error::invalid(endpoint, format!("expected a JSON object, got {}", json_kind(&other))))
        }
        Err(e) => {
            let looks_html = body.trim_ascii_start().starts_with(b"<");
            let what = if looks_html { "an HTML page" } else { "a body that is not JSON" };
            Err(Error::invalid(
                endpoint,
                format!("expected a JSON object, got {what} ({} bytes; {e})", body.len()),
            ))
        }
    }
}

/// How a JSON value is described in error messages: its kind, never its content.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Capped exponential backoff with jitter: about 200 ms, 400 ms, … up to 5 s, each drawn
/// from the upper half of its step so that many clients do not retry in step.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let step = Duration::from_millis(200).saturating_mul(1 << attempt.min(5)).min(Duration::from_secs(5));
    step.mul_f64(0.5 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_of(route: Route<'_>) -> Result<String> {
        let mut url = Url::parse("https://live.fastn.ai/api/").unwrap();
        route.push_path(&mut url)?;
        Ok(url.to_string())
    }

    #[test]
    fn path_parameters_are_single_encoded_segments() {
        let url = url_of(Route::Init { org: "a/b", connector: "../admin?x#y" }).unwrap();
        assert_eq!(url, "https://live.fastn.ai/api/connect/init/a%2Fb/..%2Fadmin%3Fx%23y");
        let url = url_of(Route::Status { state: "s t%" }).unwrap();
        assert_eq!(url, "https://live.fastn.ai/api/connect/status/s%20t%25");
    }

    #[test]
    fn dot_segments_and_empty_ids_are_refused() {
        for bad in ["", ".", "..", "sla\tck", "\r", "a\nb", "\u{0}", "\u{7f}", "\u{85}"] {
            let err = url_of(Route::Credentials { org: "community", connector: bad }).unwrap_err();
            assert_eq!(err.code(), "CONFIG_ERROR", "{bad:?}");
            assert!(err.to_string().contains("connector_id"), "{err}");
        }
    }

    #[test]
    fn header_values_refuse_line_breaks() {
        assert!(header_value("tenant_id", "acme").is_ok());
        assert!(header_value("tenant_id", "Acme GmbH · Zürich").is_ok());
        let err = header_value("tenant_id", "acme\r\nx-evil: 1").unwrap_err();
        assert!(err.to_string().contains("tenant_id"), "{err}");
        for stripped_in_transit in ["\t", " acme", "acme ", "a\tb"] {
            assert!(header_value("tenant_id", stripped_in_transit).is_err(), "{stripped_in_transit:?}");
        }
    }

    #[test]
    fn backoff_is_capped_and_grows() {
        assert!(backoff(0) <= Duration::from_millis(200));
        assert!(backoff(0) >= Duration::from_millis(100));
        assert!(backoff(30) <= Duration::from_secs(5));
        assert!(backoff(30) >= Duration::from_millis(2500));
    }
}
