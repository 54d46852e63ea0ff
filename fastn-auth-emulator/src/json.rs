//! The emulator's JSON error answers, shared by its routes, its faults and its control API.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer as Fastn documents it: `{"error": {"code", "message"}}`, the code the
/// one its documentation derives from the status (`NOT_FOUND` for 404, …).
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    coded(status, code_of(status), message)
}

/// An error answer with its own `code`, in the documented envelope.
pub(crate) fn coded(status: StatusCode, code: &str, message: &str) -> Response {
    coded_with(status, code, message, None)
}

/// [`coded`] with the envelope's `retryAfter`, in seconds.
pub(crate) fn coded_with(
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    let mut error = json!({ "code": code, "message": message });
    if let Some(secs) = retry_after {
        error["retryAfter"] = secs.into();
    }
    (status, axum::Json(json!({ "success": false, "error": error }))).into_response()
}

/// The code Fastn's documentation gives an error answer without one of its own.
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "VALIDATION_ERROR",
        401 => "AUTH_INVALID",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        408 | 504 => "TIMEOUT",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        429 => "RATE_LIMITED",
        502 => "UPSTREAM_ERROR",
        503 => "SERVICE_UNAVAILABLE",
        _ => "INTERNAL_ERROR",
    }
}
