//! The emulator's control API over HTTP, under `/_emulator/`: what [`MockServer`]'s methods
//! do, for scripts and test suites in any language. JSON in and out; the handlers call the
//! same store functions as the Rust methods.
//!
//! [`MockServer`]: crate::MockServer

use crate::key::ConnectionBreak;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::faults::{FaultSpec, MAX_FAULT_TIMES};
use crate::key::ConnectionKey;
use crate::store::Store;

/// The control routes, on the store.
pub(crate) fn routes() -> Router<Arc<Store>> {
    Router::new()
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/requests", get(requests).delete(clear_requests))
        .route("/_emulator/flows/{state}/approve", post(approve))
        .route("/_emulator/flows/{state}/deny", post(deny))
        .route("/_emulator/credentials/{connector}", put(set_credentials))
        .route("/_emulator/connections", post(insert_connection))
        .route("/_emulator/connections/rotate", post(rotate))
        .route("/_emulator/connections/revoke", post(revoke))
        .route("/_emulator/connections/expire", post(expire))
        .route("/_emulator/connections/break", post(break_connection))
        .route("/_emulator/faults", post(inject).delete(clear_faults))
        .route("/_emulator/rate-limit", put(set_rate_limit).delete(clear_rate_limit))
        .route("/_emulator/prompts", put(answer_prompt))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/{*rest}", delete(unknown).get(unknown).post(unknown).put(unknown))
}

type Shared = State<Arc<Store>>;

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A JSON body, or what a 400 says: what was expected and what was wrong.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|err| format!("expected {expected}: {err}"))
}

fn bad_request(message: &str) -> Response {
    crate::json::error(StatusCode::BAD_REQUEST, message)
}

async fn stats(State(store): Shared) -> Response {
    axum::Json(store.stats()).into_response()
}

async fn requests(State(store): Shared) -> Response {
    let requests: Vec<Value> = store
        .requests()
        .iter()
        .map(|request| {
            let headers: Map<String, Value> = request
                .redacted_headers()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), json!(value)))
                .collect();
            json!({ "method": request.method, "path": request.redacted_path(), "headers": headers })
        })
        .collect();
    axum::Json(requests).into_response()
}

async fn clear_requests(State(store): Shared) -> Response {
    store.clear_requests();
    no_content()
}

