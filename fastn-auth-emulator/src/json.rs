//! The emulator's JSON error answers, shared by its routes, its faults and its control API.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::ErrorShape;

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

/// The most bytes of an error answer [`reshaped`] reads: the emulator's own are far smaller.
const MAX_RESHAPED: usize = 64 * 1024;

/// `response` in `shape`: an error answer in the documented envelope rewritten into an
/// older shape; any other answer (a success, a scripted fault's own body) as it is.
pub(crate) async fn reshaped(response: Response, shape: ErrorShape) -> Response {
    if shape == ErrorShape::Documented || response.status().as_u16() < 400 {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_RESHAPED).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "an error answer too large to reshape").into_response();
    };
    let envelope = serde_json::from_slice::<Value>(&bytes).ok();
    let error = envelope.as_ref().and_then(|e| e.get("error")).filter(|e| e.is_object());
    let Some(error) = error else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let (code, message) = (&error["code"], &error["message"]);
    let mut older = match shape {
        ErrorShape::ErrorString => json!({ "error": code, "message": message }),
        _ => json!({ "code": code, "statusCode": parts.status.as_u16(), "message": message }),
    };
    if let Some(retry_after) = error.get("retryAfter") {
        older["retryAfter"] = retry_after.clone();
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(older.to_string()))
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
