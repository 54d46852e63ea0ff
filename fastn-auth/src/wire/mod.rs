//! The Fastn connect API's wire format, in one place: routes, header names, the id rules,
//! the statuses, and the decoding of every answer. `docs/PROTOCOL.md` describes the same
//! facts in prose. The client's transport and the emulator both use these names; the
//! emulator keeps its own answers.
//!
//! This module depends on no other module of the crate: it reports problems as
//! [`DecodeError`] (an answer that cannot be used) or as a plain message (an id that cannot
//! be sent), and its callers turn them into [`Error`](crate::Error)s with the request's
//! context.

pub(crate) mod connections;
pub mod tools;

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The Fastn API of the official clients.
pub const DEFAULT_BASE_URL: &str = "https://live.fastn.ai/api";
/// The org used when a call names none (the official clients' default).
pub const DEFAULT_ORG_ID: &str = "community";

/// Header: the space id, on every call.
pub const SPACE_ID: &str = "x-fastn-space-id";
/// Header: the API key, when the client authenticates with one.
pub const API_KEY: &str = "x-fastn-api-key";
/// Header: `true` when the client asks for custom auth (the official client's default).
pub const CUSTOM_AUTH: &str = "x-fastn-custom-auth";
/// Header: `true` on every request made with a test key (`fsk_test_…`), which Fastn refuses
/// without it.
pub const TEST_MODE: &str = "x-fastn-test-mode";
/// Header: the tenant id, or the empty string.
pub const TENANT_ID: &str = "x-fastn-space-tenantid";
/// Header: the connection id, or the empty string.
pub const CONNECTION_ID: &str = "x-fastn-space-connection-id";

/// The longest connector, org, tenant or connection id the SDK sends, in bytes. Longer ids
/// are refused before anything is sent (HTTP stacks and proxies refuse very long request
/// lines and headers, and no Fastn id comes near this).
pub const MAX_ID_BYTES: usize = fastn_auth_rules::MAX_ID_BYTES;
/// The longest `state` accepted from the server, in bytes; longer is an invalid answer.
pub const MAX_STATE_BYTES: usize = 2048;
/// The most characters of server-sent text (`errorMessage`, an error body's `message`)
/// kept in an error; the rest is cut and control characters are escaped.
pub const MAX_SERVER_TEXT_CHARS: usize = 256;

/// The common credential fields, as `(snake_case, camelCase)` wire keys.
pub(crate) const ACCESS_TOKEN: (&str, &str) = ("access_token", "accessToken");
pub(crate) const REFRESH_TOKEN: (&str, &str) = ("refresh_token", "refreshToken");
pub(crate) const EXPIRES_AT: (&str, &str) = ("expires_at", "expiresAt");
pub(crate) const EXPIRES_IN: (&str, &str) = ("expires_in", "expiresIn");
/// A credentials field only `fastn-auth-emulator` sends: why a typed connector's required
/// fields are absent (it was given no manifest declaring the connector). A typed decode
/// that misses a required field quotes it.
pub const EMULATOR_HINT: &str = "fastn_emulator_hint";

/// Every common credential field as `(snake_case, camelCase)` wire keys — `access_token`,
/// `refresh_token`, `expires_at`, `expires_in` — as the SDK reads them in either case (the
/// emulator writes them in either).
pub const COMMON_FIELDS: [(&str, &str); 4] = [ACCESS_TOKEN, REFRESH_TOKEN, EXPIRES_AT, EXPIRES_IN];

/// A Fastn endpoint, as named in errors, tracing spans and the emulator's fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST {base}/connect/init/{org}/{connector}`: start a flow.
    Init,
    /// `GET {base}/connect/status/{state}`: poll a flow.
    Status,
    /// `GET {base}/connect/credentials/{org}/{connector}`: fetch a connection's credentials.
    Credentials,
    /// A call to a connected app's own API through [`ApiClient`](crate::ApiClient): any
    /// method, under the connector's API base URL. Not a Fastn endpoint, so not in
    /// [`Endpoint::ALL`].
    Api,
    /// `POST {base}/ucl/executeTool`: run a tool with a tenant's connection (an action:
    /// never sent twice unless the call says it is idempotent). Not in [`Endpoint::ALL`].
    ExecuteTool,
    /// `POST {base}/graphql`: the registry's queries (`tools sync`). Not in
    /// [`Endpoint::ALL`].
    Registry,
    /// `POST {base}/connections/initiate`: the connections API's flow, which sends the user
    /// back to the app. Not in [`Endpoint::ALL`].
    ConnectionsInitiate,
    /// `POST {base}/connections/status`: a connection's status by id, or by connector and
    /// tenant. Not in [`Endpoint::ALL`].
    ConnectionsStatus,
}

