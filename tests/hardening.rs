//! Hostile providers and hostile inputs against `ApiClient`: every answer bounded in time
//! and memory, the host pin holding against headers and credential values, and a provider
//! that always answers 401 costing Fastn a handful of requests, not one per call. Requests
//! that reach a server are counted by that server or by the emulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fastn_auth::wire::Endpoint;
use fastn_auth::{CacheOptions, ErrorCode, FastnAuth};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How a raw provider answers once it has read a request's headers.
#[derive(Clone, Copy)]
enum Answer {
    /// `200` with a declared length of a million bytes, then one byte every 50 ms.
    Dribble,
    /// `200` declaring 100 GB, then zeros as fast as the socket takes them.
    Declared,
    /// `200` chunked, 64 KiB chunks without end.
    Endless,
}

/// A provider on loopback answering every connection as `answer` says; the count of
/// connections it accepted.
async fn raw_provider(answer: Answer) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_raw(socket, answer));
        }
    });
    (url, accepted)
}

async fn serve_raw(mut socket: TcpStream, answer: Answer) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !seen.windows(4).any(|window| window == b"\r\n\r\n") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => seen.extend_from_slice(&buffer[..read]),
        }
    }
    let head: &[u8] = match answer {
        Answer::Dribble => b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000000\r\n\r\n",
        Answer::Declared => b"HTTP/1.1 200 OK\r\ncontent-length: 100000000000\r\n\r\n",
        Answer::Endless => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
    };
    if socket.write_all(head).await.is_err() {
        return;
    }
    // Each loop ends when the client hangs up, or after a bounded number of writes.
    match answer {
        Answer::Dribble => {
            for _ in 0..1200 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if socket.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
        Answer::Declared => {
            let zeros = vec![0u8; 64 * 1024];
            for _ in 0..100_000 {
                if socket.write_all(&zeros).await.is_err() {
                    return;
                }
            }
        }
        Answer::Endless => {
            let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
            chunk.extend(std::iter::repeat_n(b'a', 64 * 1024));
            chunk.extend_from_slice(b"\r\n");
            for _ in 0..100_000 {
                if socket.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The process's resident memory now and at its peak, in bytes, from `/proc/self/status`.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("memory is read from /proc (Linux)");
    let field = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name)).expect("a VmRSS and a VmHWM line");
        line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).expect("a number of kB") * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A client whose `notion` calls go to `provider`, with a connection of tenant `acme`.
async fn client_of(provider: &str, call_timeout: Duration) -> (MockServer, FastnAuth) {
    let mock = MockServer::start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "notion").tenant_id("acme"), None);
    let client = mock
        .client_builder()
        .call_timeout(call_timeout)
        .api_base_url("notion", provider)
        .cache(CacheOptions::default())
        .build()
        .unwrap();
    (mock, client)
}

#[tokio::test]
async fn a_dribbled_body_ends_at_the_calls_deadline() {
    let (provider, _) = raw_provider(Answer::Dribble).await;
    let (_mock, client) = client_of(&provider, Duration::from_secs(2)).await;
    let notion = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("acme");
    let started = Instant::now();
    let response = notion.get("/pages").send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Without a deadline on the body this read takes 50 s; the outer timeout turns a hang
    // into a failure rather than a stuck test.
    let read = tokio::time::timeout(Duration::from_secs(60), response.bytes()).await;
    let err = read.expect("the body read ended by itself").unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "ended near its 2 s deadline: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_body_declared_or_streamed_past_the_limit_is_refused_without_growing_the_process() {
    for answer in [Answer::Declared, Answer::Endless] {
        let (provider, _) = raw_provider(answer).await;
        let (_mock, client) = client_of(&provider, Duration::from_secs(60)).await;
        let notion = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("acme");
        let (before, _) = memory();
        let response = notion.get("/files/big").send().await.unwrap();
        let err = tokio::time::timeout(Duration::from_secs(60), response.bytes()).await.unwrap().unwrap_err();
        let (_, peak) = memory();
        assert!(err.is_too_large(), "{err}");
        assert_eq!(err.code(), ErrorCode::InvalidResponse);
        assert!(err.to_string().contains("16777216"), "the message names the limit: {err}");
        let grew = peak.saturating_sub(before);
        assert!(grew < 256 * 1024 * 1024, "the process grew by {} MiB reading a hostile body", grew >> 20);
        // A lower limit per request holds too, and a chunk-by-chunk reader gets the same error.
        let mut response = notion.get("/files/big").max_body(1000).send().await.unwrap();
        let err = loop {
            match response.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("an endless body ended"),
                Err(err) => break err,
            }
        };
        assert!(err.is_too_large() && err.to_string().contains("1000 bytes"), "{err}");
    }
}

