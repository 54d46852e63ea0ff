//! The runtime client against the emulator: wire format, pooling, retries, deadlines,
//! hostile input and secrets.
#![cfg(feature = "mock")]

mod common;

use std::time::{Duration, Instant};

use common::{SPACE, client_for, fast, start};
use fastn_auth::mock::{ConnectionKey, Fault, KeyCase, MockServer, Wrapping};
use fastn_auth::{
    AuthStatus, Endpoint, Error, ExposeSecret, FastnAuth, InitOptions, PollOptions, SessionHandle,
};

#[tokio::test]
async fn a_whole_flow_sends_the_official_headers_over_one_connection() {
    let (mock, client) = start(MockServer::builder().auto_approve_after_polls(3)).await;
    let session = client.initialize(InitOptions::new("google-sheets").tenant_id("acme")).await.unwrap();
    assert!(session.redirect_url().starts_with(&format!("http://{}/authorize?state=", mock.addr())));
    assert_eq!(session.id(), session.state_key());

    let result = session.wait_for_completion(fast()).await.unwrap();
    assert_eq!(result.status, AuthStatus::Active);
    let creds = result.credentials.unwrap();
    assert!(creds.access_token.unwrap().expose_secret().starts_with("mock-at-"));
    assert_eq!(creds.expires_in, Some(3599));
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
    assert_eq!(mock.connections_accepted(), 1, "init, polls and credentials share one pooled connection");
}

#[tokio::test]
async fn bearer_token_and_custom_auth_off() {
    let mock = MockServer::builder().auto_approve_after_polls(1).start().await.unwrap();
    let client = FastnAuth::builder(SPACE)
        .auth_token(MockServer::AUTH_TOKEN)
        .custom_auth(false)
        .base_url(mock.base_url())
        .build()
        .unwrap();
    let session =
        client.initialize(InitOptions::new("slack").org_id("org-7").connection_id("c1")).await.unwrap();
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
        let (mock, client) = start(MockServer::builder().credentials_shape(wrapping, keys)).await;
        let stored = mock.insert_connection(ConnectionKey::new(SPACE, "salesforce").tenant_id("acme"), None);
        let creds = client
            .get_credentials(fastn_auth::GetCredentialsOptions::new("salesforce").tenant_id("acme"))
            .await
            .unwrap();
        let label = format!("{wrapping:?}/{keys:?}");
        assert_eq!(creds.access_token.unwrap().expose_secret(), stored["access_token"], "{label}");
        assert_eq!(creds.refresh_token.unwrap().expose_secret(), stored["refresh_token"], "{label}");
        assert_eq!(creds.expires_at.as_deref(), stored["expires_at"].as_str(), "{label}");
        assert_eq!(creds.expires_in, Some(3599), "{label}");
        assert_eq!(creds.extra["instance_url"], "https://acme.my.salesforce.com", "{label}");
        assert!(!creds.extra.contains_key("success") && !creds.extra.contains_key("accessToken"), "{label}");
    }
}

#[tokio::test]
async fn another_tenants_credentials_are_not_found() {
    let (mock, client) = start(MockServer::builder()).await;
    mock.insert_connection(ConnectionKey::new(SPACE, "slack").tenant_id("acme"), None);
    let err = client
        .get_credentials(fastn_auth::GetCredentialsOptions::new("slack").tenant_id("globex"))
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status_code()), ("NETWORK_ERROR", Some(404)));
}

#[tokio::test]
async fn a_503_on_the_second_poll_is_survived() {
    let (mock, client) = start(MockServer::builder().auto_approve_after_polls(3)).await;
    let session = client.initialize("hubspot").await.unwrap();
    assert_eq!(session.get_status().await.unwrap().status, AuthStatus::Inactive);
    mock.inject(Endpoint::Status, Fault::status(503));
    let result = session.wait_for_completion(fast()).await.unwrap();
    assert!(result.credentials.unwrap().extra["hub_id"].is_i64());
}

