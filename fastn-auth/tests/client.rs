//! The runtime client against the emulator: wire format, pooling, retries, deadlines,
//! hostile servers, hostile input and secrets.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{fast, join_all};
use fastn_auth::{
    AuthStatus, Endpoint, Error, ErrorCode, ErrorKind, ExposeSecret, FastnAuth, PollOptions, SessionHandle,
};
use fastn_auth_emulator::{ConnectionKey, ErrorShape, Fault, KeyCase, MockServer, Wrapping};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The workspace manifest: the emulator generates the extra fields it declares.
const MANIFEST: &str = include_str!("../../connectors.yaml");

const SPACE: &str = MockServer::SPACE_ID;

fn count(mock: &MockServer, endpoint: &str) -> usize {
    mock.requests().iter().filter(|r| r.path.contains(endpoint)).count()
}

#[tokio::test]
async fn a_whole_flow_sends_the_official_headers_over_one_connection() {
    let mock = MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(3).start().await.unwrap();
    let session = mock.client().connect("google-sheets").tenant_id("acme").send().await.unwrap();
    let redirect = session.redirect_url().expect("an OAuth flow has a redirect URL");
    assert!(redirect.as_str().starts_with(&format!("http://{}/authorize?state=", mock.addr())));
    assert_eq!(session.id(), session.state_key());

    let creds = session.wait_for_completion(fast()).await.unwrap();
    assert!(creds.access_token.as_ref().unwrap().expose_secret().starts_with("mock-at-"));
    assert!(creds.expires_within(Duration::from_secs(3600)) && !creds.is_expired());
    assert!(creds.extra.contains_key("scope"));

    let requests = mock.requests();
    let paths: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    let status_path = format!("/api/connect/status/{}", session.state_key());
    assert_eq!(
        paths,
        [
            ("POST", "/api/connect/init/community/google-sheets"),
            ("GET", status_path.as_str()),
            ("GET", status_path.as_str()),
            ("GET", status_path.as_str()),
            ("GET", "/api/connect/credentials/community/google-sheets"),
        ]
    );
    for request in &requests {
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("x-fastn-space-id"), Some(SPACE));
        assert_eq!(request.header("x-fastn-api-key"), Some(MockServer::API_KEY));
        assert_eq!(request.header("authorization"), None);
        assert_eq!(request.header("x-fastn-custom-auth"), Some("true"));
        assert_eq!(request.header("x-fastn-space-tenantid"), Some("acme"));
        assert_eq!(request.header("x-fastn-space-connection-id"), Some(""));
    }
}

/// Connections are pooled: sequential requests reuse one. Not exactly one in every run:
/// when a request follows the previous answer within microseconds, hyper's pool may race a
/// new connection against the idle one's return (about 1 request in 14 here), so the
/// guarantee tested is reuse, not a count of one.
#[tokio::test]
async fn sequential_requests_reuse_pooled_connections() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let client = mock.client();
    for _ in 0..100 {
        client.credentials("slack").tenant_id("acme").send().await.unwrap();
    }
    let connections = mock.connections_accepted();
    assert!(connections <= 50, "{connections} connections for 100 sequential requests");
}

#[tokio::test]
async fn bearer_token_and_custom_auth_off() {
    let mock = MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(1).start().await.unwrap();
    let client = FastnAuth::builder(SPACE)
        .auth_token(MockServer::AUTH_TOKEN)
        .custom_auth(false)
        .base_url(mock.base_url())
        .build()
        .unwrap();
    let session = client.connect("slack").org_id("org-7").connection_id("c1").send().await.unwrap();
    session.wait_for_completion(fast()).await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests[0].path, "/api/connect/init/org-7/slack");
    assert_eq!(requests.last().unwrap().path, "/api/connect/credentials/org-7/slack");
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer mock-auth-token"));
        assert_eq!(request.header("x-fastn-api-key"), None);
        assert_eq!(request.header("x-fastn-custom-auth"), None);
        assert_eq!(request.header("x-fastn-space-tenantid"), Some(""));
        assert_eq!(request.header("x-fastn-space-connection-id"), Some("c1"));
    }
}