impl Endpoint {
    /// Every endpoint of Fastn's connect API, in protocol order.
    pub const ALL: [Endpoint; 3] = [Endpoint::Init, Endpoint::Status, Endpoint::Credentials];

    /// The route as the protocol writes it, e.g. `GET /connect/status/{state}`.
    pub const fn route(self) -> &'static str {
        match self {
            Endpoint::Init => "POST /connect/init/{org}/{connector}",
            Endpoint::Status => "GET /connect/status/{state}",
            Endpoint::Credentials => "GET /connect/credentials/{org}/{connector}",
            Endpoint::Api => "{METHOD} {api base URL}/{path}",
            Endpoint::ExecuteTool => "POST /ucl/executeTool",
            Endpoint::Registry => "POST /graphql",
            Endpoint::ConnectionsInitiate => "POST /connections/initiate",
            Endpoint::ConnectionsStatus => "POST /connections/status",
        }
    }

    /// `POST` for init, `GET` for status and credentials, `*` for API calls (any method).
    pub const fn method(self) -> &'static str {
        match self {
            Endpoint::Init
            | Endpoint::ExecuteTool
            | Endpoint::Registry
            | Endpoint::ConnectionsInitiate
            | Endpoint::ConnectionsStatus => "POST",
            Endpoint::Status | Endpoint::Credentials => "GET",
            Endpoint::Api => "*",
        }
    }

    /// The path segment after `connect/`, or the last one (`executeTool`, `graphql`).
    pub const fn verb(self) -> &'static str {
        match self {
            Endpoint::Init => "init",
            Endpoint::Status => "status",
            Endpoint::Credentials => "credentials",
            Endpoint::Api => "api",
            Endpoint::ExecuteTool => "executeTool",
            Endpoint::Registry => "graphql",
            Endpoint::ConnectionsInitiate => "initiate",
            Endpoint::ConnectionsStatus => "connection-status",
        }
    }

    /// The last segment of the path (`initiate`, `status` of the connections API).
    pub(crate) const fn verb_path(self) -> &'static str {
        match self {
            Endpoint::ConnectionsStatus => "status",
            other => other.verb(),
        }
    }

    /// Whether sending the request twice has the effect of sending it once.
    pub(crate) const fn is_idempotent(self) -> bool {
        matches!(
            self,
            Endpoint::Status | Endpoint::Credentials | Endpoint::Registry | Endpoint::ConnectionsStatus
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.route())
    }
}

/// One call: the endpoint and its path parameters, in path order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route<'a> {
    Init { org: &'a str, connector: &'a str },
    Status { state: &'a str },
    Credentials { org: &'a str, connector: &'a str },
}

impl<'a> Route<'a> {
    pub(crate) fn endpoint(self) -> Endpoint {
        match self {
            Route::Init { .. } => Endpoint::Init,
            Route::Status { .. } => Endpoint::Status,
            Route::Credentials { .. } => Endpoint::Credentials,
        }
    }

    /// The path parameters with their names, for checks and for building the path.
    pub(crate) fn params(self) -> impl Iterator<Item = (&'static str, &'a str)> {
        let params = match self {
            Route::Init { org, connector } | Route::Credentials { org, connector } => {
                [Some(("org_id", org)), Some(("connector_id", connector))]
            }
            Route::Status { state } => [Some(("state", state)), None],
        };
        params.into_iter().flatten()
    }
}

/// Where a flow stands, as `GET /connect/status/{state}` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum AuthStatus {
    /// Started; waiting for the user to authorize.
    Inactive,
    /// Connected: credentials can be fetched.
    Active,
    /// The flow failed, or the connection's last check was refused (revoked access, a
    /// changed password): the tenant connects again.
    Failed,
    /// The connection's credential ran out and could not be refreshed: final, the tenant
    /// connects again.
    Expired,
}