#[tokio::test]
async fn every_transient_status_and_a_broken_connection_are_survived_while_polling() {
    let (mock, client) = start(MockServer::builder().auto_approve_after_polls(1)).await;
    let faults =
        [408, 425, 429, 500, 502, 503, 504].map(Fault::status).into_iter().chain([Fault::CloseMidBody]);
    for fault in faults {
        let session = client.initialize("github").await.unwrap();
        mock.inject(Endpoint::Status, fault.clone());
        mock.clear_requests();
        session.wait_for_completion(fast()).await.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        let polls = mock.requests().iter().filter(|r| r.path.contains("/status/")).count();
        assert_eq!(polls, 2, "{fault:?}: one failed poll, one that sees ACTIVE");
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (mock, client) = start(MockServer::builder().auto_approve_after_polls(1)).await;
    let session = client.initialize("notion").await.unwrap();
    mock.inject(Endpoint::Status, Fault::status_retry_after(429, 1));
    let started = Instant::now();
    session.wait_for_completion(fast()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test]
async fn client_errors_end_the_wait() {
    for code in [401, 403, 404] {
        let (mock, client) = start(MockServer::builder()).await;
        let session = client.initialize("slack").await.unwrap();
        mock.inject(Endpoint::Status, Fault::status(code));
        let err = session.wait_for_completion(fast()).await.unwrap_err();
        assert_eq!((err.code(), err.status_code()), ("NETWORK_ERROR", Some(code)));
        assert!(err.to_string().contains("GET /connect/status/{state}"), "{err}");
    }
}

#[tokio::test]
async fn init_and_credentials_retry_transient_faults_a_bounded_number_of_times() {
    let (mock, client) = start(MockServer::builder()).await;
    mock.inject_times(Endpoint::Init, Fault::status(502), 2);
    client.initialize("slack").await.expect("two retries by default");

    mock.inject_times(Endpoint::Init, Fault::status(502), 3);
    let err = client.initialize("slack").await.unwrap_err();
    assert_eq!(err.status_code(), Some(502));

    let no_retries = client_for(&mock).max_retries(0).build().unwrap();
    mock.insert_connection(ConnectionKey::new(SPACE, "slack"), None);
    mock.inject(Endpoint::Credentials, Fault::status(503));
    assert_eq!(no_retries.get_credentials("slack").await.unwrap_err().status_code(), Some(503));
    mock.inject(Endpoint::Credentials, Fault::status(503));
    client.get_credentials("slack").await.expect("retried");
}

#[tokio::test]
async fn a_hanging_status_call_times_out_on_time() {
    let (mock, client) = start(MockServer::builder()).await;
    let session = client.initialize("slack").await.unwrap();
    mock.inject(Endpoint::Status, Fault::Hang);
    let timeout = Duration::from_millis(600);
    let started = Instant::now();
    let err =
        session.wait_for_completion(PollOptions::new(Duration::from_millis(10), timeout)).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Timeout { timeout: t, last_status: None } if t == timeout), "{err:?}");
    assert_eq!(err.code(), "TIMEOUT");
    assert!(elapsed >= timeout && elapsed < timeout + Duration::from_millis(250), "{elapsed:?}");
}

#[tokio::test]
async fn a_hanging_request_is_cut_by_the_request_timeout_and_retried() {
    let mock = MockServer::start().await.unwrap();
    let client = client_for(&mock).request_timeout(Duration::from_millis(200)).build().unwrap();
    mock.inject(Endpoint::Init, Fault::Hang);
    let started = Instant::now();
    client.initialize("slack").await.expect("the retry succeeds");
    assert!(started.elapsed() >= Duration::from_millis(200));

    let no_retries =
        client_for(&mock).request_timeout(Duration::from_millis(200)).max_retries(0).build().unwrap();
    mock.inject(Endpoint::Init, Fault::Hang);
    let err = no_retries.initialize("slack").await.unwrap_err();
    assert_eq!((err.code(), err.status_code()), ("NETWORK_ERROR", None));
    assert!(err.to_string().contains("no complete answer within 200ms"), "{err}");
}