#[tokio::test]
async fn credentials_of_an_existing_connection_in_every_wire_shape() {
    for (wrapping, keys) in [
        (Wrapping::Envelope, KeyCase::Snake),
        (Wrapping::Envelope, KeyCase::Camel),
        (Wrapping::Bare, KeyCase::Snake),
        (Wrapping::Bare, KeyCase::Camel),
    ] {
        let mock = MockServer::builder()
            .connectors(MANIFEST)
            .credentials_shape(wrapping, keys)
            .start()
            .await
            .unwrap();
        let stored = mock.insert_connection(ConnectionKey::new(SPACE, "salesforce").tenant_id("acme"), None);
        let creds = mock.client().credentials("salesforce").tenant_id("acme").send().await.unwrap();
        let label = format!("{wrapping:?}/{keys:?}");
        assert_eq!(creds.access_token.as_ref().unwrap().expose_secret(), stored["access_token"], "{label}");
        assert_eq!(creds.refresh_token.as_ref().unwrap().expose_secret(), stored["refresh_token"], "{label}");
        let left = creds.expires_at().unwrap().duration_since(std::time::SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3599), "{label}: {left:?}");
        assert_eq!(creds.extra["instance_url"], "https://acme.example.com/instanceurl", "{label}");
        assert!(!creds.extra.contains_key("success") && !creds.extra.contains_key("accessToken"), "{label}");
    }
}

#[tokio::test]
async fn a_missing_connection_is_not_found_with_the_servers_words() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(SPACE, "slack").tenant_id("acme"), None);
    let err = mock.client().credentials("slack").tenant_id("globex").send().await.unwrap_err();
    assert!(err.is_not_found() && !err.is_transient(), "{err:?}");
    assert_eq!(
        (err.code(), err.code().as_str(), err.official_code(), err.status_code()),
        (ErrorCode::NotConnected, "NOT_CONNECTED", ErrorCode::NetworkError, Some(404))
    );
    assert_eq!(err.server_message(), Some("no completed connection for this connector and tenant"));
    let text = err.to_string();
    let expected = format!(
        "GET {}/api/connect/credentials/community/slack (tenant `globex`): the server answered 404 Not Found: \
         \"no completed connection for this connector and tenant\"",
        mock.addr()
    );
    assert_eq!(text, expected);
    assert_eq!(err.request().unwrap().tenant_id.as_deref(), Some("globex"));
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let wrong = FastnAuth::builder(SPACE).api_key("wrong").base_url(mock.base_url()).build().unwrap();
    let err = wrong.connect("slack").send().await.unwrap_err();
    assert!(err.is_unauthorized() && !err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("missing or unknown x-fastn-api-key"), "{err}");
}

#[tokio::test]
async fn every_transient_status_and_a_broken_connection_are_survived_while_polling() {
    let mock = MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(1).start().await.unwrap();
    let client = mock.client();
    let faults =
        [408, 425, 429, 500, 502, 503, 504].map(Fault::status).into_iter().chain([Fault::CloseMidBody]);
    for fault in faults {
        let session = client.connect("github").send().await.unwrap();
        mock.inject(Endpoint::Status, fault.clone());
        mock.clear_requests();
        session.wait_for_completion(fast()).await.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(count(&mock, "/status/"), 2, "{fault:?}: one failed poll, one that sees ACTIVE");
    }
}

#[tokio::test]
async fn retry_after_zero_does_not_turn_off_backoff() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let session = mock.client().connect("slack").send().await.unwrap();
    mock.inject_times(Endpoint::Status, Fault::status_retry_after(429, 0), 100_000);
    let options = PollOptions::new(Duration::from_millis(1), Duration::from_secs(1));
    let err = session.wait_for_completion(options).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { last_status: None, .. }), "{err:?}");
    // Backoff from 100 ms doubling: at most about six polls fit in a second, however fast
    // or slow the machine (a slower one makes fewer). Without the floor it was thousands.
    let polls = count(&mock, "/status/");
    assert!((2..=8).contains(&polls), "{polls} polls in one second");
}

#[tokio::test]
async fn a_retry_that_would_pass_the_call_deadline_is_not_attempted() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(SPACE, "slack"), None);
    let client = mock.client_builder().call_timeout(Duration::from_millis(500)).build().unwrap();
    mock.inject(Endpoint::Credentials, Fault::status_retry_after(503, 2));
    let err = client.credentials("slack").send().await.unwrap_err();
    assert_eq!(err.status_code(), Some(503));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(count(&mock, "/credentials/"), 1, "the 2 s wait did not fit in the 500 ms call");

    mock.inject(Endpoint::Credentials, Fault::status_retry_after(503, 31));
    let err = mock.client().credentials("slack").send().await.unwrap_err();
    assert_eq!(err.status_code(), Some(503), "a Retry-After over the 30 s cap ends the call at once");
}

