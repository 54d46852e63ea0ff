//! Scripted faults: what the emulator answers instead of the real thing.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// One scripted misbehaviour of an endpoint, queued with
/// [`MockServer::inject`](crate::MockServer::inject) and used by the next matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status and a JSON error body, with `Retry-After: {secs}` when
    /// given.
    Status {
        /// The HTTP status code.
        code: u16,
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Never answer (until the emulator shuts down).
    Hang,
    /// Answer 200 with `application/json` that is not valid JSON.
    MalformedJson,
    /// Answer 200 with an HTML page, as a captive proxy would.
    Html,
    /// Answer 200 with a valid JSON body of about this many bytes.
    Oversized(usize),
    /// Answer 200, promise a longer body, send part of it and close the connection.
    CloseMidBody,
    /// Answer 200 with `{"status": "<this>"}`: an unknown status on the status endpoint.
    UnknownStatus(String),
    /// Answer `307 Temporary Redirect` to this URL.
    Redirect(String),
    /// Answer with this status and this body as `application/json` (missing or mistyped
    /// fields).
    Body {
        /// The HTTP status code.
        code: u16,
        /// The raw body.
        body: String,
    },
}

impl Fault {
    /// `Fault::Status` without `Retry-After`.
    pub fn status(code: u16) -> Self {
        Fault::Status { code, retry_after: None }
    }

    /// `Fault::Status` with `Retry-After: {secs}`.
    pub fn status_retry_after(code: u16, secs: u64) -> Self {
        Fault::Status { code, retry_after: Some(secs) }
    }

    /// `Fault::Body` with status 200.
    pub fn body(body: impl Into<String>) -> Self {
        Fault::Body { code: 200, body: body.into() }
    }

    /// The response of a fault that answers at once; `None` for [`Fault::Delay`] and
    /// [`Fault::Hang`], which the server handles.
    pub(crate) fn response(&self) -> Option<Response> {
        let response = match self {
            Fault::Delay(_) | Fault::Hang => return None,
            Fault::Status { code, retry_after } => {
                let code = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = crate::json::error(code, "injected fault");
                if let Some(secs) = retry_after {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*secs));
                }
                response
            }
            Fault::MalformedJson => json(StatusCode::OK, r#"{"status": "ACTIVE", "state": "#.to_owned()),
            Fault::Html => (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html><html><body><h1>Gateway login required</h1></body></html>",
            )
                .into_response(),
            Fault::Oversized(bytes) => {
                json(StatusCode::OK, format!(r#"{{"status":"ACTIVE","padding":"{}"}}"#, "x".repeat(*bytes)))
            }
            Fault::CloseMidBody => {
                use futures_util::StreamExt as _;
                // The pause lets the headers and the first chunk reach the client before
                // the connection is cut.
                let head = futures_util::stream::iter([Ok::<_, std::io::Error>(r#"{"status":"ACT"#)]);
                let cut = futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected close"))
                });
                let mut response = Response::new(Body::from_stream(head.chain(cut)));
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(64u32));
                response
            }
            Fault::Redirect(location) => match HeaderValue::from_str(location) {
                Ok(location) => {
                    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response()
                }
                Err(_) => crate::json::error(StatusCode::INTERNAL_SERVER_ERROR, "bad injected redirect"),
            },
            Fault::UnknownStatus(status) => {
                json(StatusCode::OK, serde_json::json!({ "status": status }).to_string())
            }
            Fault::Body { code, body } => {
                json(StatusCode::from_u16(*code).unwrap_or(StatusCode::OK), body.clone())
            }
        };
        Some(response)
    }
}

fn json(code: StatusCode, body: String) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A [`Fault`] as JSON, for the control API: `{"kind": "status", "code": 503,
/// "retry_after": 1}`, `{"kind": "hang"}`, `{"kind": "delay", "ms": 300}`,
/// `{"kind": "malformed_json"}`, `{"kind": "html"}`, `{"kind": "oversized", "bytes": N}`,
/// `{"kind": "close_mid_body"}`, `{"kind": "unknown_status", "status": "X"}`,
/// `{"kind": "redirect", "location": "…"}`, `{"kind": "body", "code": 200, "body": "…"}`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FaultSpec {
    Status { code: u16, retry_after: Option<u64> },
    Delay { ms: u64 },
    Hang,
    MalformedJson,
    Html,
    Oversized { bytes: usize },
    CloseMidBody,
    UnknownStatus { status: String },
    Redirect { location: String },
    Body { code: Option<u16>, body: String },
}

/// The most requests one fault of the control API may apply to (`times`).
pub const MAX_FAULT_TIMES: usize = 1_000_000;
/// The largest `oversized` body the control API makes (`bytes`): 16 MiB, well past the
/// SDK's 1 MiB limit.
pub const MAX_OVERSIZED_BYTES: usize = 16 * 1024 * 1024;
/// The longest `delay` of the control API (`ms`): one hour.
pub const MAX_DELAY_MS: u64 = 3_600_000;
/// The largest `retry_after` of the control API, in seconds: one day.
pub const MAX_RETRY_AFTER_SECS: u64 = 86_400;

impl FaultSpec {
    /// The fault, or what is out of range: a control call with it is a 400.
    pub(crate) fn check(self) -> Result<Fault, String> {
        let over = |what: &str, got: u128, max: u128| Err(format!("{what} is {got}, at most {max}"));
        match &self {
            FaultSpec::Status { code, .. } | FaultSpec::Body { code: Some(code), .. }
                if !(100..=599).contains(code) =>
            {
                return Err(format!("code is {code}, expected an HTTP status from 100 to 599"));
            }
            FaultSpec::Status { retry_after: Some(secs), .. } if *secs > MAX_RETRY_AFTER_SECS => {
                return over("retry_after", (*secs).into(), MAX_RETRY_AFTER_SECS.into());
            }
            FaultSpec::Delay { ms } if *ms > MAX_DELAY_MS => {
                return over("ms", (*ms).into(), MAX_DELAY_MS.into());
            }
            FaultSpec::Oversized { bytes } if *bytes > MAX_OVERSIZED_BYTES => {
                return over("bytes", *bytes as u128, MAX_OVERSIZED_BYTES as u128);
            }
            _ => {}
        }
        Ok(self.into())
    }
}

impl From<FaultSpec> for Fault {
    fn from(spec: FaultSpec) -> Fault {
        match spec {
            FaultSpec::Status { code, retry_after } => Fault::Status { code, retry_after },
            FaultSpec::Delay { ms } => Fault::Delay(Duration::from_millis(ms)),
            FaultSpec::Hang => Fault::Hang,
            FaultSpec::MalformedJson => Fault::MalformedJson,
            FaultSpec::Html => Fault::Html,
            FaultSpec::Oversized { bytes } => Fault::Oversized(bytes),
            FaultSpec::CloseMidBody => Fault::CloseMidBody,
            FaultSpec::UnknownStatus { status } => Fault::UnknownStatus(status),
            FaultSpec::Redirect { location } => Fault::Redirect(location),
            FaultSpec::Body { code, body } => Fault::Body { code: code.unwrap_or(200), body },
        }
    }
}
