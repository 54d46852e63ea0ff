//! The emulator's shared state, [`App`], and what every route asks of it: the key and host
//! checks, scripted faults, the rate limit, the cross-site refusal.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use tokio::sync::watch;

use crate::faults::Fault;
use crate::registry::ToolRegistry;
use crate::store::Store;
use fastn_auth::wire::{self, Endpoint};

impl App {
    /// Whether `headers` carry a key or token this emulator accepts: a key as
    /// `x-fastn-api-key` or as `Authorization: Bearer` (as Fastn takes both), a token as a
    /// bearer.
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let key = header_text(headers, wire::API_KEY);
        let bearer = header_text(headers, "authorization").strip_prefix("Bearer ").unwrap_or("");
        (!key.is_empty() && self.api_keys.iter().any(|k| k == key))
            || (!bearer.is_empty() && self.auth_tokens.iter().chain(&self.api_keys).any(|t| t == bearer))
    }

    /// Fastn's rule for test keys: a `fsk_test_…` key is refused (401, `AUTH_INVALID`)
    /// without `x-fastn-test-mode: true`.
    pub(crate) fn test_key_refused(headers: &HeaderMap) -> bool {
        let key = header_text(headers, wire::API_KEY);
        let bearer = header_text(headers, "authorization").strip_prefix("Bearer ").unwrap_or("");
        let test_key = key.starts_with("fsk_test_") || bearer.starts_with("fsk_test_");
        test_key && !header_text(headers, wire::TEST_MODE).eq_ignore_ascii_case("true")
    }

    /// Whether `host` (a `Host` header) names this emulator: its address or `localhost`,
    /// with its port.
    pub(crate) fn is_own_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|own| host.eq_ignore_ascii_case(own))
    }

    /// Whether `origin` (an `Origin` header) is one of this emulator's own pages.
    pub(crate) fn is_own_origin(&self, origin: &str) -> bool {
        origin.strip_prefix("http://").is_some_and(|host| self.is_own_host(host))
    }
}

pub(crate) struct App {
    pub(crate) store: Arc<Store>,
    pub(crate) origin: String,
    /// The `Host` values that name this emulator: its address, and `localhost` with its port.
    pub(crate) hosts: [String; 2],
    pub(crate) api_keys: Vec<String>,
    pub(crate) auth_tokens: Vec<String>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Print a line per request (method, path, status, time) on stderr.
    pub(crate) log_requests: bool,
    /// The registry tools are served from, when given one.
    pub(crate) tools: Arc<ToolRegistry>,
    /// The shape of the API's error answers.
    pub(crate) error_shape: crate::config::ErrorShape,
}

/// A header's value as UTF-8 (ids may be any text, `Zürich` included; `to_str` would take
/// only ASCII and turn such a tenant into "no tenant"); "" when absent or not UTF-8.
pub(crate) fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| std::str::from_utf8(v.as_bytes()).ok()).unwrap_or("")
}

impl App {
    /// Applies a scripted fault, then the header checks of the real service, then
    /// `answer` with the caller's space id.
    pub(crate) async fn serve(
        &self,
        endpoint: Endpoint,
        headers: &HeaderMap,
        answer: impl FnOnce(&str) -> Response,
    ) -> Response {
        if let Some(response) = self.fault(endpoint).await {
            return response;
        }
        let space_id = header_text(headers, wire::SPACE_ID);
        if space_id.is_empty() {
            return crate::json::error(StatusCode::UNAUTHORIZED, "missing x-fastn-space-id");
        }
        if !self.authorized(headers) {
            return crate::json::error(
                StatusCode::UNAUTHORIZED,
                "missing or unknown x-fastn-api-key / bearer token",
            );
        }
        if Self::test_key_refused(headers) {
            return crate::json::error(StatusCode::UNAUTHORIZED, "the key is not valid for this request");
        }
        let Some(rate) = self.store.rate_limit() else { return answer(space_id) };
        let key = header_text(headers, wire::API_KEY);
        let key = if key.is_empty() { header_text(headers, "authorization") } else { key };
        match rate.admit(key) {
            crate::rate::Admit::Refused(response) => response,
            crate::rate::Admit::Go(announced) => {
                let mut response = answer(space_id);
                response.headers_mut().extend(announced);
                response
            }
        }
    }

    /// Counts a request to `endpoint` and applies its next scripted fault: a delay, or the
    /// answer that replaces the real one.
    pub(crate) async fn fault(&self, endpoint: Endpoint) -> Option<Response> {
        self.store.count(endpoint);
        match self.store.next_fault(endpoint) {
            Some(Fault::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                None
            }
            Some(Fault::Hang) => {
                let mut shutdown = self.shutdown.clone();
                let _ = shutdown.wait_for(|stopped| *stopped).await;
                Some(crate::json::error(StatusCode::SERVICE_UNAVAILABLE, "emulator shutting down"))
            }
            Some(fault) => fault.response(),
            None => None,
        }
    }
}

/// `403` for a request a web page of another site sent (an `Origin` not the emulator's
/// own, or `Sec-Fetch-Site: cross-site`): what `what` refuses, so no page the developer
/// visits can drive it or use up the faults a test queued. SDK clients and curl send
/// neither header.
pub(crate) fn refuse_cross_site(app: &App, headers: &HeaderMap, what: &str) -> Option<Response> {
    let origin = headers.get(header::ORIGIN).map(|origin| origin.to_str().unwrap_or("?"));
    if let Some(origin) = origin
        && !app.is_own_origin(origin)
    {
        let message = format!("{what} takes no cross-site request (Origin \"{}\")", wire::sanitize(origin));
        return Some(crate::json::error(StatusCode::FORBIDDEN, &message));
    }
    if headers.get("sec-fetch-site").is_some_and(|site| site.as_bytes() == b"cross-site") {
        return Some(crate::json::error(
            StatusCode::FORBIDDEN,
            &format!("{what} takes no cross-site request"),
        ));
    }
    None
}