#[tokio::test(start_paused = true)]
async fn time_queued_for_a_slot_counts_against_the_call() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let call_timeout = Duration::from_millis(500);
    let client = mock.client_builder().max_in_flight(1).call_timeout(call_timeout).build().unwrap();
    mock.inject_times(Endpoint::Init, Fault::Hang, 2);
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.connect("slack").send().await }
    });
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    let err = client.connect("slack").send().await.unwrap_err();
    assert!(err.is_timeout() && err.code() == ErrorCode::NetworkError, "{err:?}");
    assert_eq!(started.elapsed(), call_timeout, "queueing behind the first call was counted");
    assert!(first.await.unwrap().unwrap_err().is_timeout());
}

#[tokio::test]
async fn retries_are_bounded_by_max_retries() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    mock.inject_times(Endpoint::Init, Fault::status(502), 2);
    let _session = mock.client().connect("slack").send().await.expect("two retries by default");

    mock.clear_requests();
    mock.inject_times(Endpoint::Init, Fault::status(502), 10);
    let client = mock.client_builder().max_retries(3).build().unwrap();
    assert_eq!(client.connect("slack").send().await.unwrap_err().status_code(), Some(502));
    assert_eq!(count(&mock, "/init/"), 4, "one attempt and three retries");

    let no_retries = mock.client_builder().max_retries(0).build().unwrap();
    mock.insert_connection(ConnectionKey::new(SPACE, "slack"), None);
    mock.inject(Endpoint::Credentials, Fault::status(503));
    assert_eq!(no_retries.credentials("slack").send().await.unwrap_err().status_code(), Some(503));
}

#[tokio::test]
async fn a_hanging_status_call_times_out_as_a_timeout() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let session = mock.client().connect("slack").send().await.unwrap();
    mock.inject(Endpoint::Status, Fault::Hang);
    let timeout = Duration::from_millis(300);
    let err =
        session.wait_for_completion(PollOptions::new(Duration::from_millis(10), timeout)).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Timeout { timeout: t, last_status: None, .. } if *t == timeout),
        "{err:?}"
    );
    assert_eq!(err.code().as_str(), "TIMEOUT");
}

#[tokio::test]
async fn a_hanging_request_is_cut_by_the_request_timeout_and_retried() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let client = mock.client_builder().request_timeout(Duration::from_millis(200)).build().unwrap();
    mock.inject(Endpoint::Init, Fault::Hang);
    let _session = client.connect("slack").send().await.expect("the retry succeeds");
    assert_eq!(count(&mock, "/init/"), 2);

    let no_retries =
        mock.client_builder().request_timeout(Duration::from_millis(200)).max_retries(0).build().unwrap();
    mock.inject(Endpoint::Init, Fault::Hang);
    let err = no_retries.connect("slack").send().await.unwrap_err();
    assert!(err.is_timeout() && err.status_code().is_none(), "{err:?}");
    assert!(err.to_string().contains("no complete answer within 200ms"), "{err}");
}

