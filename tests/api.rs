//! Calling the connected app: `ApiClient` against the emulator's provider API, with every
//! request counted by the emulator.

use std::sync::atomic::Ordering;

use fastn_auth::wire::Endpoint;
use fastn_auth::{ErrorCode, FastnAuth};
use fastn_auth_emulator::{ConnectionKey, Fault, MockServer};
use fastn_auth_tests::{MANIFEST, Notion, Salesforce, Slack, Stripe};
use serde_json::{Value, json};

async fn setup() -> (MockServer, FastnAuth) {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    let client = mock.client();
    (mock, client)
}

fn connect(mock: &MockServer, connector: &str, tenant: &str) -> serde_json::Map<String, Value> {
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, connector).tenant_id(tenant), None)
}

async fn echo(response: fastn_auth::ApiResponse) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn typed_calls_carry_the_token_where_the_manifest_says() {
    let (mock, client) = setup().await;
    connect(&mock, "salesforce", "acme");
    let salesforce = Salesforce::api(&client).tenant_id("acme");
    let answer =
        echo(salesforce.get("/sobjects/Account?limit=2").query(&[("q", "a b")]).send().await.unwrap()).await;
    assert_eq!(answer["path"], "/sobjects/Account");
    assert_eq!(answer["query"], json!({ "limit": "2", "q": "a b" }));
    assert_eq!(answer["headers"]["accept"], "application/json", "the manifest's static header");
    assert_eq!(answer["tenant_id"], "acme");
    assert!(answer["headers"].get("authorization").is_none(), "the echo leaves the token out");

    let created = echo(
        salesforce
            .post("sobjects/Account")
            .json(&json!({ "Name": "Acme" }))
            .header("X-Trace", "1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (created["method"].as_str(), created["body"].clone()),
        (Some("POST"), json!({ "Name": "Acme" }))
    );
    assert_eq!(created["headers"]["x-trace"], "1");
    let csv = echo(salesforce.get("/query").header("Accept", "text/csv").send().await.unwrap()).await;
    assert_eq!(csv["headers"]["accept"], "text/csv", "a request's own header replaces the manifest's");

    // Stripe's token is an extra field in the Authorization header, Notion sends its version.
    connect(&mock, "stripe", "acme");
    let stripe =
        echo(Stripe::api(&client).tenant_id("acme").delete("/customers/c1").send().await.unwrap()).await;
    assert_eq!(stripe["connector_id"], "stripe");
    connect(&mock, "notion", "acme");
    let notion = echo(Notion::api(&client).tenant_id("acme").get("/users/me").send().await.unwrap()).await;
    assert_eq!(notion["headers"]["notion-version"], "2022-06-28");
}

#[tokio::test]
async fn another_tenant_token_or_none_is_the_providers_401_returned_as_it_is() {
    let (mock, client) = setup().await;
    connect(&mock, "slack", "acme");
    let direct = reqwest::Client::new()
        .get(format!("{}/slack/auth.test", mock.provider_url()))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 401);
    assert_eq!(direct.json::<Value>().await.unwrap(), json!({ "error": "invalid_token" }));
    // A tenant with no connection: credentials not found, nothing sent to the provider.
    let before = mock.requests_to(Endpoint::Api);
    let err = Slack::api(&client).tenant_id("globex").get("/auth.test").send().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(mock.requests_to(Endpoint::Api), before);
}

#[tokio::test]
async fn a_thousand_callers_after_a_rotation_cost_one_credentials_request() {
    let (mock, client) = setup().await;
    connect(&mock, "slack", "acme");
    let slack = Slack::api(&client).tenant_id("acme");
    echo(slack.get("/auth.test").send().await.unwrap()).await;
    assert!(mock.rotate_token("slack", "acme"));
    let fetches = mock.requests_to(Endpoint::Credentials);
    let calls: Vec<_> = (0..1000)
        .map(|i| {
            let slack = slack.clone();
            tokio::spawn(async move { slack.get(format!("/conversations.list?page={i}")).send().await })
        })
        .collect();
    let mut not_ok = 0;
    for call in calls {
        if !call.await.unwrap().unwrap().status().is_success() {
            not_ok += 1;
        }
    }
    assert_eq!(not_ok, 0, "every caller got the provider's 200");
    assert_eq!(mock.requests_to(Endpoint::Credentials) - fetches, 1, "one refresh for all of them");
}

