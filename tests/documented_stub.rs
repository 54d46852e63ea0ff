//! The SDK against a stub that answers only what Fastn's documentation shows (not the
//! emulator, whose answers are ours): keys as issued, the error envelope and its codes, the
//! rate-limit headers, the documented statuses. Counts come from the stub.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fastn_auth::{FastnAuth, PollOptions, SessionHandle};
use serde_json::json;

/// Requests per path, as the stub saw them.
type Seen = Arc<Mutex<HashMap<String, usize>>>;

/// A documented error answer.
fn documented(status: u16, code: &str, retry_after: Option<u64>) -> Response {
    let mut error = json!({"code": code, "message": "documented"});
    if let Some(secs) = retry_after {
        error["retryAfter"] = secs.into();
    }
    (StatusCode::from_u16(status).unwrap(), axum::Json(json!({ "error": error }))).into_response()
}

async fn credentials(
    State(seen): State<Seen>,
    Path(connector): Path<String>,
    headers: HeaderMap,
) -> Response {
    let count = {
        let mut seen = seen.lock().unwrap();
        let count = seen.entry(connector.clone()).or_default();
        *count += 1;
        *count
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    // Documented: a fsk_test_ key needs X-fastn-Test-Mode: true.
    if header("authorization").starts_with("Bearer fsk_test_") && header("x-fastn-test-mode") != "true" {
        return documented(401, "AUTH_INVALID", None);
    }
    match connector.as_str() {
        "quota" => documented(429, "QUOTA_EXCEEDED", None),
        "limited" if count == 1 => documented(429, "RATE_LIMITED", Some(1)),
        "expired" => documented(401, "CONN-REFRESH-FAILED", None),
        _ => {
            let reset =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 60;
            let mut answer = axum::Json(json!({"access_token": "t", "expires_in": 3600})).into_response();
            for (name, value) in
                [("x-ratelimit-limit", 100), ("x-ratelimit-remaining", 99), ("x-ratelimit-reset", reset)]
            {
                answer.headers_mut().insert(name, value.into());
            }
            answer
        }
    }
}

/// The stub on a loopback port; its base URL and what it saw.
async fn stub() -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/api/connect/credentials/community/{connector}", get(credentials))
        .route("/api/connect/status/{state}", get(|| async { axum::Json(json!({"status": "Expired"})) }))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api"), seen)
}

fn client(base: &str, key: &str, test_mode: Option<bool>) -> FastnAuth {
    let mut builder = FastnAuth::builder("space").api_key(key).base_url(base);
    if let Some(test_mode) = test_mode {
        builder = builder.test_mode(test_mode);
    }
    builder.build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_documented_answers_read_as_documented() {
    let (base, seen) = stub().await;
    let key = "fsk_test_0123456789";
    // A test key works with the header the SDK adds for it, and only with it.
    let ok = client(&base, key, None);
    ok.credentials("slack").tenant_id("acme").send().await.unwrap();
    assert_eq!(ok.rate_limit().unwrap().limit, Some(100), "the announced limit is kept");
    let err =
        client(&base, key, Some(false)).credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert!(err.is_unauthorized() && err.fastn_code() == Some("AUTH_INVALID"), "{err:?}");

    // QUOTA_EXCEEDED is a 429 waiting does not clear: exactly one request.
    let err = ok.credentials("quota").tenant_id("acme").send().await.unwrap_err();
    assert!(err.is_quota_exceeded() && !err.is_rate_limited() && !err.is_transient(), "{err:?}");
    assert_eq!(seen.lock().unwrap()["quota"], 1);

    // RATE_LIMITED with retryAfter: retried once, after it.
    let started = tokio::time::Instant::now();
    ok.credentials("limited").tenant_id("acme").send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(seen.lock().unwrap()["limited"], 2);

    // A connection whose refresh failed, and a flow that ended Expired: reconnect.
    let err = ok.credentials("expired").tenant_id("acme").send().await.unwrap_err();
    assert!(err.needs_reconnect() && !err.is_unauthorized(), "{err:?}");
    let session = ok.resume(SessionHandle::new("slack", "state-1").with_tenant_id("acme"));
    let err =
        session.wait_for_completion(PollOptions::new(Duration::from_secs(1), Duration::from_secs(5))).await;
    assert!(err.unwrap_err().needs_reconnect());
}
