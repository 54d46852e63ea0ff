//! The blocking client from plain threads, counted by the emulator; and both clients
//! called from the wrong side of a runtime: a typed error, never a panic or a stall.

use std::future::Future as _;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use fastn_auth::wire::Endpoint;
use fastn_auth::{ErrorCode, PollOptions};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use serde_json::Value;

/// An emulator on a runtime of its own threads, so the test's thread has none.
fn emulator(builder: fastn_auth_emulator::MockServerBuilder) -> (tokio::runtime::Runtime, MockServer) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime.block_on(builder.start()).unwrap();
    (runtime, mock)
}

#[test]
fn a_flow_credentials_and_an_api_call_without_any_async_code() {
    let (_runtime, mock) = emulator(MockServer::builder().auto_approve_after_polls(2));
    let client = fastn_auth::blocking::FastnAuth::new(mock.client()).unwrap();
    let session = client.connect("slack").tenant_id("acme").send().unwrap();
    assert!(session.redirect_url().is_some());
    let credentials = session.wait_for_completion(PollOptions::default()).unwrap();
    assert!(credentials.access_token.is_some());
    assert_eq!(mock.requests_to(Endpoint::Status), 2);
    client.credentials("slack").tenant_id("acme").send().unwrap();

    // From several threads at once, on the one client.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                let slack = client.api("slack").base_url("https://slack.com/api").tenant_id("acme");
                let echo: Value =
                    slack.get("/auth.test").query(&[("n", "1")]).send().unwrap().json().unwrap();
                echo["path"].as_str().map(str::to_owned)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().as_deref(), Some("/auth.test"));
    }
    assert_eq!(mock.requests_to(Endpoint::Api), 8);
    let err = client.credentials("slack").tenant_id("nobody").send().unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn each_client_says_when_it_is_called_from_the_wrong_side_of_a_runtime() {
    let (runtime, mock) = emulator(MockServer::builder());
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);

    // The blocking client inside a runtime: it would stall the runtime's thread.
    let blocking = fastn_auth::blocking::FastnAuth::new(mock.client()).unwrap();
    let err = runtime.block_on(async { blocking.credentials("slack").tenant_id("acme").send() }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigError);
    assert!(err.to_string().contains("from an async task"), "{err}");
    let spawned = runtime.block_on(async {
        let blocking = blocking.clone();
        tokio::spawn(async move { blocking.credentials("slack").tenant_id("acme").send().map(|_| ()) }).await
    });
    assert!(spawned.unwrap().unwrap_err().to_string().contains("from an async task"));
    // Where tokio allows blocking, it works: spawn_blocking, block_in_place.
    runtime.block_on(async {
        let inside = blocking.clone();
        let credentials =
            tokio::task::spawn_blocking(move || inside.credentials("slack").tenant_id("acme").send());
        assert!(credentials.await.unwrap().unwrap().access_token.is_some());
        let inside = blocking.clone();
        let placed = tokio::spawn(async move {
            tokio::task::block_in_place(|| inside.credentials("slack").tenant_id("acme").send().map(|_| ()))
        });
        placed.await.unwrap().unwrap();
    });
    // Dropped inside a runtime: no panic.
    runtime.block_on(async move { drop(blocking) });

    // The async client outside any runtime: an error saying what it needs, not tokio's panic.
    let client = mock.client();
    let sends = [
        Box::pin(async { client.credentials("slack").tenant_id("acme").send().await.map(|_| ()) })
            as std::pin::Pin<Box<dyn std::future::Future<Output = fastn_auth::Result<()>>>>,
        Box::pin(async { client.connect("slack").tenant_id("acme").send().await.map(|_| ()) }),
        Box::pin(async {
            client.api("slack").base_url("https://slack.com/api").get("/x").send().await.map(|_| ())
        }),
    ];
    for send in sends {
        let mut send = pin!(send);
        let Poll::Ready(Err(err)) = send.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
            panic!("a call outside a runtime did not fail at once");
        };
        assert!(err.to_string().contains("tokio runtime") && err.to_string().contains("blocking"), "{err}");
    }
    assert_eq!(mock.requests_to(Endpoint::Init), 0);
    assert_eq!(mock.requests_to(Endpoint::Credentials), 2, "the blocking calls that were allowed, only");
}