#[tokio::test]
async fn bad_answers_are_typed_errors_naming_the_request() {
    let cases = [
        (Fault::UnknownStatus("PENDING_REVIEW".into()), "unknown status \"PENDING_REVIEW\""),
        (Fault::MalformedJson, "expected a JSON object, got a body that is not JSON"),
        (Fault::Html, "expected a JSON object, got an HTML page"),
        (Fault::Oversized(2 * 1024 * 1024), "larger than the limit of 1048576 bytes"),
        (Fault::body(r#"{"errorMessage":"x"}"#), "the required field `status` is missing"),
        (Fault::body(r#"{"status":true}"#), "`status` must be a string, got a boolean"),
        (Fault::body("[1,2]"), "expected a JSON object, got an array"),
    ];
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let session = mock.client().connect("slack").send().await.unwrap();
    for (fault, expected) in cases {
        mock.inject(Endpoint::Status, fault.clone());
        let err = session.wait_for_completion(fast()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidResponse, "{fault:?}: {err}");
        let text = err.to_string();
        let path = format!("/api/connect/status/{}", session.state_key());
        assert!(text.contains(expected) && text.contains(&path), "{fault:?}: {text}");
    }
    mock.inject(Endpoint::Status, Fault::MalformedJson);
    let err = session.get_status().await.unwrap_err();
    let source = std::error::Error::source(&err).expect("the JSON error is chained");
    assert!(source.is::<serde_json::Error>(), "{source:?}");
}

#[tokio::test]
async fn unusable_answers_to_init_are_invalid_responses() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let client = mock.client();
    for (body, expected) in [
        (r#"{"success":true,"redirectUrl":"https://x"}"#.to_owned(), "`state` is missing"),
        (format!(r#"{{"state":"{}"}}"#, "s".repeat(100_000)), "more than the 2048 accepted"),
        (r#"{"state":"ok","redirectUrl":"javascript:alert(1)"}"#.to_owned(), "is not an http(s) URL"),
    ] {
        mock.clear_requests();
        mock.inject(Endpoint::Init, Fault::body(body));
        let err = client.connect("slack").send().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidResponse, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(err.to_string().len() < 1000, "the server's text is cut: {} bytes", err.to_string().len());
        assert_eq!(mock.requests().len(), 1, "one init, no status poll, no retry");
    }
}

#[tokio::test]
async fn unreadable_optional_fields_do_not_lose_the_token() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    for expires_in in [r#""3599""#, "3599.0", "-1", r#""soon""#] {
        let body = format!(r#"{{"access_token":"tok","expires_in":{expires_in},"refresh_token":7}}"#);
        mock.inject(Endpoint::Credentials, Fault::body(body));
        let creds =
            mock.client().credentials("slack").send().await.unwrap_or_else(|e| panic!("{expires_in}: {e}"));
        assert_eq!(creds.access_token.as_ref().unwrap().expose_secret(), "tok");
        assert_eq!(creds.expires_at().is_some(), expires_in != r#""soon""#, "{expires_in}");
        assert_eq!(creds.is_expired(), expires_in == "-1", "{expires_in}");
        assert!(creds.refresh_token.is_none(), "a mistyped optional field is dropped");
    }
}

#[tokio::test]
async fn a_failed_flow_keeps_the_servers_message_sanitised() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let client = mock.client();
    let session = client.connect("stripe").send().await.unwrap();
    assert!(mock.deny(session.state_key(), "user denied access"));
    let err = session.wait_for_completion(fast()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Authentication { message, .. } if message == "user denied access"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "authentication of connector `stripe` failed: user denied access");

    let session = client.connect("stripe").send().await.unwrap();
    let hostile = format!("forged\n2026-01-01 INFO all good\u{1b}[2J{}", "x".repeat(900_000));
    assert!(mock.deny(session.state_key(), &hostile));
    let err = session.wait_for_completion(fast()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.len() < 400 && !text.contains('\n') && !text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("forged\\n2026-01-01"), "{text}");
}

#[tokio::test]
async fn unusable_ids_are_config_errors_and_send_nothing() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let client = mock.client();
    let long = "c".repeat(70_000);
    for connector in ["", ".", "..", long.as_str()] {
        let err = client.connect(connector).send().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigError, "{connector:.10}");
        assert!(err.to_string().len() < 300, "the id is not echoed whole");
    }
    for (tenant, field) in [
        ("acme\r\nx-fastn-space-id: other", "tenant_id"),
        ("nul\0", "tenant_id"),
        (long.as_str(), "tenant_id"),
    ] {
        let err = client.credentials("slack").tenant_id(tenant).send().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigError);
        assert!(err.to_string().contains(field), "{err}");
    }
    let err = client.connect("slack").connection_id("c1\n").send().await.unwrap_err();
    assert!(err.to_string().contains("connection_id"), "{err}");
    assert_eq!(mock.requests_served(), 0, "refused ids send nothing");
}

#[tokio::test]
async fn path_parameters_cannot_escape_their_segment() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let _session = mock.client().connect("..admin").org_id("a/b?c#d").send().await.unwrap();
    assert_eq!(mock.requests()[0].path, "/api/connect/init/a%2Fb%3Fc%23d/..admin");
}

#[tokio::test]
async fn redirects_to_another_origin_are_not_followed() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let elsewhere = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    mock.inject(
        Endpoint::Init,
        Fault::Redirect(format!("{}/connect/init/community/slack", elsewhere.base_url())),
    );
    let err = mock.client().connect("slack").send().await.unwrap_err();
    assert_eq!(err.status_code(), Some(307));
    assert!(elsewhere.requests().is_empty(), "the API key never reached the other host");
}

#[tokio::test]
async fn a_resumed_handle_completes_the_flow_from_another_client() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let session = mock.client().connect("notion").tenant_id("acme").send().await.unwrap();
    let stored = serde_json::to_string(session.handle()).unwrap();
    assert!(!stored.contains(MockServer::API_KEY));
    drop(session);

    let handle: SessionHandle = serde_json::from_str(&stored).unwrap();
    assert_eq!(handle.tenant_id(), Some("acme"));
    assert!(mock.approve(handle.state()));
    let creds = mock.client().resume(handle).wait_for_completion(fast()).await.unwrap();
    assert!(creds.extra["workspace_name"].as_str().unwrap().starts_with("mock-workspace_name-"));
    assert_eq!(mock.requests().last().unwrap().header("x-fastn-space-tenantid"), Some("acme"));
}

#[tokio::test]
async fn many_sessions_share_a_bounded_number_of_connections() {
    let mock = MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(3).start().await.unwrap();
    let client = mock.client_builder().max_in_flight(4).build().unwrap();
    let flows = (0..100).map(|i| {
        let client = client.clone();
        async move {
            client.connect("slack").tenant_id(format!("t{i}")).send().await?.wait_for_completion(fast()).await
        }
    });
    let results = join_all(flows).await;
    assert!(results.iter().all(Result::is_ok));
    assert!(mock.connections_accepted() <= 4, "{} connections", mock.connections_accepted());
}

#[tokio::test]
async fn no_secret_reaches_debug_output_or_errors() {
    let key = "key-SECRET-123";
    let mock = MockServer::builder()
        .connectors(MANIFEST)
        .api_key(key)
        .auto_approve_after_polls(1)
        .start()
        .await
        .unwrap();
    let client = FastnAuth::builder(SPACE).api_key(key).base_url(mock.base_url()).build().unwrap();
    let session = client.connect("google-sheets").send().await.unwrap();
    let creds = session.wait_for_completion(fast()).await.unwrap();
    let access = creds.access_token.as_ref().unwrap().expose_secret().to_owned();
    let refresh = creds.refresh_token.as_ref().unwrap().expose_secret().to_owned();
    let id_token = creds.extra["id_token"].as_str().unwrap().to_owned();

    mock.inject(Endpoint::Status, Fault::status(401));
    let err = session.get_status().await.unwrap_err();
    let shown = format!(
        "{client:?} {session:?} {creds:?} {err:?} {err} {:?} {:?}",
        session.handle(),
        mock.requests()
    );
    for secret in [key, &access, &refresh, &id_token] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
}

#[tokio::test]
async fn unknown_states_are_not_found() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let handle: SessionHandle = serde_json::from_value(serde_json::json!({
        "connector_id": "slack", "org_id": "community", "state": "no-such-state"
    }))
    .unwrap();
    let err = mock.client().resume(handle).get_status().await.unwrap_err();
    assert!(err.is_not_found() && err.server_message() == Some("unknown state"), "{err}");
}