impl AuthStatus {
    /// The wire name: `INACTIVE`, `ACTIVE`, `FAILED` or `EXPIRED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthStatus::Inactive => "INACTIVE",
            AuthStatus::Active => "ACTIVE",
            AuthStatus::Failed => "FAILED",
            AuthStatus::Expired => "EXPIRED",
        }
    }

    /// The status of a wire name, in any case (`ACTIVE`, `Active`), and the connections
    /// API's names (`pending`, `authorized`, `expired`); `None` for any other string.
    pub fn from_wire(name: &str) -> Option<Self> {
        let known = [AuthStatus::Inactive, AuthStatus::Active, AuthStatus::Failed, AuthStatus::Expired];
        known.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(name)).or_else(|| {
            match name.to_ascii_lowercase().as_str() {
                "pending" => Some(AuthStatus::Inactive),
                "authorized" => Some(AuthStatus::Active),
                _ => None,
            }
        })
    }

    /// Whether the flow has ended, successfully or not.
    pub const fn is_final(self) -> bool {
        !matches!(self, AuthStatus::Inactive)
    }
}

impl fmt::Display for AuthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an id cannot be sent, or `None` when it can: the rules of
/// [`fastn_auth_rules::id_problem`], which the manifest checker applies too.
pub(crate) use fastn_auth_rules::id_problem;

/// Server text made safe for messages and logs: at most [`MAX_SERVER_TEXT_CHARS`]
/// characters, control characters (line breaks, ANSI escapes) and bidirectional overrides
/// escaped.
pub fn sanitize(text: &str) -> String {
    fastn_auth_rules::escape(text, MAX_SERVER_TEXT_CHARS)
}

/// What a non-2xx answer of Fastn says: its error code and message, and the `retryAfter` of
/// its envelope.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FastnError {
    /// The code, canonical ([`canonical_code`]): `RATE_LIMITED`, `CONN-REFRESH-FAILED`, …
    pub(crate) code: Option<String>,
    /// The message, sanitised.
    pub(crate) message: Option<String>,
    /// `retryAfter`, in seconds, at most a day.
    pub(crate) retry_after: Option<std::time::Duration>,
}

/// The longest code kept; a longer one is not a code.
const MAX_CODE_BYTES: usize = 64;

/// Reads Fastn's error answer in each of its shapes: the documented envelope `{"error":
/// {"code", "message", "retryAfter"?}}`, the older `{"error": "CODE", "message"}` and
/// `{"code": "CODE", "statusCode", "message"}`, and bodies with only a message (`message`,
/// `error`, `errorMessage` or `error_description`). An HTML page or other text says nothing.
pub(crate) fn fastn_error(body: &[u8]) -> FastnError {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else { return FastnError::default() };
    fn text(value: Option<&Value>) -> Option<&str> {
        value.and_then(Value::as_str).filter(|text| !text.trim().is_empty())
    }
    let (code, message, retry_after) = match map.get("error") {
        Some(Value::Object(envelope)) => {
            (text(envelope.get("code")), text(envelope.get("message")), envelope.get("retryAfter"))
        }
        Some(Value::String(said)) if is_code(said) => (Some(said.as_str()), text(map.get("message")), None),
        _ => (text(map.get("code")).filter(|code| is_code(code)), None, None),
    };
    let message = message.or_else(|| {
        ["message", "error", "errorMessage", "error_description"].iter().find_map(|key| text(map.get(*key)))
    });
    FastnError {
        code: code.filter(|code| is_code(code)).map(canonical_code),
        message: message.map(sanitize),
        retry_after: retry_after
            .and_then(Value::as_u64)
            .map(|secs| std::time::Duration::from_secs(secs.min(86_400))),
    }
}

