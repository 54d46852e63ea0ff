//! Fastn's connections API through the SDK against the emulator: a flow whose user comes back
//! to the app's page, a connection's status by id and by connector and tenant, the wait, and
//! what is refused before sending. Counts come from the emulator.

use std::time::Duration;

use fastn_auth::wire::Endpoint;
use fastn_auth::{AuthStatus, ErrorCode, PollOptions};
use fastn_auth_emulator::{Fault, MockServer};

const BACK: &str = "https://app.example.com/integrations?tab=crm";

fn fast() -> PollOptions {
    PollOptions::new(Duration::from_millis(10), Duration::from_secs(5))
}

#[tokio::test]
async fn the_user_authorizes_and_comes_back_to_the_apps_page() {
    let mock = MockServer::start().await.unwrap();
    let client = mock.client();
    let connections = client.connections();
    let started = connections.initiate("hubspot").tenant_id("acme").redirect_url(BACK).send().await.unwrap();
    assert_eq!((started.status, started.expires_in), (AuthStatus::Inactive, Some(Duration::from_secs(600))));
    assert!(
        started.auth_url.as_str().starts_with(mock.base_url().trim_end_matches("/api")),
        "{}",
        started.auth_url
    );
    let pending = connections.status().connection_id(&started.connection_id).send().await.unwrap();
    assert_eq!((pending.status, pending.connector.as_deref()), (AuthStatus::Inactive, Some("hubspot")));

    // The consent page's form, as a browser posts it: approved, the user goes back to the app.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = browser.get(started.auth_url.clone()).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let origin = mock.base_url().trim_end_matches("/api").to_owned();
    let decided = browser
        .post(format!("{origin}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("state={}&decision=approve&csrf={csrf}", started.connection_id))
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 303);
    let back = decided.headers()["location"].to_str().unwrap().to_owned();
    let expected = format!("{BACK}&connection_id={}&status=authorized", started.connection_id);
    assert_eq!(back, expected);

    let connected = connections.wait_until_authorized(&started.connection_id, fast()).await.unwrap();
    assert_eq!((connected.status, connected.tenant_id.as_deref()), (AuthStatus::Active, Some("acme")));
    let by_tenant = connections.status().connector("hubspot").tenant_id("acme").send().await.unwrap();
    assert_eq!(by_tenant.status, AuthStatus::Active);
    // The connect API sees the same connection.
    assert!(client.credentials("hubspot").tenant_id("acme").send().await.is_ok());
}

#[tokio::test]
async fn the_wait_polls_until_authorized_and_a_denied_flow_needs_a_reconnect() {
    let mock = MockServer::builder().auto_approve_after_polls(3).start().await.unwrap();
    let connections = mock.client().connections();
    let started = connections.initiate("slack").tenant_id("acme").redirect_url(BACK).send().await.unwrap();
    connections.wait_until_authorized(&started.connection_id, fast()).await.unwrap();
    assert_eq!(mock.requests_to(Endpoint::ConnectionsStatus), 3);

    let denied = MockServer::start().await.unwrap();
    let connections = denied.client().connections();
    let started = connections.initiate("slack").tenant_id("acme").redirect_url(BACK).send().await.unwrap();
    assert!(denied.deny(&started.connection_id, "user denied access"));
    let err = connections.wait_until_authorized(&started.connection_id, fast()).await.unwrap_err();
    assert!(err.needs_reconnect() && err.code() == ErrorCode::AuthFailed, "{err:?}");
    let unknown = connections.status().connection_id("no-such-connection").send().await.unwrap_err();
    assert!(unknown.is_not_connected() && unknown.status_code() == Some(404), "{unknown:?}");
}

#[tokio::test]
async fn what_cannot_work_is_refused_unsent_and_a_wrapped_answer_is_read() {
    let mock = MockServer::start().await.unwrap();
    let connections = mock.client().connections();
    for (request, expected) in [
        (connections.initiate("slack").redirect_url(BACK), "tenant_id"),
        (connections.initiate("slack").tenant_id("acme"), "redirect_url"),
        (connections.initiate("slack").tenant_id("acme").redirect_url("javascript:alert(1)"), "http(s)"),
        (connections.initiate("").tenant_id("acme").redirect_url(BACK), "connector"),
    ] {
        let err = request.send().await.unwrap_err();
        assert!(err.code() == ErrorCode::ConfigError && err.to_string().contains(expected), "{err}");
    }
    let err = connections.status().connector("slack").send().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigError, "{err}");
    assert_eq!(
        mock.requests_to(Endpoint::ConnectionsInitiate) + mock.requests_to(Endpoint::ConnectionsStatus),
        0
    );

    let wrapped = r#"{"body": {"connection_id": "ucl:org_1:live:slack:a1:acme", "auth_url": "https://fastn.example/auth",
        "status": "pending", "expires_in": 600}}"#;
    mock.inject(Endpoint::ConnectionsInitiate, Fault::body(wrapped));
    let started = connections.initiate("slack").tenant_id("acme").redirect_url(BACK).send().await.unwrap();
    assert_eq!(started.connection_id, "ucl:org_1:live:slack:a1:acme");
    let hostile = r#"{"connection_id": "c1", "auth_url": "javascript:alert(1)", "status": "pending"}"#;
    mock.inject(Endpoint::ConnectionsInitiate, Fault::body(hostile));
    let err = connections.initiate("slack").tenant_id("acme").redirect_url(BACK).send().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidResponse, "{err}");
}

#[tokio::test]
async fn an_expired_connection_reads_expired_everywhere_and_needs_a_reconnect() {
    let mock = MockServer::builder().auto_approve_after_polls(1).start().await.unwrap();
    let client = mock.client();
    let session = client.connect("hubspot").tenant_id("acme").send().await.unwrap();
    session.wait_for_completion(fast()).await.unwrap();
    assert!(mock.expire_connection("hubspot", "acme"));

    assert_eq!(session.get_status().await.unwrap().status, AuthStatus::Expired, "the flow's status");
    let err = session.wait_for_completion(fast()).await.unwrap_err();
    assert!(err.needs_reconnect(), "{err:?}");
    let by_tenant =
        client.connections().status().connector("hubspot").tenant_id("acme").send().await.unwrap();
    assert_eq!(by_tenant.status, AuthStatus::Expired, "the connections API's `expired`");
    // The status said so already: the connection is known broken, its call refused unsent.
    let asked = mock.requests_to(Endpoint::Credentials);
    let err = client.credentials("hubspot").tenant_id("acme").send().await.unwrap_err();
    assert!(err.code() == ErrorCode::ReconnectRequired && err.needs_reconnect(), "{err}");
    assert_eq!(mock.requests_to(Endpoint::Credentials), asked);
}
