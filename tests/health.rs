//! Connection health against the emulator, which breaks connections on demand: one event
//! per change, a broken connection's calls refused without asking Fastn or the provider,
//! the probes' back-off on paused time, and a reconnect that mends it. Counts come from the
//! emulator.

use std::time::Duration;

use fastn_auth::health::{BreakReason, EventKind, FIRST_PROBE_AFTER, HealthState};
use fastn_auth::wire::Endpoint;
use fastn_auth::{ErrorCode, FastnAuth, PollOptions};
use fastn_auth_emulator::{ConnectionBreak, ConnectionKey, MockServer};
use fastn_auth_tests::{MANIFEST, Slack};
use futures_util::StreamExt as _;

async fn setup() -> (MockServer, FastnAuth) {
    let mock = MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(1).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let client = mock.client_builder().cache(fastn_auth::CacheOptions::default()).build().unwrap();
    (mock, client)
}

/// The kinds of the events received so far, without waiting for more.
fn received(events: &mut fastn_auth::health::ConnectionEvents) -> Vec<String> {
    let mut kinds = Vec::new();
    while let Some(Some(event)) = futures_util::FutureExt::now_or_never(events.next()) {
        kinds.push(event.unwrap().kind.as_str().to_owned());
    }
    kinds
}

fn fast() -> PollOptions {
    PollOptions::new(Duration::from_millis(10), Duration::from_secs(5))
}

/// Connects the tenant again and waits for the flow to end `ACTIVE`.
async fn reconnect(client: &FastnAuth) {
    let session = client.reconnect("slack").tenant_id("acme").send().await.unwrap();
    session.wait_for_completion(fast()).await.unwrap();
}

#[tokio::test]
async fn a_refresh_that_failed_breaks_it_once_and_a_hundred_calls_cost_no_request() {
    let (mock, client) = setup().await;
    let mut events = client.events();
    client.credentials("slack").tenant_id("acme").send().await.unwrap();
    mock.break_connection("slack", "acme", ConnectionBreak::RefreshFailed);
    // The cached token is still valid: the break is seen on the next fetch.
    let err = client.credentials("slack").tenant_id("acme").fresh().send().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReconnectRequired, "{err}");
    let asked = mock.requests_to(Endpoint::Credentials);
    for _ in 0..100 {
        let err = client.credentials("slack").tenant_id("acme").send().await.unwrap_err();
        assert!(err.needs_reconnect() && err.fastn_code() == Some("CONN-REFRESH-FAILED"), "{err}");
    }
    assert_eq!(mock.requests_to(Endpoint::Credentials), asked, "refused at once, nothing asked");
    assert_eq!(received(&mut events), ["broken"], "one event for the change, none per call");
    let health = client.health("slack").tenant_id("acme").send().await;
    let broken = HealthState::Broken {
        reason: BreakReason::RefreshFailed,
        fastn_code: Some("CONN-REFRESH-FAILED".into()),
    };
    assert_eq!(health.state, broken);

    reconnect(&client).await;
    assert_eq!(received(&mut events), ["reconnected"]);
    assert!(client.credentials("slack").tenant_id("acme").send().await.is_ok(), "the next call succeeds");
    assert_eq!(client.health("slack").tenant_id("acme").send().await.state, HealthState::Healthy);
}

#[tokio::test]
async fn a_token_the_provider_revoked_stops_provider_calls_until_a_reconnect() {
    let (mock, client) = setup().await;
    let mut events = client.events();
    let slack = Slack::api(&client).tenant_id("acme");
    assert_eq!(slack.get("/auth.test").send().await.unwrap().status(), 200);
    mock.break_connection("slack", "acme", ConnectionBreak::Revoked);
    // 401, a refresh that hands back the same token: revoked at the provider.
    assert_eq!(slack.get("/auth.test").send().await.unwrap().status(), 401);
    assert_eq!(received(&mut events), ["broken"]);
    let (fastn, provider) = (mock.requests_to(Endpoint::Credentials), mock.requests_to(Endpoint::Api));
    for _ in 0..100 {
        let err = slack.get("/auth.test").send().await.unwrap_err();
        assert!(err.needs_reconnect() && err.code() == ErrorCode::ReconnectRequired, "{err}");
    }
    assert_eq!(mock.requests_to(Endpoint::Api), provider, "no call with the revoked token");
    assert!(mock.requests_to(Endpoint::Credentials) - fastn <= 2, "at most a probe of Fastn");
    let session = client.reconnect("slack").tenant_id("acme").send().await.unwrap();
    let refused = slack.get("/auth.test").send().await.unwrap_err();
    assert_eq!(
        refused.reconnect_url(),
        session.redirect_url(),
        "calls point at the reconnect's consent page"
    );
    session.wait_for_completion(fast()).await.unwrap();
    assert_eq!(received(&mut events), ["reconnected"]);
    assert_eq!(slack.get("/auth.test").send().await.unwrap().status(), 200, "the next API call is 200");
}