async fn approve(State(store): Shared, Path(state): Path<String>) -> Response {
    decided(store.decide(&state, None, true, ""), &state)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Deny {
    message: Option<String>,
}

async fn deny(State(store): Shared, Path(state): Path<String>, body: axum::body::Bytes) -> Response {
    let deny: Deny = if body.is_empty() {
        Deny::default()
    } else {
        match parse(&body, r#"{"message": "…"} or no body"#) {
            Ok(deny) => deny,
            Err(message) => return bad_request(&message),
        }
    };
    let message = deny.message.as_deref().unwrap_or(crate::DENIED_MESSAGE);
    decided(store.decide(&state, None, false, message), &state)
}

fn decided(done: bool, state: &str) -> Response {
    if done {
        no_content()
    } else {
        crate::json::error(StatusCode::NOT_FOUND, &format!("no pending flow with state {state:?}"))
    }
}

async fn set_credentials(
    State(store): Shared,
    Path(connector): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    match parse::<Map<String, Value>>(&body, "a JSON object of credentials") {
        Ok(credentials) => {
            store.set_template(&connector, credentials);
            no_content()
        }
        Err(message) => bad_request(&message),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConnection {
    space_id: String,
    connector_id: String,
    org_id: Option<String>,
    tenant_id: Option<String>,
    connection_id: Option<String>,
    credentials: Option<Map<String, Value>>,
}

async fn insert_connection(State(store): Shared, body: axum::body::Bytes) -> Response {
    let expected =
        r#"{"space_id", "connector_id", "org_id"?, "tenant_id"?, "connection_id"?, "credentials"?}"#;
    let new: NewConnection = match parse(&body, expected) {
        Ok(new) => new,
        Err(message) => return bad_request(&message),
    };
    let mut key = ConnectionKey::new(new.space_id, new.connector_id);
    if let Some(org) = new.org_id {
        key = key.org_id(org);
    }
    if let Some(tenant) = new.tenant_id {
        key = key.tenant_id(tenant);
    }
    if let Some(connection) = new.connection_id {
        key = key.connection_id(connection);
    }
    let credentials = store.insert_connection(key, new.credentials);
    (StatusCode::CREATED, axum::Json(credentials)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Inject {
    endpoint: String,
    fault: FaultSpec,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

async fn inject(State(store): Shared, body: axum::body::Bytes) -> Response {
    let expected = r#"{"endpoint": "init" | "status" | "credentials" | "api" | "executeTool" | "graphql" | "initiate" | "connection-status", "fault": {"kind": …}, "times"?: N}"#;
    let inject: Inject = match parse(&body, expected) {
        Ok(inject) => inject,
        Err(message) => return bad_request(&message),
    };
    let Some(endpoint) = crate::store::ENDPOINTS.into_iter().find(|e| e.verb() == inject.endpoint) else {
        let message = format!(
            "unknown endpoint \"{}\", expected init, status, credentials, api, executeTool or graphql",
            fastn_auth::wire::sanitize(&inject.endpoint)
        );
        return bad_request(&message);
    };
    if inject.times > MAX_FAULT_TIMES {
        return bad_request(&format!("times is {}, at most {MAX_FAULT_TIMES}", inject.times));
    }
    let fault = match inject.fault.check() {
        Ok(fault) => fault,
        Err(message) => return bad_request(&message),
    };
    store.inject(endpoint, fault, inject.times);
    no_content()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tenant {
    connector_id: String,
    tenant_id: String,
}

const TENANT: &str = r#"{"connector_id": "…", "tenant_id": "…"}"#;

/// `POST /_emulator/connections/rotate`: new tokens for a tenant's connections.
async fn rotate(State(store): Shared, body: axum::body::Bytes) -> Response {
    match parse::<Tenant>(&body, TENANT) {
        Ok(tenant) => changed(store.rotate_token(&tenant.connector_id, &tenant.tenant_id)),
        Err(message) => bad_request(&message),
    }
}

/// `POST /_emulator/connections/revoke`: a tenant's connections gone.
async fn revoke(State(store): Shared, body: axum::body::Bytes) -> Response {
    match parse::<Tenant>(&body, TENANT) {
        Ok(tenant) => changed(store.revoke(&tenant.connector_id, &tenant.tenant_id)),
        Err(message) => bad_request(&message),
    }
}

/// `POST /_emulator/connections/expire`: a tenant's connections expired (their refresh
/// failed: credentials answer `CONN-REFRESH-FAILED`).
async fn expire(State(store): Shared, body: axum::body::Bytes) -> Response {
    match parse::<Tenant>(&body, TENANT) {
        Ok(tenant) => {
            changed(store.break_connection(&tenant.connector_id, &tenant.tenant_id, ConnectionBreak::Expired))
        }
        Err(message) => bad_request(&message),
    }
}

#[derive(serde::Deserialize)]
struct BreakBody {
    connector_id: String,
    tenant_id: String,
    kind: ConnectionBreak,
}

/// `POST /_emulator/connections/break`: a tenant's connections broken as `kind` says
/// (`expired`, `refresh_failed`, `revoked`, `deleted`).
async fn break_connection(State(store): Shared, body: axum::body::Bytes) -> Response {
    const EXPECTED: &str = r#"{"connector_id": "…", "tenant_id": "…", "kind": "expired" | "refresh_failed" | "revoked" | "deleted"}"#;
    match parse::<BreakBody>(&body, EXPECTED) {
        Ok(broken) => changed(store.break_connection(&broken.connector_id, &broken.tenant_id, broken.kind)),
        Err(message) => bad_request(&message),
    }
}

/// 200 with how many connections changed, or 404 when none did.
fn changed(count: usize) -> Response {
    if count == 0 {
        return crate::json::error(StatusCode::NOT_FOUND, "no connection of this connector and tenant");
    }
    axum::Json(json!({ "connections": count })).into_response()
}

#[derive(serde::Deserialize)]
struct PromptBody {
    prompt: String,
    parameters: serde_json::Value,
}

/// `PUT /_emulator/prompts` `{"prompt": "…", "parameters": {…}}`: what `getTools` gives its
/// top tool for exactly that prompt.
async fn answer_prompt(State(store): Shared, body: axum::body::Bytes) -> Response {
    match parse::<PromptBody>(&body, r#"{"prompt": "…", "parameters": {…}}"#) {
        Ok(PromptBody { prompt, parameters }) => {
            store.answer_prompt(&prompt, parameters);
            no_content()
        }
        Err(message) => bad_request(&message),
    }
}

#[derive(serde::Deserialize)]
struct RateLimitBody {
    limit: u64,
    window_secs: u64,
}

/// `PUT /_emulator/rate-limit` `{"limit": N, "window_secs": S}`: a rate limit per key from
/// now on (at least 1 request, a window of at least 1 s).
async fn set_rate_limit(State(store): Shared, body: axum::body::Bytes) -> Response {
    const EXPECTED: &str = r#"{"limit": N ≥ 1, "window_secs": S ≥ 1}"#;
    match parse::<RateLimitBody>(&body, EXPECTED) {
        Ok(RateLimitBody { limit, window_secs }) if limit >= 1 && (1..=86_400).contains(&window_secs) => {
            store.set_rate_limit(Some((limit, std::time::Duration::from_secs(window_secs))));
            no_content()
        }
        Ok(_) => bad_request(&format!("expected {EXPECTED}, a window of at most a day")),
        Err(message) => bad_request(&message),
    }
}

/// `DELETE /_emulator/rate-limit`: no rate limit from now on.
async fn clear_rate_limit(State(store): Shared) -> Response {
    store.set_rate_limit(None);
    no_content()
}

async fn clear_faults(State(store): Shared) -> Response {
    store.clear_faults();
    no_content()
}

async fn reset(State(store): Shared) -> Response {
    store.reset();
    no_content()
}

async fn unknown() -> Response {
    crate::json::error(
        StatusCode::NOT_FOUND,
        "no such control route; see docs/emulator.md, \"Driving the emulator over HTTP\"",
    )
}