#[tokio::test]
async fn dropping_the_wait_stops_all_work() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let session = mock.client().connect("slack").send().await.unwrap();
    let mut polling = Box::pin(
        session.wait_for_completion(PollOptions::new(Duration::from_millis(10), Duration::from_secs(30))),
    );
    // Drive the wait until the emulator has seen it poll a few times (counted, however busy
    // the machine is), then drop it.
    let polled = async {
        while mock.requests().len() < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        _ = &mut polling => panic!("the flow is not approved: the wait cannot end"),
        () = polled => {}
    }
    drop(polling);
    let polls = mock.requests().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mock.requests().len(), polls, "no poll after the future was dropped");

    mock.inject(Endpoint::Status, Fault::Hang);
    let hung = session.wait_for_completion(fast());
    assert!(tokio::time::timeout(Duration::from_millis(200), hung).await.is_err());
    // The abandoned request's connection is not reused half-read: the next call works.
    assert_eq!(session.get_status().await.unwrap().status, AuthStatus::Inactive);
}

#[tokio::test]
async fn extreme_poll_options_never_panic() {
    let mock = MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(1).start().await.unwrap();
    let client = mock.client();
    let zero = client.connect("slack").send().await.unwrap();
    let err = zero.wait_for_completion(PollOptions::new(Duration::ZERO, Duration::MAX)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigError);
    for options in [
        PollOptions::new(Duration::MAX, Duration::MAX),
        PollOptions::new(Duration::from_nanos(1), Duration::MAX),
        PollOptions::new(Duration::MAX, Duration::from_secs(5)),
    ] {
        let session = client.connect("slack").send().await.unwrap();
        session.wait_for_completion(options).await.unwrap_or_else(|e| panic!("{options:?}: {e}"));
    }
    let session = client.connect("slack").send().await.unwrap();
    mock.inject(Endpoint::Status, Fault::Hang);
    let err = session.wait_for_completion(PollOptions::new(Duration::MAX, Duration::ZERO)).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
}