#[tokio::test]
async fn an_expired_connection_and_a_deleted_one_are_told_apart() {
    let (mock, client) = setup().await;
    let mut events = client.events();
    let session = client.connect("slack").tenant_id("acme").send().await.unwrap();
    session.wait_for_completion(fast()).await.unwrap();
    assert_eq!(received(&mut events), ["connected"]);
    mock.break_connection("slack", "acme", ConnectionBreak::Expired);
    assert_eq!(session.get_status().await.unwrap().status, fastn_auth::AuthStatus::Expired);
    let expired = HealthState::Broken { reason: BreakReason::Expired, fastn_code: None };
    assert_eq!(client.health("slack").tenant_id("acme").send().await.state, expired);
    assert_eq!(received(&mut events), ["broken"]);

    reconnect(&client).await;
    let slack = Slack::api(&client).tenant_id("acme");
    assert_eq!(slack.get("/auth.test").send().await.unwrap().status(), 200);
    mock.break_connection("slack", "acme", ConnectionBreak::Deleted);
    // The provider refuses the token; the refresh finds no connection at Fastn.
    assert!(slack.get("/auth.test").send().await.unwrap_err().is_not_connected());
    assert_eq!(received(&mut events), ["reconnected", "disconnected"]);
    let never = client.credentials("slack").tenant_id("never-connected").send().await.unwrap_err();
    assert!(never.is_not_connected());
    assert_eq!(client.health("slack").tenant_id("never-connected").send().await.state, HealthState::Unknown);
    assert!(received(&mut events).is_empty(), "a connection never made is not disconnected");
}

#[tokio::test(start_paused = true)]
async fn a_broken_connection_is_probed_after_its_back_off_and_a_probe_mends_it() {
    let (mock, client) = setup().await;
    mock.break_connection("slack", "acme", ConnectionBreak::RefreshFailed);
    assert!(client.credentials("slack").tenant_id("acme").send().await.unwrap_err().needs_reconnect());
    let asked = mock.requests_to(Endpoint::Credentials);
    tokio::time::advance(FIRST_PROBE_AFTER - Duration::from_secs(1)).await;
    assert!(client.credentials("slack").tenant_id("acme").send().await.is_err());
    assert_eq!(mock.requests_to(Endpoint::Credentials), asked, "within the back-off");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(client.credentials("slack").tenant_id("acme").send().await.is_err());
    assert_eq!(mock.requests_to(Endpoint::Credentials), asked + 1, "one probe");
    // The next probe waits twice as long: 60 s.
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(client.credentials("slack").tenant_id("acme").send().await.is_err());
    assert_eq!(mock.requests_to(Endpoint::Credentials), asked + 1);

    // Mended at Fastn (a reconnect elsewhere): the asked-for probe finds it healthy.
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let mut events = client.events();
    let health = client.health("slack").tenant_id("acme").probe().send().await;
    assert_eq!(health.state, HealthState::Healthy);
    assert_eq!(events.next().await.unwrap().unwrap().kind, EventKind::Reconnected);
    assert!(client.credentials("slack").tenant_id("acme").send().await.is_ok());
}

#[tokio::test]
async fn a_tool_call_tells_the_connection_broke_and_works_after_the_reconnect() {
    let mock = MockServer::builder()
        .connectors(MANIFEST)
        .registry(fastn_auth_tests::REGISTRY)
        .auto_approve_after_polls(1)
        .start()
        .await
        .unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let client = mock.client();
    let mut events = client.events();
    let message = || fastn_auth_tests::SlackSendMessage::new("C1", "hi");
    let tools = Slack::tools(&client).tenant_id("acme");
    assert!(tools.send_message(message()).send().await.is_ok());
    mock.break_connection("slack", "acme", ConnectionBreak::RefreshFailed);
    let err = tools.send_message(message()).send().await.unwrap_err();
    assert!(err.needs_reconnect() && err.fastn_code() == Some("CONN-REFRESH-FAILED"), "{err}");
    assert_eq!(received(&mut events), ["broken"], "told under the connector's own id");
    assert!(matches!(
        client.health("slack").tenant_id("acme").send().await.state,
        HealthState::Broken { .. }
    ));
    reconnect(&client).await;
    assert!(tools.send_message(message()).send().await.is_ok());
    assert_eq!(received(&mut events), ["reconnected"]);
}
