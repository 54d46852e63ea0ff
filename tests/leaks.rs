//! No secret — API key, auth token, access or refresh token, secret extra field — appears in
//! TRACE logs (ours and our dependencies'), in `Debug` of any public type, or in any error.

use std::time::Duration;

use fastn_auth::{Endpoint, FastnAuth, PollOptions};
use fastn_auth_emulator::{ConnectionKey, Fault, MockServer};
use fastn_auth_tests::{CapturedLogs, Salesforce, Stripe};

const API_KEY: &str = "key-LEAK-CANARY-1";
const AUTH_TOKEN: &str = "token-LEAK-CANARY-2";
const ACCESS_TOKEN: &str = "access-LEAK-CANARY-3";
const REFRESH_TOKEN: &str = "refresh-LEAK-CANARY-4";
const PUBLISHABLE_KEY: &str = "pk-LEAK-CANARY-5";
/// Nested secrets of real provider answers, printed by nothing.
const NESTED: [&str; 6] = [
    "xoxp-LEAK-CANARY-6",
    "https://hooks.slack.com/services/T0/B0/LEAK-CANARY-7",
    "LEAK-CANARY-8-signature",
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.LEAK-CANARY-9",
    "Bearer LEAK-CANARY-10",
    "sid=LEAK-CANARY-11",
];