#[tokio::test]
async fn bad_answers_are_typed_errors_naming_the_endpoint() {
    let cases = [
        (Fault::UnknownStatus("PENDING_REVIEW".into()), "unknown status \"PENDING_REVIEW\""),
        (Fault::MalformedJson, "expected a JSON object, got a body that is not JSON"),
        (Fault::Html, "expected a JSON object, got an HTML page"),
        (Fault::Oversized(2 * 1024 * 1024), "exceeds the limit of 1048576 bytes"),
        (Fault::body(r#"{"errorMessage":"x"}"#), "the required field `status` is missing"),
        (Fault::body(r#"{"status":true}"#), "`status` must be a string, got a boolean"),
        (Fault::body("[1,2]"), "expected a JSON object, got an array"),
    ];
    for (fault, expected) in cases {
        let (mock, client) = start(MockServer::builder()).await;
        let session = client.initialize("slack").await.unwrap();
        mock.inject(Endpoint::Status, fault.clone());
        let err = session.wait_for_completion(fast()).await.unwrap_err();
        assert_eq!(err.code(), "INVALID_RESPONSE", "{fault:?}: {err}");
        let text = err.to_string();
        assert!(text.contains(expected) && text.contains("/connect/status/"), "{fault:?}: {text}");
    }
}

#[tokio::test]
async fn init_without_state_and_credentials_with_wrong_types_are_invalid() {
    let (mock, client) = start(MockServer::builder()).await;
    mock.inject(Endpoint::Init, Fault::body(r#"{"success":true,"redirectUrl":"x"}"#));
    let err = client.initialize("slack").await.unwrap_err();
    assert!(err.to_string().contains("`state` is missing"), "{err}");

    mock.inject(Endpoint::Credentials, Fault::body(r#"{"access_token":42}"#));
    let err = client.get_credentials("slack").await.unwrap_err();
    assert_eq!(err.code(), "INVALID_RESPONSE");
    assert!(err.to_string().contains("`access_token` must be a string, got a number"), "{err}");
}

#[tokio::test]
async fn a_denied_flow_is_an_authentication_error_with_the_server_message() {
    let (mock, client) = start(MockServer::builder()).await;
    let session = client.initialize("stripe").await.unwrap();
    assert!(mock.deny(session.state_key(), "user denied access"));
    let err = session.wait_for_completion(fast()).await.unwrap_err();
    assert!(matches!(&err, Error::Authentication { message } if message == "user denied access"), "{err:?}");
    assert_eq!(err.code(), "AUTH_FAILED");
}

#[tokio::test]
async fn path_parameters_cannot_escape_their_segment() {
    let (mock, client) = start(MockServer::builder()).await;
    client.initialize(InitOptions::new("../admin").org_id("a/b?c#d")).await.unwrap();
    assert_eq!(mock.requests()[0].path, "/api/connect/init/a%2Fb%3Fc%23d/..%2Fadmin");
    for bad in ["", ".", ".."] {
        let err = client.initialize(bad).await.unwrap_err();
        assert_eq!(err.code(), "CONFIG_ERROR", "{bad:?}");
    }
    assert_eq!(mock.requests().len(), 1, "refused ids send nothing");
}

#[tokio::test]
async fn header_unsafe_ids_send_no_request() {
    let (mock, client) = start(MockServer::builder()).await;
    for (options, field) in [
        (InitOptions::new("slack").tenant_id("acme\r\nx-fastn-space-id: other"), "tenant_id"),
        (InitOptions::new("slack").connection_id("c1\n"), "connection_id"),
        (InitOptions::new("slack").tenant_id("nul\0"), "tenant_id"),
    ] {
        let err = client.initialize(options.clone()).await.unwrap_err();
        assert_eq!(err.code(), "CONFIG_ERROR");
        assert!(err.to_string().contains(field), "{err}");
        let err = client.get_credentials(options).await.unwrap_err();
        assert_eq!(err.code(), "CONFIG_ERROR");
    }
    let err = client_for(&mock)
        .build()
        .map(|_| ())
        .and(FastnAuth::builder("sp\r\nace").api_key("k").build().map(|_| ()));
    assert_eq!(err.unwrap_err().code(), "CONFIG_ERROR");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn redirects_to_another_origin_are_not_followed() {
    let (mock, client) = start(MockServer::builder()).await;
    let elsewhere = MockServer::start().await.unwrap();
    mock.inject(
        Endpoint::Init,
        Fault::Redirect(format!("{}/connect/init/community/slack", elsewhere.base_url())),
    );
    let err = client.initialize("slack").await.unwrap_err();
    assert_eq!(err.status_code(), Some(307));
    assert!(elsewhere.requests().is_empty(), "the API key never reached the other host");
}

#[tokio::test]
async fn a_resumed_handle_completes_the_flow_from_another_client() {
    let (mock, client) = start(MockServer::builder()).await;
    let session = client.initialize(InitOptions::new("notion").tenant_id("acme")).await.unwrap();
    let stored = serde_json::to_string(&session.handle()).unwrap();
    assert!(!stored.contains(MockServer::API_KEY));
    drop((session, client));

    let other = client_for(&mock).build().unwrap();
    let handle: SessionHandle = serde_json::from_str(&stored).unwrap();
    assert!(mock.approve(handle.state()));
    let resumed = other.resume(handle);
    let creds = resumed.wait_for_completion(fast()).await.unwrap().credentials.unwrap();
    assert!(creds.extra["workspace_name"].as_str().unwrap().starts_with("acme"));
    assert!(mock.requests().last().unwrap().header("x-fastn-space-tenantid") == Some("acme"));
}

#[tokio::test]
async fn many_sessions_share_a_bounded_number_of_connections() {
    let (mock, _) = start(MockServer::builder().auto_approve_after_polls(3)).await;
    let client = client_for(&mock).max_in_flight(4).build().unwrap();
    let flows = (0..100).map(|i| {
        let client = client.clone();
        async move {
            let session = client.initialize(InitOptions::new("slack").tenant_id(format!("t{i}"))).await?;
            session.wait_for_completion(fast()).await
        }
    });
    let results = futures_join_all(flows).await;
    assert!(results.iter().all(Result::is_ok));
    assert!(mock.connections_accepted() <= 4, "{} connections", mock.connections_accepted());
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("task does not panic"));
    }
    outputs
}

#[tokio::test]
async fn no_secret_reaches_debug_output_or_errors() {
    let key = "key-SECRET-123";
    let mock = MockServer::builder().api_key(key).auto_approve_after_polls(1).start().await.unwrap();
    let client = FastnAuth::builder(SPACE).api_key(key).base_url(mock.base_url()).build().unwrap();
    let session = client.initialize("google-sheets").await.unwrap();
    let result = session.wait_for_completion(fast()).await.unwrap();
    let creds = result.credentials.clone().unwrap();
    let access = creds.access_token.as_ref().unwrap().expose_secret().to_owned();
    let refresh = creds.refresh_token.as_ref().unwrap().expose_secret().to_owned();
    let id_token = creds.extra["id_token"].as_str().unwrap().to_owned();

    mock.inject(Endpoint::Status, Fault::status(401));
    let err = session.get_status().await.unwrap_err();
    let shown = format!(
        "{client:?} {session:?} {result:?} {creds:?} {err:?} {err} {:?} {:?}",
        session.handle(),
        mock.requests()
    );
    for secret in [key, &access, &refresh, &id_token] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
}

#[tokio::test]
async fn the_emulator_refuses_unknown_keys_and_states() {
    let mock = MockServer::start().await.unwrap();
    let wrong = FastnAuth::builder(SPACE).api_key("wrong").base_url(mock.base_url()).build().unwrap();
    assert_eq!(wrong.initialize("slack").await.unwrap_err().status_code(), Some(401));
    let client = client_for(&mock).build().unwrap();
    let handle: SessionHandle = serde_json::from_value(serde_json::json!({
        "connector_id": "slack", "org_id": "community", "state": "no-such-state"
    }))
    .unwrap();
    assert_eq!(client.resume(handle).get_status().await.unwrap_err().status_code(), Some(404));
}

#[tokio::test]
async fn dropping_the_wait_stops_all_work() {
    let (mock, client) = start(MockServer::builder()).await;
    let session = client.initialize("slack").await.unwrap();
    let polling =
        session.wait_for_completion(PollOptions::new(Duration::from_millis(10), Duration::from_secs(30)));
    assert!(tokio::time::timeout(Duration::from_millis(200), polling).await.is_err(), "still waiting");
    let polls = mock.requests().len();
    assert!(polls > 3, "it was polling: {polls}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mock.requests().len(), polls, "no poll after the future was dropped");

    mock.inject(Endpoint::Status, Fault::Hang);
    let hung = session.wait_for_completion(fast());
    assert!(tokio::time::timeout(Duration::from_millis(200), hung).await.is_err());
    // The abandoned request's connection is not reused half-read: the next call works.
    assert_eq!(session.get_status().await.unwrap().status, AuthStatus::Inactive);
}