#[tokio::test]
async fn a_revoked_connection_is_not_found_after_one_refresh_attempt() {
    let (mock, client) = setup().await;
    connect(&mock, "slack", "acme");
    let slack = Slack::api(&client).tenant_id("acme");
    echo(slack.get("/auth.test").send().await.unwrap()).await;
    assert!(mock.revoke("slack", "acme"));
    let fetches = mock.requests_to(Endpoint::Credentials);
    let err = slack.get("/auth.test").send().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(mock.requests_to(Endpoint::Credentials) - fetches, 1);
    // Remembered for a while: asking again costs no request.
    assert!(slack.get("/auth.test").send().await.unwrap_err().is_not_found());
    assert_eq!(mock.requests_to(Endpoint::Credentials) - fetches, 1);
}

#[tokio::test]
async fn no_token_reaches_another_server_by_path_redirect_or_credentials() {
    let (mock, client) = setup().await;
    let (port, accepted) = fastn_auth_tests::bystander().await;
    connect(&mock, "slack", "acme");
    let slack = Slack::api(&client).tenant_id("acme");
    let sent = mock.requests_to(Endpoint::Api);
    for path in [
        format!("http://127.0.0.1:{port}/x"),
        format!("//127.0.0.1:{port}/x"),
        "/../../../x".to_owned(),
        "/a/%2e%2E/%2e%2e/x".to_owned(),
        format!("\\\\127.0.0.1:{port}/x"),
        format!("/x\r\nHost: 127.0.0.1:{port}"),
        "/x#fragment".to_owned(),
    ] {
        let err = slack.get(&path).send().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigError, "{path:?}: {err}");
    }
    assert_eq!(mock.requests_to(Endpoint::Api), sent, "a refused path sends nothing");

    // A provider that redirects: the 307 comes back, the redirect is not followed.
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_port = redirector.local_addr().unwrap().port();
    let location = format!("http://127.0.0.1:{port}/stolen");
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move { (axum::http::StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, location)]) }
    });
    tokio::spawn(async move { axum::serve(redirector, app).await });
    let redirected = mock
        .client_builder()
        .api_base_url("slack", format!("http://127.0.0.1:{redirect_port}/api"))
        .build()
        .unwrap();
    let response = Slack::api(&redirected).tenant_id("acme").get("/auth.test").send().await.unwrap();
    assert_eq!(response.status(), 307);

    // Hostile instance URLs from the credentials, without the emulator's gateway.
    let plain =
        FastnAuth::builder(MockServer::SPACE_ID).base_url(mock.base_url()).api_key(MockServer::API_KEY);
    let plain = plain.build().unwrap();
    for hostile in [
        format!("https://user:pw@127.0.0.1:{port}"),
        format!("ftp://127.0.0.1:{port}"),
        format!("127.0.0.1:{port}"),
        format!("//127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}/x?y="),
        "http://evil.example".to_owned(),
    ] {
        let tenant = format!("t{}", fastrand::u32(..));
        let key = ConnectionKey::new(MockServer::SPACE_ID, "salesforce").tenant_id(&tenant);
        mock.insert_connection(
            key,
            Some(json!({ "access_token": "stolen-if-seen", "instance_url": hostile })),
        );
        let err = Salesforce::api(&plain).tenant_id(&tenant).get("/sobjects").send().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidResponse, "{hostile}: {err}");
        assert!(err.to_string().contains("instance_url") && !err.to_string().contains("stolen"), "{err}");
    }
    // Through the gateway, even a loopback instance URL (which the rules allow) is replaced.
    mock.insert_connection(
        ConnectionKey::new(MockServer::SPACE_ID, "salesforce").tenant_id("loop"),
        Some(json!({ "access_token": "loop-token", "instance_url": format!("http://127.0.0.1:{port}") })),
    );
    echo(Salesforce::api(&client).tenant_id("loop").get("/sobjects").send().await.unwrap()).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "the other server saw no connection at all");
}

