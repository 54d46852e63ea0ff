//! Fastn's connections API, as `fastn-ai`'s `auth.connect` and `auth.status` call it:
//! `POST /api/connections/initiate` starts a flow whose consent page sends the user back to
//! the app's `redirect_url`; `POST /api/connections/status` answers by connection id (the
//! flow's state) or by connector and tenant, in the API's names (`pending`, `authorized`,
//! `expired`, `failed`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::App;
use crate::key::ConnectionKey;
use fastn_auth::wire::{AuthStatus, Endpoint};

/// The connections API's name of a status.
fn api_name(status: AuthStatus) -> &'static str {
    match status {
        AuthStatus::Inactive => "pending",
        AuthStatus::Active => "authorized",
        AuthStatus::Expired => "expired",
        _ => "failed",
    }
}

fn refuse(message: &str) -> Response {
    crate::json::coded(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

/// The string field `name` of `body`, checked as an id: absent or empty is `None`.
fn field<'b>(body: &'b Value, name: &str) -> Result<Option<&'b str>, Box<Response>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => match fastn_auth_rules::id_problem(text, false) {
            Some(problem) => Err(Box::new(refuse(&format!("{name} is not a usable id: {problem}")))),
            None => Ok(Some(text)),
        },
        Some(_) => Err(Box::new(refuse(&format!("{name} must be a string")))),
    }
}

fn object(body: &Bytes) -> Result<Value, Box<Response>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(Box::new(refuse("the body must be a JSON object"))),
    }
}

pub(crate) async fn initiate(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.serve(Endpoint::ConnectionsInitiate, &headers, |space_id| {
        let answer = || -> Result<Response, Box<Response>> {
            let body = object(&body)?;
            let connector =
                field(&body, "connector")?.ok_or_else(|| Box::new(refuse("connector is required")))?;
            let tenant =
                field(&body, "tenant_id")?.ok_or_else(|| Box::new(refuse("tenant_id is required")))?;
            let redirect = body.get("redirect_url").and_then(Value::as_str).unwrap_or_default();
            match fastn_auth::Url::parse(redirect) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                _ => return Err(Box::new(refuse("redirect_url must be an absolute http(s) URL"))),
            }
            let key = ConnectionKey::new(space_id, connector).tenant_id(tenant);
            let state = app.store.start_returning(key, Some(redirect.to_owned()));
            Ok(axum::Json(json!({
                "connection_id": state,
                "auth_url": format!("{}/authorize?state={state}", app.origin),
                "status": "pending",
                "expires_in": app.store.flow_ttl().as_secs(),
            }))
            .into_response())
        };
        answer().unwrap_or_else(|refused| *refused)
    })
    .await
}

pub(crate) async fn status(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.serve(Endpoint::ConnectionsStatus, &headers, |space_id| {
        let answer = || -> Result<Response, Box<Response>> {
            let body = object(&body)?;
            let not_found = || {
                Box::new(crate::json::coded(
                    StatusCode::NOT_FOUND,
                    "CONNECTION_NOT_FOUND",
                    "no such connection",
                ))
            };
            if let Some(id) = field(&body, "connection_id")? {
                let key = app.store.flow_key(space_id, id).ok_or_else(not_found)?;
                let (status, _) = app.store.poll(space_id, id).ok_or_else(not_found)?;
                return Ok(axum::Json(json!({"connection_id": id, "connector": key.connector_id,
                    "status": api_name(status), "tenant_id": key.tenant_id}))
                .into_response());
            }
            let (Some(connector), Some(tenant)) = (field(&body, "connector")?, field(&body, "tenant_id")?)
            else {
                return Err(Box::new(refuse("give connection_id, or connector and tenant_id")));
            };
            let status = app.store.connection_status(space_id, connector, tenant).ok_or_else(not_found)?;
            Ok(axum::Json(json!({"connection_id": format!("{connector}:{tenant}"), "connector": connector,
                "status": api_name(status), "tenant_id": tenant}))
            .into_response())
        };
        answer().unwrap_or_else(|refused| *refused)
    })
    .await
}