// Long on purpose: one transcript. Every path that touches a secret runs under the one
// captured TRACE subscriber, so the final check sees all of them together.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_logs_debug_output_or_errors() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init(); // also routes the `log` records of reqwest and hyper here

    let mock = MockServer::builder()
        .connectors(fastn_auth_tests::MANIFEST)
        .api_key(API_KEY)
        .auth_token(AUTH_TOKEN)
        .auto_approve_after_polls(2)
        .registry(fastn_auth_tests::REGISTRY)
        .start()
        .await
        .unwrap();
    let canned = serde_json::json!({
        "access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "expires_in": 3600,
        "instance_url": "https://acme.my.salesforce.com", "id_token": ACCESS_TOKEN,
        "stripe_user_id": "acct_1", "stripe_publishable_key": PUBLISHABLE_KEY, "livemode": false,
    });
    for connector in ["salesforce", "slack", "stripe"] {
        mock.set_credentials(connector, canned.clone());
    }
    // Slack's OAuth v2 answer, Salesforce's with `signature`, Google's with `id_token`, and
    // header-like values, as an untyped connector would receive them.
    mock.set_credentials(
        "provider-shapes",
        serde_json::json!({
            "access_token": ACCESS_TOKEN, "token_type": "bot", "scope": "chat:write",
            "team": { "id": "T0", "name": "Acme" }, "bot_user_id": "U0",
            "authed_user": { "id": "U1", "scope": "identify", "access_token": NESTED[0], "token_type": "user" },
            "incoming_webhook": { "channel": "#general", "url": NESTED[1] },
            "signature": NESTED[2], "instance_url": "https://acme.my.salesforce.com",
            "id_token": NESTED[3], "headers": [{ "Authorization": NESTED[4] }], "cookie": NESTED[5],
        }),
    );
    let poll = PollOptions::new(Duration::from_millis(5), Duration::from_secs(5));
    let mut shown = Vec::<String>::new();

    for (builder, sent) in [
        (FastnAuth::builder("space").api_key(API_KEY), API_KEY),
        // The key as Fastn's newer documentation sends it: `Authorization: Bearer`.
        (
            FastnAuth::builder("space").api_key(API_KEY).api_key_header(fastn_auth::ApiKeyHeader::Bearer),
            API_KEY,
        ),
        (FastnAuth::builder("space").auth_token(AUTH_TOKEN), AUTH_TOKEN),
    ] {
        let builder = builder
            .base_url(mock.base_url())
            .api_gateway(mock.provider_url())
            .request_timeout(Duration::from_millis(300));
        shown.push(format!("{builder:?}"));
        let client = builder.build().unwrap();
        shown.push(format!("{client:?}"));

        let session = client.connect("slack").tenant_id("acme").send().await.unwrap();
        let result = session.wait_for_completion(poll).await.unwrap();
        shown.push(format!("{session:?} {:?} {result:?} {:?}", session.handle(), session.get_status().await));
        let untyped = client.credentials("slack").tenant_id("acme").send().await.unwrap();
        // (`untyped.extra` alone is a plain serde_json map, whose own Debug shows its values;
        // the README says so. Credentials' Debug redacts it.)
        shown.push(format!("{untyped:?}"));
        let shapes = client.connect("provider-shapes").send().await.unwrap();
        shown.push(format!("{:?}", shapes.wait_for_completion(poll).await.unwrap()));

        let typed = Salesforce::connect(&client).tenant_id("acme").send().await.unwrap();
        shown.push(format!("{typed:?} {:?}", typed.wait_for_completion(poll).await.unwrap()));
        mock.insert_connection(ConnectionKey::new("space", "stripe"), Some(canned.clone()));
        shown.push(format!("{:?}", client.credentials("slack").tenant_id("nobody").send().await));
        let stripe = Stripe::credentials(&client).send().await.unwrap();
        shown.push(format!("{stripe:?} {:?}", stripe.extra));

        // API calls: the token in a bearer header, in Stripe's header from a secret field, and
        // in a query parameter; a rotation (401, refresh, retry), a streamed body's 401,
        // refused paths, and a provider that does not answer.
        let salesforce = Salesforce::api(&client).tenant_id("acme");
        let request = salesforce.get("/sobjects").query(&[("q", "x")]).header("X-Trace", "1");
        shown.push(format!("{salesforce:?} {request:?}"));
        let response = request.send().await.unwrap();
        let head = format!("{response:?}");
        shown.push(format!("{head} {}", response.text().await.unwrap()));
        mock.rotate_token("salesforce", "acme");
        shown.push(format!("{:?}", salesforce.get("/limits").send().await));
        let stripe_api = Stripe::api(&client).no_tenant();
        let response = stripe_api.post("/charges").form(&[("amount", "1")]).send().await.unwrap();
        assert_eq!(response.status(), 200, "the token from the secret field was accepted");
        let head = format!("{stripe_api:?} {response:?}");
        shown.push(format!("{head} {}", response.text().await.unwrap()));
        // The bridges: their Debug, a call through each, the token in a query, and the error
        // of a tenant with no connection (before the query token below, which Slack's API
        // refuses after a refresh: the connection is then broken).
        shown.extend(bridge_transcript(&client, &mock).await);
        let queried = client.api_with(QueryToken).tenant_id("acme");
        shown.push(format!("{queried:?} {:?}", queried.get("/x").send().await));
        let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>("streamed")]);
        let streamed = queried.post("/x").body(reqwest::Body::wrap_stream(chunks)).send().await;
        shown.push(format!("{streamed:?}"));
        // Slack's API refused the query token after a refresh: the connection is broken, and
        // its errors, then a reconnect, are shown too.
        shown.push(format!("{:?}", queried.get("/x").send().await));
        let reconnect = client.reconnect("slack").tenant_id("acme").send().await.unwrap();
        shown.push(format!("{reconnect:?} {:?}", queried.get("/x").send().await));
        reconnect.wait_for_completion(poll).await.unwrap();
        for path in ["//evil.example/x", "/../x", "/x\r\ny"] {
            shown.push(format!("{:?}", salesforce.get(path).send().await));
        }
        mock.insert_connection(
            ConnectionKey::new("space", "salesforce").tenant_id("hostile"),
            Some(serde_json::json!({ "access_token": ACCESS_TOKEN, "instance_url": format!("ftp://{ACCESS_TOKEN}") })),
        );
        let hostile = Salesforce::api(&client).tenant_id("hostile").get("/").send().await;
        shown.push(format!("{hostile:?} {}", hostile.as_ref().unwrap_err()));
        let unreachable = FastnAuth::builder("space")
            .api_key(API_KEY)
            .base_url(mock.base_url())
            .api_base_url("slack", "http://127.0.0.1:1/api")
            .build()
            .unwrap();
        let err = unreachable.api_with(QueryToken).tenant_id("acme").get("/x").send().await.unwrap_err();
        shown.push(format!("{err:?} {err} {:?}", std::error::Error::source(&err)));

        // Tool calls: typed, untyped, a model's, refused by Fastn, refused before sending,
        // the space's key refused, a call that times out.
        let slack_tools = fastn_auth_tests::Slack::tools(&client).tenant_id("acme");
        let message = fastn_auth_tests::SlackSendMessage::new("C1", "hi");
        let call = slack_tools.send_message(message);
        shown.push(format!("{slack_tools:?} {call:?}"));
        shown.push(format!("{:?}", call.send().await));
        let untyped = client.tools("slack").tenant_id("nobody").call_id("x", serde_json::json!({}));
        shown.push(format!("{:?}", untyped.send().await));
        mock.inject(Endpoint::ExecuteTool, Fault::status(401));
        let refused =
            client.tools("slack").tenant_id("acme").call_id("x", serde_json::json!({})).send().await;
        shown.push(format!("{refused:?} {}", refused.as_ref().unwrap_err()));
        // Fastn echoing the key or token it was sent, cut or whole: the operator's error and
        // the model's reply.
        let echoed = format!(r#"{{"message": "no access for {sent} ({})"}}"#, &sent[..10]);
        mock.inject(Endpoint::ExecuteTool, Fault::Body { code: 400, body: echoed.clone() });
        let echo = client.tools("slack").tenant_id("acme").call_id("x", serde_json::json!({})).send().await;
        let echo = echo.unwrap_err();
        shown.push(format!("{echo:?} {echo} {}", echo.brief()));
        mock.inject(
            Endpoint::Status,
            Fault::body(format!(r#"{{"status": "FAILED", "errorMessage": "no access for {sent}"}}"#)),
        );
        let failed = client.connect("slack").tenant_id("acme").send().await.unwrap();
        shown.push(format!("{:?}", failed.wait_for_completion(poll).await));
        let untold = client.tools("slack").call_id("x", serde_json::json!({})).send().await;
        shown.push(format!("{untold:?}"));
        mock.inject(Endpoint::ExecuteTool, Fault::Hang);
        let hung = client.tools("slack").tenant_id("acme").call_id("x", serde_json::json!({}));
        shown.push(format!("{:?}", hung.timeout(Duration::from_millis(100)).send().await));
        let bound = fastn_auth_tests::tool_set().bind(&client).tenant_id("acme");
        let replies = (
            bound.call("slack_send_message", "{}").await,
            bound.call("slack_send_message", r#"{"channel": "C", "text": "t"}"#).await,
        );
        shown.push(format!("{bound:?} {replies:?}"));

        // What an agent's MCP client receives: list, a call, a malformed one, one whose
        // connector the tenant has not connected (a consent URL).
        let server =
            fastn_auth_mcp::McpServer::builder(&client, fastn_auth_tests::tool_set()).tenant("acme").build();
        shown.push(format!("{server:?}"));
        shown.extend(mcp_transcript(server).await);

        // Every error the fault matrix can produce, plus refused input.
        for (endpoint, fault, times) in [
            (Endpoint::Init, Fault::status(401), 1),
            (Endpoint::Init, Fault::Html, 1),
            (Endpoint::Status, Fault::MalformedJson, 1),
            (Endpoint::Status, Fault::Oversized(2 << 20), 1),
            (Endpoint::Status, Fault::UnknownStatus("X".into()), 1),
            (Endpoint::Credentials, Fault::CloseMidBody, 3),
            (
                Endpoint::Credentials,
                Fault::body(format!(r#"{{"access_token":{{"v":"{ACCESS_TOKEN}"}}}}"#)),
                1,
            ),
            (
                Endpoint::Credentials,
                Fault::body(format!(r#"{{"access_token":"a","instance_url":"{REFRESH_TOKEN}"}}"#)),
                1,
            ),
        ] {
            mock.inject_times(endpoint, fault, times);
            let outcome = async {
                let session = Salesforce::connect(&client).send().await?;
                session.wait_for_completion(poll).await
            }
            .await;
            let err = outcome.expect_err("the fault ends the flow");
            shown.push(format!("{err:?} {err} {:?}", std::error::Error::source(&err)));
        }
        let session = client.connect("slack").send().await.unwrap();
        mock.inject(Endpoint::Status, Fault::Hang);
        let timeout = session
            .wait_for_completion(PollOptions::new(Duration::from_millis(1), Duration::from_millis(200)))
            .await;
        shown.push(format!("{timeout:?}"));
        shown.push(format!("{:?}", client.connect("slack").tenant_id("a\r\nb").send().await));
    }
    shown.push(format!("{:?}", FastnAuth::builder("space").api_key(format!("{API_KEY}\n")).build()));
    shown.push(format!("{mock:?} {:?}", mock.requests()));

    let logs = logs.text();
    assert!(
        logs.contains("fastn_auth.request")
            && logs.contains("fastn_auth.api")
            && logs.contains("fastn_auth.tool")
            && logs.contains("TRACE"),
        "TRACE logging was captured:\n{logs}"
    );
    let everything = format!("{}\n{logs}", shown.join("\n"));
    assert!(everything.contains("\"#general\""), "harmless nested fields still show:\n{everything}");
    for secret in
        [API_KEY, AUTH_TOKEN, &API_KEY[..10], &AUTH_TOKEN[..10], ACCESS_TOKEN, REFRESH_TOKEN, PUBLISHABLE_KEY]
            .into_iter()
            .chain(NESTED)
    {
        assert!(!everything.contains(secret), "{secret} leaked:\n{}", context(&everything, secret));
    }
}

/// What the bridges show: `Debug`, answers, errors (a tenant with no connection).
async fn bridge_transcript(client: &FastnAuth, mock: &MockServer) -> Vec<String> {
    use fastn_auth::bridge::{GoogleToken, TokenLayer, TokenMiddleware};
    use google_sheets4::common::GetToken as _;
    let mut shown = Vec::new();
    let slack = |tenant: &str| fastn_auth_tests::Slack::api(client).tenant_id(tenant);
    let middleware = TokenMiddleware::new(slack("acme"));
    let http =
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(middleware.clone()).build();
    let url = format!("{}/slack/auth.test", mock.provider_url());
    let answered = http.get(&url).send().await;
    assert_eq!(answered.as_ref().map(|answer| answer.status().as_u16()).ok(), Some(200), "{answered:?}");
    shown.push(format!("{middleware:?} {http:?} {answered:?}"));
    let nobody = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TokenMiddleware::new(slack("nobody")))
        .build();
    let err = nobody.get(&url).send().await.unwrap_err();
    shown.push(format!("{err:?} {err} {:?}", std::error::Error::source(&err)));
    let layer = TokenLayer::<String>::cloned(slack("acme"));
    shown.push(format!("{layer:?}"));
    let query = TokenLayer::<String>::cloned(client.api_with(QueryToken).tenant_id("acme"));
    shown.push(format!("{query:?}"));
    let google = GoogleToken::new(slack("acme"));
    shown.push(format!("{google:?} {:?}", google.delegate()));
    let missing = GoogleToken::new(slack("nobody")).get_token(&[]).await.unwrap_err();
    assert!(missing.downcast_ref::<fastn_auth::Error>().is_some_and(fastn_auth::Error::is_not_found));
    shown.push(format!("{missing:?} {missing}"));
    shown
}

/// The bodies an MCP client gets from `server` over HTTP for a session's requests.
async fn mcp_transcript(server: fastn_auth_mcp::McpServer) -> Vec<String> {
    let app: axum::Router = server.http().router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let calls = [
        r#"{"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"method":"tools/list","params":{}}"#,
        r#"{"method":"tools/call","params":{"name":"slack_send_message","arguments":{"channel":"C1","text":"hi"}}}"#,
        r#"{"method":"tools/call","params":{"name":"slack_send_message","arguments":{"channel":5}}}"#,
        r#"{"method":"tools/call","params":{"name":"google_sheets__get_values","arguments":{"spreadsheetId":"S","range":"A1"}}}"#,
    ];
    let http = reqwest::Client::new();
    let mut bodies = Vec::new();
    for (id, call) in calls.iter().enumerate() {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},{}"#, &call[1..]);
        let answer = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .body(body)
            .send()
            .await
            .unwrap();
        let head = format!("{answer:?}");
        bodies.push(format!("{head} {}", answer.text().await.unwrap()));
    }
    assert!(bodies[2].contains(r#"\"tenant\":\"acme\""#), "the MCP call ran: {}", bodies[2]);
    assert!(bodies[4].contains("/authorize?state="), "a consent URL: {}", bodies[4]);
    bodies
}

/// Slack with its token in the query string (`?key=…`), as some APIs want it.
#[derive(Clone)]
struct QueryToken;

impl fastn_auth::Connector for QueryToken {
    type Extra = fastn_auth::credentials::ExtraMap;

    fn id(&self) -> &str {
        "slack"
    }

    fn api_spec(&self) -> Option<fastn_auth::connector::ApiSpec> {
        use fastn_auth::connector::{ApiSpec, TokenPlacement};
        Some(ApiSpec::from_static("https://slack.com/api", &[], TokenPlacement::query("key", "access_token")))
    }
}

fn context(text: &str, needle: &str) -> String {
    text.lines().filter(|line| line.contains(needle)).take(5).collect::<Vec<_>>().join("\n")
}