#[tokio::test]
async fn a_streamed_body_is_not_replayed_after_a_401_but_the_token_is_refreshed() {
    let (mock, client) = setup().await;
    connect(&mock, "slack", "acme");
    let slack = Slack::api(&client).tenant_id("acme");
    echo(slack.get("/auth.test").send().await.unwrap()).await;
    mock.rotate_token("slack", "acme");
    let (fetches, sent) = (mock.requests_to(Endpoint::Credentials), mock.requests_to(Endpoint::Api));
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>("streamed")]);
    let response =
        slack.post("/chat.postMessage").body(reqwest::Body::wrap_stream(chunks)).send().await.unwrap();
    assert_eq!(response.status(), 401, "the 401 comes back as it is");
    assert_eq!(mock.requests_to(Endpoint::Api) - sent, 1, "no retry");
    assert_eq!(mock.requests_to(Endpoint::Credentials) - fetches, 1, "refreshed for the next request");
    // The next request carries the new token at once.
    let answer = echo(slack.post("/chat.postMessage").body("again").send().await.unwrap()).await;
    assert_eq!(answer["body"], "again");
    assert_eq!(mock.requests_to(Endpoint::Api) - sent, 2, "no 401 for it");
    assert_eq!(mock.requests_to(Endpoint::Credentials) - fetches, 1);
}

#[tokio::test]
async fn a_busy_provider_is_waited_for_on_get_but_not_on_post() {
    let (mock, client) = setup().await;
    connect(&mock, "slack", "acme");
    let slack = Slack::api(&client).tenant_id("acme");
    mock.inject(Endpoint::Api, Fault::status_retry_after(429, 1));
    let sent = mock.requests_to(Endpoint::Api);
    echo(slack.get("/auth.test").send().await.unwrap()).await;
    assert_eq!(mock.requests_to(Endpoint::Api) - sent, 2, "retried once after Retry-After");

    mock.inject(Endpoint::Api, Fault::status_retry_after(429, 1));
    let sent = mock.requests_to(Endpoint::Api);
    let response = slack.post("/chat.postMessage").json(&json!({ "text": "hi" })).send().await.unwrap();
    assert_eq!(response.status(), 429, "a POST is not repeated unless marked idempotent");
    assert_eq!(mock.requests_to(Endpoint::Api) - sent, 1);
}

#[tokio::test]
async fn untyped_calls_need_a_base_url_and_a_usable_tenant() {
    let (mock, client) = setup().await;
    connect(&mock, "notion", "acme");
    // Without a gateway a call needs a base URL; the emulator's gateway is one for every
    // connector, so there it does not.
    let plain =
        FastnAuth::builder(MockServer::SPACE_ID).base_url(mock.base_url()).api_key(MockServer::API_KEY);
    let plain = plain.build().unwrap();
    let err = plain.api("notion").tenant_id("acme").get("/users").send().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigError);
    assert!(err.to_string().contains("base_url"), "{err}");
    assert_eq!(
        echo(client.api("notion").tenant_id("acme").get("/users").send().await.unwrap()).await["path"],
        "/users"
    );
    let notion = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("acme");
    assert_eq!(echo(notion.get("/users").send().await.unwrap()).await["path"], "/users");
    let bad = client.api("notion").base_url("{instance_url").tenant_id("acme");
    assert_eq!(bad.get("/").send().await.unwrap_err().code(), ErrorCode::ConfigError);
    let sent = mock.requests_to(Endpoint::Credentials);
    let err = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("").get("/").send().await;
    assert_eq!(err.unwrap_err().code(), ErrorCode::ConfigError, "an empty tenant is refused");
    assert_eq!(mock.requests_to(Endpoint::Credentials), sent);
    let debug = format!("{notion:?} {:?}", notion.get("/users"));
    assert!(debug.contains("notion") && !debug.contains("mock-at-"), "{debug}");
}
