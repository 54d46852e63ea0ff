//! The emulator's JSON error answers, shared by its routes, its faults and its control API.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `{"success": false, "error": message}` with `code`, as the service answers errors.
pub(crate) fn error(code: StatusCode, message: &str) -> Response {
    (code, axum::Json(json!({ "success": false, "error": message }))).into_response()
}