/// A server that answers one request per connection with `body`, then reads the next
/// request on it and drops the connection without answering — as a load balancer that
/// closes idle keep-alive connections does, racing the client's next request. With `reset`
/// it sends a TCP RST instead of a FIN.
async fn one_answer_per_connection(reset: bool, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut buf = vec![0; 8192];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
                let _ = tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await;
                if reset {
                    // A zero linger makes the drop send RST; it does not block.
                    #[allow(deprecated)]
                    let _ = tcp.set_linger(Some(Duration::ZERO));
                }
                drop(tcp);
            });
        }
    });
    (base, accepted)
}

#[tokio::test]
async fn pooled_connections_the_server_dropped_are_not_failures() {
    for reset in [false, true] {
        let (base, accepted) = one_answer_per_connection(reset, r#"{"status":"INACTIVE"}"#).await;
        let client = FastnAuth::builder("s").api_key("k").base_url(base).max_retries(0).build().unwrap();
        let handle: SessionHandle = serde_json::from_value(
            serde_json::json!({"connector_id": "x", "org_id": "community", "state": "abc"}),
        )
        .unwrap();
        let session = client.resume(handle);
        let mut failures = Vec::new();
        for _ in 0..200 {
            if let Err(err) = session.get_status().await {
                failures.push(err.to_string());
            }
        }
        assert!(
            failures.is_empty(),
            "reset={reset}: {} failed, first: {:?}",
            failures.len(),
            failures.first()
        );
        assert!(accepted.load(Ordering::Relaxed) <= 400, "at most one fresh connection per call");
    }
}

#[tokio::test]
async fn keys_go_as_fastn_issues_them_and_a_test_key_only_with_its_header() {
    for key in ["fsk_test_0123456789abcdef", "fsk_live_0123456789abcdef", "classic-key"] {
        let mock = MockServer::builder().connectors(MANIFEST).api_key(key).start().await.unwrap();
        mock.insert_connection(ConnectionKey::new(SPACE, "slack").tenant_id("acme"), None);
        let credentials = mock.client().credentials("slack").tenant_id("acme").send().await;
        assert!(credentials.is_ok(), "{key}: {credentials:?}");
        let sent = mock.requests().pop().unwrap();
        let header = |name: &str| sent.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let issued = key.starts_with("fsk_");
        assert_eq!(header("x-fastn-api-key").is_some(), !issued, "{key}");
        assert_eq!(header("authorization").is_some(), issued, "{key}: as a bearer");
        assert_eq!(
            header("x-fastn-test-mode").as_deref(),
            key.starts_with("fsk_test_").then_some("true"),
            "{key}"
        );
        assert_ne!(
            header("x-fastn-custom-auth").as_deref(),
            issued.then_some("true"),
            "{key}: never with a key as bearer"
        );
    }
    let mock = MockServer::builder()
        .connectors(MANIFEST)
        .api_key("fsk_test_0123456789abcdef")
        .start()
        .await
        .unwrap();
    let err = mock
        .client_builder()
        .test_mode(false)
        .build()
        .unwrap()
        .credentials("slack")
        .send()
        .await
        .unwrap_err();
    assert_eq!((err.status_code(), err.fastn_code()), (Some(401), Some("AUTH_INVALID")), "{err}");
    assert!(!err.to_string().contains("fsk_test_0123"), "{err}");
}

#[tokio::test]
async fn fastns_codes_decide_in_every_shape_of_its_errors() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let client = mock.client();
    type Check = fn(&Error) -> bool;
    let cases: [(u16, &str, Check, ErrorCode); 8] = [
        (
            401,
            r#"{"error": {"code": "CONN-REFRESH-FAILED", "message": "reconnect"}}"#,
            Error::needs_reconnect,
            ErrorCode::ReconnectRequired,
        ),
        (
            401,
            r#"{"error": "CONNECTOR_AUTH_FAILED", "message": "refused"}"#,
            Error::needs_reconnect,
            ErrorCode::ReconnectRequired,
        ),
        (
            401,
            r#"{"error": {"code": "AUTH_EXPIRED", "message": "old"}}"#,
            Error::is_unauthorized,
            ErrorCode::Unauthorized,
        ),
        (
            403,
            r#"{"error": {"code": "FORBIDDEN", "message": "no"}}"#,
            Error::is_unauthorized,
            ErrorCode::Unauthorized,
        ),
        (
            404,
            r#"{"code": "CONNECTION_NOT_FOUND", "statusCode": 404}"#,
            Error::is_not_connected,
            ErrorCode::NotConnected,
        ),
        (
            400,
            r#"{"error": {"code": "VALIDATION_ERROR", "message": "bad"}}"#,
            Error::is_invalid_arguments,
            ErrorCode::InvalidArguments,
        ),
        (
            429,
            r#"{"error": {"code": "QUOTA_EXCEEDED", "message": "plan"}}"#,
            Error::is_quota_exceeded,
            ErrorCode::QuotaExceeded,
        ),
        (409, r#"{"error": {"code": "CONFLICT", "message": "twice"}}"#, |_| true, ErrorCode::RequestRefused),
    ];
    for (status, body, check, code) in cases {
        mock.clear_requests();
        mock.inject(Endpoint::Credentials, Fault::Body { code: status, body: body.into() });
        // A client of its own each: a broken connection's next call is refused unsent.
        let err = mock.client().credentials("slack").tenant_id("acme").send().await.unwrap_err();
        assert!(check(&err), "{body}: {err:?}");
        assert_eq!((err.code(), err.official_code()), (code, ErrorCode::NetworkError), "{body}");
        assert_eq!(count(&mock, "/credentials/"), 1, "{body}: never retried");
    }
    // A 5xx that lasts past the retries is Fastn's trouble, not the network's.
    let upstream = r#"{"error": {"code": "UPSTREAM_ERROR", "message": "down"}}"#;
    mock.inject_times(Endpoint::Credentials, Fault::Body { code: 502, body: upstream.into() }, 3);
    let err = client.credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert_eq!((err.code().as_str(), err.fastn_code()), ("SERVER_ERROR", Some("UPSTREAM_ERROR")), "{err}");
    // A throttle with `retryAfter` (no header): waited for, then retried once.
    mock.insert_connection(ConnectionKey::new(SPACE, "slack").tenant_id("acme"), None);
    let limited = r#"{"error": {"code": "RATE_LIMITED", "message": "slow down", "retryAfter": 1}}"#;
    mock.inject(Endpoint::Credentials, Fault::Body { code: 429, body: limited.into() });
    mock.clear_requests();
    let started = std::time::Instant::now();
    client.credentials("slack").tenant_id("acme").send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "the envelope's retryAfter was honoured");
    assert_eq!(count(&mock, "/credentials/"), 2);
}