/// Whether `text` is an error code: `RATE_LIMITED`, `CONN-AUTH-FAILED` (capitals, digits,
/// `_` and `-`, at most 64 bytes).
pub(crate) fn is_code(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_CODE_BYTES
        && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A code by its current name: the legacy aliases some paths still return are mapped
/// (`CONNECTOR_REFRESH_FAILED` → `CONN-REFRESH-FAILED`).
pub(crate) fn canonical_code(code: &str) -> String {
    match code {
        "CONNECTOR_AUTH_FAILED" => "CONN-AUTH-FAILED",
        "CONNECTOR_REFRESH_FAILED" => "CONN-REFRESH-FAILED",
        "CONNECTOR_EXEC_FAILED" => "CONN-EXEC-FAILED",
        other => other,
    }
    .to_owned()
}

/// Why a 2xx answer cannot be used: what was expected and what came, never a secret value.
/// The source, when there is one, is the JSON parser's error.
#[derive(Debug)]
#[non_exhaustive]
pub struct DecodeError {
    message: String,
    source: Option<serde_json::Error>,
}

impl DecodeError {
    /// An error with this description.
    pub fn new(message: impl Into<String>) -> Self {
        DecodeError { message: message.into(), source: None }
    }

    fn json(message: impl Into<String>, source: serde_json::Error) -> Self {
        DecodeError { message: message.into(), source: Some(source) }
    }

    /// The description, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn into_parts(self) -> (String, Option<serde_json::Error>) {
        (self.message, self.source)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// How a JSON value is described in messages: its kind, never its content.
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

/// A body that must be a JSON object.
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(DecodeError::new(format!("expected a JSON object, got {}", json_kind(&other)))),
        Err(e) => {
            let looks_html = body.trim_ascii_start().starts_with(b"<");
            let what = if looks_html { "an HTML page" } else { "a body that is not JSON" };
            Err(DecodeError::json(format!("expected a JSON object, got {what} ({} bytes)", body.len()), e))
        }
    }
}

/// The answer of `POST /connect/init/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitAnswer {
    pub(crate) state: String,
    pub(crate) redirect_url: Option<url::Url>,
}

pub(crate) fn decode_init(body: &[u8]) -> Result<InitAnswer, DecodeError> {
    let mut body = parse_object(body)?;
    let state = required_string(&mut body, "state")?;
    if state.len() > MAX_STATE_BYTES {
        return Err(DecodeError::new(format!(
            "`state` is {} bytes long, more than the {MAX_STATE_BYTES} accepted",
            state.len()
        )));
    }
    if let Some(problem) = id_problem(&state, true) {
        return Err(DecodeError::new(format!(
            "`state` {:?} is not a usable id: {problem}",
            sanitize(&state)
        )));
    }
    let redirect_url = match optional_string(&mut body, "redirectUrl")? {
        None => None,
        Some(text) if text.is_empty() => None,
        Some(text) => Some(redirect_url(&text)?),
    };
    Ok(InitAnswer { state, redirect_url })
}

/// The user's browser goes to the redirect URL: only `http(s)` (no `javascript:`, `data:`).
fn redirect_url(text: &str) -> Result<url::Url, DecodeError> {
    browser_url("redirectUrl", text)
}

/// A URL a user's browser is sent to, from the field `field`: only `http(s)` (no
/// `javascript:`, `data:`).
pub(crate) fn browser_url(field: &str, text: &str) -> Result<url::Url, DecodeError> {
    let invalid = |why: &str| DecodeError::new(format!("`{field}` {:?} {why}", sanitize(text)));
    let url = url::Url::parse(text).map_err(|_| invalid("is not an absolute URL"))?;
    match url.scheme() {
        "https" | "http" => Ok(url),
        _ => Err(invalid("is not an http(s) URL")),
    }
}

/// The answer of `GET /connect/status/{state}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusAnswer {
    pub(crate) status: AuthStatus,
    /// Sanitised.
    pub(crate) error_message: Option<String>,
}

pub(crate) fn decode_status(body: &[u8]) -> Result<StatusAnswer, DecodeError> {
    let mut body = parse_object(body)?;
    let status = required_string(&mut body, "status")?;
    let status = AuthStatus::from_wire(&status).ok_or_else(|| {
        DecodeError::new(format!(
            "unknown status {:?}, expected INACTIVE, ACTIVE, FAILED or EXPIRED",
            sanitize(&status)
        ))
    })?;
    let error_message = optional_string(&mut body, "errorMessage")?.map(|text| sanitize(&text));
    Ok(StatusAnswer { status, error_message })
}

/// The common fields of a credentials answer, read leniently like the official client: an
/// unreadable one is dropped with a warning rather than failing the whole answer.
#[derive(Debug, Default)]
pub(crate) struct CommonFields {
    pub(crate) access_token: Option<String>,
    pub(crate) refresh_token: Option<String>,
    /// How long the access token lives from now; zero when already expired.
    pub(crate) lifetime: Option<Duration>,
}

