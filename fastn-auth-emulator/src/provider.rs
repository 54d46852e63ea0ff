//! Every connector's own API, under `/_provider/{connector}/…`: a token check where the
//! manifest's `api:` block places it, then a JSON echo of the request.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::{App, header_text, refuse_cross_site};
use fastn_auth::wire::Endpoint;

/// The largest request body the provider API reads.
const MAX_PROVIDER_BODY: usize = 1024 * 1024;

/// A connector's own API, as `/_provider/{connector}/{path}`: 401 `invalid_token` unless
/// the request carries a connection's current token where the manifest says; else 200
/// with a JSON echo of the request (its token left out) and whose connection it was.
pub(crate) async fn provider(
    State(app): State<Arc<App>>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    request: Request,
) -> Response {
    use fastn_auth_codegen::manifest::TokenPlacement as Token;
    if let Some(refused) = refuse_cross_site(&app, request.headers(), "the provider API") {
        return refused;
    }
    if let Some(response) = app.fault(Endpoint::Api).await {
        return response;
    }
    let connector = params.get("connector").cloned().unwrap_or_default();
    let (parts, body) = request.into_parts();
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let token_spec = app.store.declared.token(&connector);
    let (presented, token_header, token_param) = match token_spec {
        Token::Bearer => (
            header_text(&parts.headers, "authorization").strip_prefix("Bearer "),
            Some("authorization"),
            None,
        ),
        Token::Header { name, prefix, .. } => {
            (header_text(&parts.headers, name).strip_prefix(prefix.as_ref()), Some(name.as_ref()), None)
        }
        Token::Query { name, .. } => (
            pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()),
            None,
            Some(name.as_ref()),
        ),
    };
    let Some(key) = presented.and_then(|token| app.store.connection_with_token(&connector, token)) else {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "invalid_token" }))).into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_PROVIDER_BODY).await else {
        return crate::json::error(StatusCode::PAYLOAD_TOO_LARGE, "the body is over 1 MiB");
    };
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        if token_header.is_some_and(|token| name.as_str().eq_ignore_ascii_case(token)) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(held)) => {
                held.push_str(", ");
                held.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), value.into());
            }
        }
    }
    let query: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .filter(|(key, _)| Some(key.as_str()) != token_param)
        .map(|(key, value)| (key, value.into()))
        .collect();
    let body = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(json) => json,
        Err(_) if body.is_empty() => serde_json::Value::Null,
        Err(_) => String::from_utf8_lossy(&body).into_owned().into(),
    };
    let path = format!("/{}", params.get("rest").map_or("", String::as_str));
    axum::Json(json!({
        "method": parts.method.as_str(),
        "path": path,
        "query": query,
        "headers": headers,
        "body": body,
        "connector_id": key.connector_id,
        "tenant_id": key.tenant_id,
    }))
    .into_response()
}