#[tokio::test]
async fn an_expired_connection_needs_a_reconnect() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let session = mock.client().connect("slack").send().await.unwrap();
    for status in ["EXPIRED", "expired", "Failed"] {
        mock.inject(Endpoint::Status, Fault::body(format!(r#"{{"status": "{status}"}}"#)));
        let err = session.wait_for_completion(fast()).await.unwrap_err();
        assert!(err.needs_reconnect() && err.code() == ErrorCode::AuthFailed, "{status}: {err}");
    }
    mock.inject(Endpoint::Status, Fault::body(r#"{"status": "authorized"}"#));
    assert_eq!(session.get_status().await.unwrap().status, AuthStatus::Active, "the connections API's name");
}

#[tokio::test(start_paused = true)]
async fn a_spent_rate_limit_is_waited_out_before_the_429_or_refused_unsent() {
    let mock = MockServer::builder()
        .connectors(MANIFEST)
        .rate_limit(2, Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    mock.insert_connection(ConnectionKey::new(SPACE, "slack").tenant_id("acme"), None);
    let client = mock.client();
    let credentials = || client.credentials("slack").tenant_id("acme").send();
    credentials().await.unwrap();
    credentials().await.unwrap();
    let announced = client.rate_limit().unwrap();
    assert_eq!((announced.limit, announced.remaining), (Some(2), 0));
    // A client with no announcement yet meets the 429 (and learns the limit from it); its
    // next call, whose deadline (1 s) comes before the reset (2 s), is refused unsent.
    let hurried = mock.client_builder().call_timeout(Duration::from_secs(1)).build().unwrap();
    let err = hurried.credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert!(err.is_rate_limited() && err.status_code() == Some(429), "{err:?}");
    let sent = mock.requests_to(Endpoint::Credentials);
    let started = tokio::time::Instant::now();
    let err = hurried.credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert!(err.is_rate_limited() && err.status_code().is_none(), "{err:?}");
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(mock.requests_to(Endpoint::Credentials), sent, "nothing sent");
    // The client whose deadline allows waits for the reset, and gets no 429.
    let started = tokio::time::Instant::now();
    credentials().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(mock.requests_to(Endpoint::Credentials), sent + 1);
}

#[tokio::test]
async fn a_connection_whose_refresh_failed_says_to_reconnect_not_that_the_key_is_wrong() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(SPACE, "slack").tenant_id("acme"), None);
    assert!(mock.expire_connection("slack", "acme"));
    assert!(!mock.expire_connection("slack", "nobody"));
    let err = mock.client().credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert_eq!((err.status_code(), err.fastn_code()), (Some(401), Some("CONN-REFRESH-FAILED")), "{err}");
    assert!(err.needs_reconnect() && !err.is_unauthorized() && !err.is_transient(), "{err}");
    assert_eq!(count(&mock, "/credentials/"), 1, "not retried");
}

#[tokio::test]
async fn every_error_shape_fastn_returns_reads_to_the_same_codes() {
    for shape in [ErrorShape::Documented, ErrorShape::ErrorString, ErrorShape::CodeAndStatus] {
        let mock = MockServer::builder().connectors(MANIFEST).error_shape(shape).start().await.unwrap();
        let client = mock.client();
        // The answer as sent, in the shape asked for.
        let raw: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/connect/credentials/community/slack", mock.base_url()))
            .header("x-fastn-api-key", MockServer::API_KEY)
            .header("x-fastn-space-id", SPACE)
            .header("x-fastn-space-tenantid", "nobody")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = match shape {
            ErrorShape::ErrorString => &raw["error"],
            ErrorShape::CodeAndStatus => &raw["code"],
            _ => &raw["error"]["code"],
        };
        assert_eq!(code, "NOT_FOUND", "{shape:?}: {raw}");
        let missing = client.credentials("slack").tenant_id("nobody").send().await.unwrap_err();
        assert_eq!(
            (missing.status_code(), missing.fastn_code()),
            (Some(404), Some("NOT_FOUND")),
            "{shape:?}"
        );
        assert!(missing.is_not_connected(), "{shape:?}: {missing}");
        mock.insert_connection(ConnectionKey::new(SPACE, "slack").tenant_id("acme"), None);
        assert!(mock.expire_connection("slack", "acme"));
        let expired = client.credentials("slack").tenant_id("acme").send().await.unwrap_err();
        assert_eq!(expired.fastn_code(), Some("CONN-REFRESH-FAILED"), "{shape:?}: {expired}");
        assert!(expired.needs_reconnect() && !expired.is_unauthorized(), "{shape:?}: {expired}");
        assert!(expired.server_message().is_some_and(|said| said.contains("reconnect")), "{shape:?}");
        let wrong_key = mock.client_builder().api_key("not-the-key").build().unwrap();
        let refused = wrong_key.credentials("slack").tenant_id("acme").send().await.unwrap_err();
        assert_eq!(refused.fastn_code(), Some("AUTH_INVALID"), "{shape:?}: {refused}");
        assert!(refused.is_unauthorized(), "{shape:?}: {refused}");
    }
}

#[tokio::test]
async fn a_rate_limit_set_through_the_control_api_is_announced_and_cleared() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(SPACE, "slack").tenant_id("acme"), None);
    let client = mock.client();
    client.credentials("slack").tenant_id("acme").send().await.unwrap();
    assert_eq!(client.rate_limit(), None, "no limit, none announced");
    let control = |method: reqwest::Method, body: Option<&str>| {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}/_emulator/rate-limit", mock.base_url().trim_end_matches("/api")))
            .header("x-fastn-api-key", MockServer::API_KEY);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        request.send()
    };
    let refused = control(reqwest::Method::PUT, Some(r#"{"limit": 0, "window_secs": 60}"#)).await.unwrap();
    assert_eq!(refused.status(), 400);
    let set = control(reqwest::Method::PUT, Some(r#"{"limit": 3, "window_secs": 60}"#)).await.unwrap();
    assert_eq!(set.status(), 204);
    client.credentials("slack").tenant_id("acme").send().await.unwrap();
    let announced = client.rate_limit().unwrap();
    assert_eq!((announced.limit, announced.remaining), (Some(3), 2));
    assert_eq!(control(reqwest::Method::DELETE, None).await.unwrap().status(), 204);
    let fresh = mock.client();
    fresh.credentials("slack").tenant_id("acme").send().await.unwrap();
    assert_eq!(fresh.rate_limit(), None, "cleared: nothing announced");
}