/// Splits a credentials answer (the `{"success": true, "credentials": {…}}` envelope or the
/// bare object) into its common fields and the rest.
pub(crate) fn decode_credentials(
    connector: &str,
    body: &[u8],
) -> Result<(CommonFields, Map<String, Value>), DecodeError> {
    let mut map = unwrap_envelope(parse_object(body)?);
    let now = SystemTime::now();
    let mut take = |(snake, camel): (&'static str, &'static str)| {
        let value = map.remove(snake).filter(|v| !v.is_null());
        let other = map.remove(camel).filter(|v| !v.is_null());
        value.map(|v| (snake, v)).or(other.map(|v| (camel, v)))
    };
    let access = take(ACCESS_TOKEN);
    let refresh = take(REFRESH_TOKEN);
    let at = take(EXPIRES_AT);
    let expires_in = take(EXPIRES_IN);
    let lenient = |field: Option<(&str, Value)>, read: fn(&Value, SystemTime) -> Option<Duration>| {
        field.and_then(|(key, value)| {
            let read = read(&value, now);
            if read.is_none() {
                tracing::warn!(
                    connector,
                    field = key,
                    got = json_kind(&value),
                    "unreadable credential field dropped"
                );
            }
            read
        })
    };
    let text = |field: Option<(&str, Value)>| match field? {
        (_, Value::String(text)) => Some(text),
        (key, other) => {
            tracing::warn!(
                connector,
                field = key,
                got = json_kind(&other),
                "unreadable credential field dropped"
            );
            None
        }
    };
    let from_at = lenient(at, read_expires_at);
    let from_in = lenient(expires_in, |value, _| read_expires_in(value));
    let common = CommonFields {
        access_token: text(access),
        refresh_token: text(refresh),
        // Both present: trust the earlier, a token is better refreshed early than late.
        lifetime: match (from_at, from_in) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
    };
    Ok((common, map))
}

/// The envelope is used when `success` is true and `credentials` a non-empty object, as in
/// the official client 1.0.5; otherwise the body is the credentials.
fn unwrap_envelope(mut body: Map<String, Value>) -> Map<String, Value> {
    let enveloped = body.get("success") == Some(&Value::Bool(true))
        && matches!(body.get("credentials"), Some(Value::Object(inner)) if !inner.is_empty());
    if !enveloped {
        return body;
    }
    match body.remove("credentials") {
        Some(Value::Object(inner)) => inner,
        _ => body,
    }
}

/// `expires_in`: seconds as an integer, a float, or a string of either; negative means
/// already expired.
fn read_expires_in(value: &Value) -> Option<Duration> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    seconds.is_finite().then(|| Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX))
}

/// `expires_at`: an RFC 3339 timestamp, or epoch seconds or milliseconds (a number or a
/// string of digits). The result is the time left from `now`, zero when past.
fn read_expires_at(value: &Value, now: SystemTime) -> Option<Duration> {
    let at = match value {
        Value::Number(n) => epoch(n.as_f64()?)?,
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(number) => epoch(number)?,
            Err(_) => {
                let at = s.trim().parse::<jiff::Timestamp>().ok()?;
                let nanos = u64::try_from(at.as_nanosecond()).ok()?;
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))?
            }
        },
        _ => return None,
    };
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Epoch seconds, or milliseconds when the number is too large to be seconds (after the
/// year 5138).
fn epoch(number: f64) -> Option<SystemTime> {
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let seconds = if number >= 1e11 { number / 1000.0 } else { number };
    SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(seconds).ok()?)
}

/// Takes the string field `key`, which must be present.
pub(crate) fn required_string(body: &mut Map<String, Value>, key: &str) -> Result<String, DecodeError> {
    optional_string(body, key)?
        .ok_or_else(|| DecodeError::new(format!("the required field `{key}` is missing")))
}