#[tokio::test]
async fn no_header_can_move_the_request_or_its_framing() {
    let (port, accepted) = fastn_auth_tests::bystander().await;
    let provider = format!("http://127.0.0.1:{port}");
    let (_mock, client) = client_of(&format!("{provider}/api"), Duration::from_secs(5)).await;
    let notion = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("acme");
    for name in [
        "Host",
        "host",
        ":authority",
        "X-Forwarded-Host",
        "Forwarded",
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "TE",
        "Content-Length",
        "Upgrade",
        "Trailer",
        "Proxy-Authorization",
        "Proxy-Connection",
    ] {
        let err = notion.get("/users/me").header(name, "evil.example").send().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigError, "{name}: {err}");
        assert!(err.to_string().contains("cannot be set") || err.to_string().contains("pseudo"), "{err}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing was sent");
}

#[tokio::test]
async fn a_credential_value_cannot_climb_out_of_its_path_segment() {
    let (port, accepted) = fastn_auth_tests::bystander().await;
    let provider = format!("http://127.0.0.1:{port}");
    let mock = MockServer::start().await.unwrap();
    // No gateway: the base URL is made from the credentials, as in production.
    let client = FastnAuth::builder(MockServer::SPACE_ID)
        .base_url(mock.base_url())
        .api_key(MockServer::API_KEY)
        .build();
    let client = client.unwrap();
    for hostile in ["..", ".", "a/../..", "%2e%2e", "a?b", "a#b", "a\\b", "a\tb"] {
        let tenant = format!("t{}", fastrand::u32(..));
        let key = ConnectionKey::new(MockServer::SPACE_ID, "teamapp").tenant_id(&tenant);
        mock.insert_connection(key, Some(json!({ "access_token": "stolen-if-seen", "team": hostile })));
        let api =
            client.api("teamapp").base_url(format!("{provider}/tenants/{{team}}/v1")).tenant_id(&tenant);
        let err = api.get("/projects").send().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidResponse, "{hostile:?}: {err}");
        assert!(err.to_string().contains("`team`") && !err.to_string().contains("stolen"), "{err}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no token left for a climbed base");
}

#[tokio::test]
async fn a_provider_that_always_answers_401_costs_fastn_a_handful_of_requests() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { (axum::http::StatusCode::UNAUTHORIZED, "{\"error\":\"token_revoked\"}") }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (mock, client) = client_of(&provider, Duration::from_secs(10)).await;
    let notion = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("acme");
    let response = notion.get("/users/me").send().await.unwrap();
    assert_eq!(response.status(), 401, "the provider's 401 comes back as it is");
    // Refused again after a refresh that gave the same token: revoked at the provider, so the
    // connection is broken and its calls end at once (connection health).
    for _ in 0..99 {
        let err = notion.get("/users/me").send().await.unwrap_err();
        assert!(err.needs_reconnect(), "{err}");
    }
    let asked = mock.requests_to(Endpoint::Credentials);
    assert!(asked <= 3, "100 calls asked Fastn {asked} times");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "no call with a token the provider refused after a refresh");

    // Concurrent callers: still no storm.
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let notion = notion.clone();
            tokio::spawn(async move { notion.get("/users/me").send().await.map(|r| r.status()) })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap().unwrap_err().needs_reconnect());
    }
    assert_eq!(mock.requests_to(Endpoint::Credentials), asked, "no refresh while broken");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_forgotten_tenant_is_an_error_naming_the_call_and_nothing_is_sent() {
    let mock = MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start().await.unwrap();
    // The space's own connection exists: a forgotten tenant must not reach it.
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack"), None);
    let client = mock.client();
    let slack = client.api("slack").base_url("https://slack.com/api");
    let err = slack.get("/auth.test").send().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigError, "{err}");
    assert!(
        err.to_string().contains("`slack` has no tenant") && err.to_string().contains(".no_tenant()"),
        "{err}"
    );
    let err = client.tools("slack").call_id("t-1", json!({})).send().await.unwrap_err();
    assert!(err.to_string().contains("tool `t-1` has no tenant"), "{err}");
    let typed = fastn_auth_tests::Slack::tools(&client);
    let message = fastn_auth_tests::SlackSendMessage::new("C1", "hi");
    assert_eq!(typed.send_message(message).send().await.unwrap_err().code(), ErrorCode::ConfigError);
    assert_eq!(mock.requests_to(Endpoint::Credentials) + mock.requests_to(Endpoint::ExecuteTool), 0);
    // Said on purpose, the space's connection is used.
    let space = slack.no_tenant().get("/auth.test").send().await.unwrap();
    assert_eq!(space.status(), 200);
}