/// Takes the string field `key`; `None` when absent or null.
pub(crate) fn optional_string(
    body: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<String>, DecodeError> {
    match body.remove(key) {
        Some(Value::String(text)) => Ok(Some(text)),
        None | Some(Value::Null) => Ok(None),
        Some(other) => Err(DecodeError::new(format!("`{key}` must be a string, got {}", json_kind(&other)))),
    }
}

/// A GraphQL answer's `data` object, or the first of its `errors` (sanitised).
pub(crate) fn decode_graphql(body: &[u8]) -> Result<serde_json::Value, DecodeError> {
    use serde_json::Value;
    let answer: Value =
        serde_json::from_slice(body).map_err(|err| DecodeError::new(format!("not JSON: {err}")))?;
    if let Some(first) = answer.get("errors").and_then(Value::as_array).and_then(|errors| errors.first()) {
        let said = first["message"].as_str().map_or_else(|| "no message".to_owned(), sanitize);
        return Err(DecodeError::new(format!("the query failed: {said}")));
    }
    match answer {
        Value::Object(mut answer) => match answer.remove("data") {
            Some(data @ Value::Object(_)) => Ok(data),
            _ => Err(DecodeError::new("no `data` object in the answer")),
        },
        _ => Err(DecodeError::new("no `data` object in the answer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(json: &str) -> (CommonFields, Map<String, Value>) {
        decode_credentials("salesforce", json.as_bytes()).unwrap()
    }

    #[test]
    fn status_decodes_and_sanitises_the_message() {
        let answer = decode_status(br#"{"status":"FAILED","errorMessage":"no\n\u001b[31mforged"}"#).unwrap();
        assert_eq!(answer.status, AuthStatus::Failed);
        assert_eq!(answer.error_message.as_deref(), Some("no\\n\\u{1b}[31mforged"));
        let long = format!(r#"{{"status":"FAILED","errorMessage":"{}"}}"#, "x".repeat(900_000));
        let message = decode_status(long.as_bytes()).unwrap().error_message.unwrap();
        assert_eq!(message.chars().count(), MAX_SERVER_TEXT_CHARS + 1, "cut, with an ellipsis");
    }

    #[test]
    fn bad_status_bodies_name_the_problem() {
        for (body, expected) in [
            (r#"{"state":"x"}"#, "the required field `status` is missing"),
            (r#"{"status":7}"#, "`status` must be a string, got a number"),
            (r#"{"status":"PENDING_REVIEW"}"#, "unknown status \"PENDING_REVIEW\""),
            (r#"{"status":"ACTIVE","errorMessage":[]}"#, "`errorMessage` must be a string"),
            ("[1]", "expected a JSON object, got an array"),
            ("<html>", "expected a JSON object, got an HTML page"),
        ] {
            let err = decode_status(body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }
        let err = decode_status(b"{").unwrap_err();
        assert!(std::error::Error::source(&err).is_some(), "the JSON error is chained");
    }

    #[test]
    fn init_refuses_unusable_states_and_redirects() {
        for body in [
            r#"{"redirectUrl":"https://x"}"#.to_owned(),
            r#"{"state":5}"#.to_owned(),
            r#"{"state":".."}"#.to_owned(),
            r#"{"state":""}"#.to_owned(),
            r#"{"state":"a\u0000b"}"#.to_owned(),
            format!(r#"{{"state":"{}"}}"#, "s".repeat(100_000)),
            r#"{"state":"s","redirectUrl":"javascript:alert(1)"}"#.to_owned(),
            r#"{"state":"s","redirectUrl":"/relative"}"#.to_owned(),
        ] {
            assert!(decode_init(body.as_bytes()).is_err(), "{}", &body[..body.len().min(80)]);
        }
        let ok = decode_init(br#"{"state":"abc","redirectUrl":"https://x/y?z=1"}"#).unwrap();
        assert_eq!(ok.redirect_url.unwrap().as_str(), "https://x/y?z=1");
        assert_eq!(decode_init(br#"{"state":"abc"}"#).unwrap().redirect_url, None);
    }

    #[test]
    fn expires_in_is_read_as_leniently_as_the_official_client() {
        for (raw, seconds) in [("3599", 3599.0), ("\"3599\"", 3599.0), ("3599.0", 3599.0), ("-1", 0.0)] {
            let (fields, _) = common(&format!(r#"{{"access_token":"t","expires_in":{raw}}}"#));
            assert_eq!(fields.lifetime, Some(Duration::from_secs_f64(seconds)), "{raw}");
        }
        let (fields, rest) = common(r#"{"access_token":"t","expires_in":"soon","refresh_token":5}"#);
        assert_eq!(
            (fields.lifetime, fields.refresh_token, fields.access_token.as_deref()),
            (None, None, Some("t"))
        );
        assert!(rest.is_empty(), "dropped fields do not leak into extra: {rest:?}");
    }

    #[test]
    fn expires_at_takes_rfc3339_and_epoch_seconds_or_milliseconds() {
        let future = SystemTime::now() + Duration::from_secs(7200);
        let secs = future.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let rfc = jiff::Timestamp::try_from(future).unwrap().to_string();
        let offset =
            jiff::Timestamp::try_from(future).unwrap().display_with_offset(jiff::tz::offset(2)).to_string();
        assert!(offset.ends_with("+02:00"), "{offset}");
        for raw in [
            format!("{secs}"),
            format!("\"{secs}\""),
            format!("{}", secs * 1000),
            format!("\"{rfc}\""),
            format!("\"{offset}\""),
        ] {
            let (fields, _) = common(&format!(r#"{{"expires_at":{raw}}}"#));
            let left = fields.lifetime.unwrap_or_else(|| panic!("{raw}"));
            assert!(left > Duration::from_secs(7100) && left <= Duration::from_secs(7200), "{raw}: {left:?}");
        }
        let (past, _) = common(r#"{"expiresAt":"2001-01-01T00:00:00Z"}"#);
        assert_eq!(past.lifetime, Some(Duration::ZERO));
        let (both, _) = common(r#"{"expires_at":"2001-01-01T00:00:00Z","expires_in":3600}"#);
        assert_eq!(both.lifetime, Some(Duration::ZERO), "the earlier expiry wins");
    }

    #[test]
    fn envelope_only_when_successful_and_non_empty() {
        let (fields, rest) = common(r#"{"success":true,"credentials":{"access_token":"a","team":"t"}}"#);
        assert_eq!((fields.access_token.as_deref(), rest.len()), (Some("a"), 1));
        let (fields, rest) =
            common(r#"{"success":false,"credentials":{"access_token":"x"},"access_token":"y"}"#);
        assert_eq!(fields.access_token.as_deref(), Some("y"));
        assert!(rest.contains_key("credentials"));
    }

    #[test]
    fn ids_are_bounded_and_clean() {
        assert_eq!(id_problem("google-sheets", true), None);
        assert_eq!(id_problem("Acme GmbH · Zürich", false), None);
        for (bad, segment) in [
            ("", false),
            (".", true),
            ("..", true),
            ("a\tb", false),
            ("\u{85}", false),
            (" acme", false),
            ("acme ", false),
        ] {
            assert!(id_problem(bad, segment).is_some(), "{bad:?}");
        }
        assert!(id_problem(&"x".repeat(MAX_ID_BYTES), true).is_none());
        assert!(id_problem(&"x".repeat(MAX_ID_BYTES + 1), true).unwrap().contains("more than 512"));
    }

    #[test]
    fn fastns_error_shapes_give_their_code_message_and_wait() {
        let read = |body: &str| fastn_error(body.as_bytes());
        let documented =
            read(r#"{"error": {"code": "RATE_LIMITED", "message": "slow down", "retryAfter": 12}}"#);
        assert_eq!(documented.code.as_deref(), Some("RATE_LIMITED"));
        assert_eq!(documented.message.as_deref(), Some("slow down"));
        assert_eq!(documented.retry_after, Some(std::time::Duration::from_secs(12)));
        let older = read(r#"{"error": "CONNECTOR_REFRESH_FAILED", "message": "reconnect"}"#);
        assert_eq!(
            (older.code.as_deref(), older.message.as_deref()),
            (Some("CONN-REFRESH-FAILED"), Some("reconnect"))
        );
        let coded = read(r#"{"code": "DATASOURCE_CONNECTION_ERROR", "statusCode": 400}"#);
        assert_eq!(coded.code.as_deref(), Some("DATASOURCE_CONNECTION_ERROR"));
        let hostile = read(r#"{"error": {"code": "not a code\u001b[31m", "retryAfter": 99999999999}}"#);
        assert_eq!(hostile.code, None);
        assert_eq!(hostile.retry_after, Some(std::time::Duration::from_secs(86_400)));
        assert_eq!(read("<html>").code, None);
    }

    fn server_message(body: &[u8]) -> Option<String> {
        fastn_error(body).message
    }

    #[test]
    fn server_messages_come_from_json_only() {
        assert_eq!(
            server_message(br#"{"success":false,"error":"unknown state"}"#).as_deref(),
            Some("unknown state")
        );
        assert_eq!(server_message(br#"{"message":"a\r\nb"}"#).as_deref(), Some("a\\r\\nb"));
        assert_eq!(server_message(b"<html>502 Bad Gateway</html>"), None);
        assert_eq!(server_message(br#"{"error":{"nested":1}}"#), None);
    }
}
