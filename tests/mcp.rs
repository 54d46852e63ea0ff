//! The MCP server (`fastn-auth-mcp`) over streamable HTTP, driven by the official MCP SDK
//! for Python (`scripts/mcp_client.py`) against the emulator: list, a valid call, a
//! malformed one, connect on demand (a tool error with the URL, and a URL elicitation on the
//! 2026-07-28 protocol), two tenants on one server; and the checks a server reachable from
//! a browser needs. Counts come from the emulator.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use fastn_auth::wire::Endpoint;
use fastn_auth_axum::Tenant;
use fastn_auth_emulator::{ConnectionKey, MockServer};
use fastn_auth_mcp::McpServer;
use serde_json::{Value, json};

/// The app's own auth: a bearer token per tenant.
async fn bearer_auth(mut request: Request, next: Next) -> Response {
    let tenant = match request.headers().get("authorization").and_then(|value| value.to_str().ok()) {
        Some("Bearer token-of-acme") => "acme",
        Some("Bearer token-of-globex") => "globex",
        _ => return axum::http::StatusCode::UNAUTHORIZED.into_response(),
    };
    request.extensions_mut().insert(Tenant(tenant.to_owned()));
    next.run(request).await
}

/// The emulator of the workspace's manifest and registry; acme has Slack connected.
async fn emulator() -> MockServer {
    let mock = MockServer::builder()
        .connectors(fastn_auth_tests::MANIFEST)
        .registry(fastn_auth_tests::REGISTRY)
        .start()
        .await
        .unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    mock
}

/// `server` over HTTP on a loopback port behind the app's bearer auth: its endpoint URL.
async fn serve(server: McpServer) -> String {
    let app: axum::Router = server.http().router().layer(axum::middleware::from_fn(bearer_auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/mcp")
}

/// The emulator, and an MCP server for every tenant of the app; its endpoint URL.
async fn served() -> (MockServer, McpServer, String) {
    let mock = emulator().await;
    let ids = fastn_auth_tests::ConnectorId::ALL.iter().map(|id| id.as_str());
    let server = McpServer::builder(&mock.client(), fastn_auth_tests::tool_set())
        .connectors(ids)
        .poll_interval(std::time::Duration::from_millis(50))
        .build();
    let url = serve(server.clone()).await;
    (mock, server, url)
}

/// Runs `scripts/mcp_client.py` (in the project's venv) with `args` after the emulator's
/// origin: it fails when the scenario does not hold. Its steps by name.
async fn client_steps(mock: &MockServer, args: &[&str]) -> HashMap<String, Value> {
    let origin = mock.base_url().trim_end_matches("/api").to_owned();
    let output = tokio::process::Command::new("bash")
        .arg(concat!(env!("FASTN_AUTH_MANIFEST_DIR"), "/scripts/mcp-client.sh"))
        .arg(&origin)
        .args(args)
        .env("FASTN_SPACE_ID", MockServer::SPACE_ID)
        .env("FASTN_API_KEY", MockServer::API_KEY)
        .env("FASTN_BASE_URL", mock.base_url())
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the MCP client failed:\n{stdout}\n{stderr}");
    let steps = stdout.lines().map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"));
    steps.map(|step| (step["step"].as_str().expect("a step name").to_owned(), step)).collect()
}

#[cfg_attr(missing_python, ignore = "needs python3 (for the official MCP client)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_lists_calls_and_connects_on_demand_over_http() {
    let (mock, server, url) = served().await;
    let steps = client_steps(&mock, &["http", "acme", &url, "token-of-acme"]).await;
    // The script judged the scenario; the elicitation went as the 2026-07-28 protocol asks
    // (an InputRequiredResult, then the call again with the user's answer).
    assert_eq!(steps["elicited"]["protocol"], "2026-07-28", "{}", steps["elicited"]);
    assert_eq!(server.pending_flows(), 0, "every flow the user approved is forgotten");
    assert_eq!(
        mock.requests_to(Endpoint::Init),
        2,
        "hubspot once, google-sheets once (declined, then approved)"
    );
    assert_eq!(
        mock.requests_to(Endpoint::Credentials),
        0,
        "consent, approval and the call again ask only the flow's status: no provider token in the MCP process"
    );
}

#[cfg_attr(missing_python, ignore = "needs python3 (for the official MCP client)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_on_one_server_never_reach_each_others_connections_or_flows() {
    let (mock, server, url) = served().await;
    let steps = client_steps(&mock, &["tenants", &url, "token-of-acme", "token-of-globex"]).await;
    let step = &steps["tenants"];
    assert_eq!(step["a_error"], false, "{step}");
    assert!(step["a_text"].as_str().unwrap().contains(r#""tenant":"acme""#), "{step}");
    // globex has no Slack of its own, and is not handed acme's: its own consent URL.
    assert_eq!(step["b_error"], true, "{step}");
    let page = step["b_page"].as_str().unwrap();
    assert!(page.contains("Tenant <strong>globex</strong>"), "{page}");
    assert!(step["a_again"].as_str().unwrap().contains(r#""tenant":"acme""#), "{step}");
    assert_eq!(server.pending_flows(), 1, "globex's flow only");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 3);
}

#[tokio::test]
async fn browsers_unknown_hosts_and_anonymous_requests_are_refused_before_any_call() {
    let (mock, _server, url) = served().await;
    let http = reqwest::Client::new();
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let post = |origin: Option<&str>, host: Option<&str>, bearer: Option<&str>| {
        let mut request = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .body(list);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(host) = host {
            request = request.header("host", host);
        }
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let status = |response: reqwest::Response| response.status().as_u16();
    assert_eq!(status(post(None, None, None).await.unwrap()), 401, "no tenant");
    assert_eq!(status(post(Some("https://evil.example"), None, Some("token-of-acme")).await.unwrap()), 403);
    assert_eq!(
        status(post(None, Some("evil.example"), Some("token-of-acme")).await.unwrap()),
        403,
        "rebinding"
    );
    let served = post(None, None, Some("token-of-acme")).await.unwrap();
    assert_eq!(status(served), 200);
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 0);
}

/// Waits (at most 20 s) until `done` holds; the test fails otherwise.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..4_000 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_whose_client_hung_up_stop_and_give_their_places_back() {
    let (mock, server, url) = served().await;
    // Every tool call hangs at Fastn until its caller gives up on it.
    mock.inject_times(Endpoint::ExecuteTool, fastn_auth_emulator::Fault::Hang, 1_000);
    let http = reqwest::Client::new();
    let call = |id: usize| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .bearer_auth("token-of-acme")
            .body(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"slack_send_message","arguments":{{"channel":"C1","text":"hi"}}}}}}"#
            ))
            .send()
    };
    let rounds = 20;
    for round in 1..=rounds {
        let calls: Vec<_> = (0..16).map(|id| tokio::spawn(call(id))).collect();
        let reached = (16 * round) as u64;
        until("16 calls reach Fastn", || mock.requests_to(Endpoint::ExecuteTool) == reached).await;
        assert_eq!(server.calls_in_flight(), 16);
        // The 17th is over acme's bound while those run.
        assert_eq!(call(99).await.unwrap().status().as_u16(), 429);
        for call in &calls {
            call.abort();
        }
        until("the hung-up calls stop", || server.calls_in_flight() == 0).await;
    }
    // Each round's calls were admitted, none piled up behind the others.
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 16 * rounds as u64);
    // With nothing in flight, acme is served again at once (here: refused by the tool, not 429).
    mock.clear_faults();
    let answer = call(100).await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}

/// What the official TypeScript MCP SDK lists from a server of `tools`: `{"tools": [names]}`.
async fn listed_by_the_typescript_sdk(tools: fastn_auth_agent::ToolSet) -> Value {
    let mock = MockServer::start().await.unwrap();
    let app: axum::Router = McpServer::builder(&mock.client(), tools)
        .build()
        .http()
        .router()
        .layer(axum::middleware::from_fn(bearer_auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let output = tokio::process::Command::new("bash")
        .arg(concat!(env!("FASTN_AUTH_MANIFEST_DIR"), "/scripts/mcp-ts-client.sh"))
        .args([&url, "token-of-acme"])
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).unwrap()
}

#[cfg_attr(missing_node, ignore = "needs node and npm (for the official TypeScript MCP SDK)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_lists_every_tool_of_the_hard_and_the_sample_registry() {
    for path in ["tests/fixtures/hard-registry.json", ".fastn/registry.json"] {
        let json = std::fs::read_to_string(format!("{}/{path}", env!("FASTN_AUTH_MANIFEST_DIR"))).unwrap();
        let tools = fastn_auth_agent::ToolSet::from_json(&json).unwrap();
        let names: Vec<String> = tools.names().map(str::to_owned).collect();
        let listed = listed_by_the_typescript_sdk(tools).await;
        assert_eq!(listed["tools"], serde_json::json!(names), "{path}");
    }
}

#[cfg_attr(missing_node, ignore = "needs node and npm (for the official TypeScript MCP SDK)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_lists_every_tool_of_a_registry_with_an_untyped_group() {
    // An untyped single group, untyped groups side by side, and a tool whose schema is not
    // an object (left out, and said so), beside an ordinary tool.
    let registry = r#"{"connectors": {"crm": {"id": "c-crm", "tools": {
        "create_note": {"toolId": "t1", "inputSchema": {"properties": {"body": {"properties": {"text": {"type": "string"}}}}}},
        "search": {"toolId": "t2", "inputSchema": {"properties": {"query": {"properties": {"q": {"type": "string"}}},
            "body": {"properties": {"limit": {"type": "integer"}}}}}},
        "ping": {"toolId": "t3", "inputSchema": {"type": "string"}},
        "list": {"toolId": "t4", "description": "List.\u001b[2J\u202e", "inputSchema": {"type": "object", "properties": {}}}}}}}"#;
    let tools = fastn_auth_agent::ToolSet::from_json(registry).unwrap();
    assert_eq!(tools.refused().len(), 1, "{:?}", tools.refused());
    assert!(
        tools.refused()[0].to_string().contains("connectors.crm.tools.ping.inputSchema"),
        "{:?}",
        tools.refused()
    );
    assert_eq!(tools.description("crm_list").unwrap(), r"List.\u{1b}[2J\u{202e}", "escaped for the model");
    let listed = listed_by_the_typescript_sdk(tools).await;
    assert_eq!(listed["tools"], serde_json::json!(["crm_create_note", "crm_list", "crm_search"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastns_text_never_reaches_the_model_and_the_key_never_any_message() {
    let (mock, _server, url) = served().await;
    let echo =
        format!(r#"{{"message": "bad request for key {} at /internal/v2/execute"}}"#, MockServer::API_KEY);
    // The SDK's own error, as the app's log gets it: the key taken out, the rest kept.
    mock.inject(Endpoint::ExecuteTool, fastn_auth_emulator::Fault::Body { code: 400, body: echo.clone() });
    let err =
        mock.client().tools("slack").tenant_id("acme").call_id("t", Value::Null).send().await.unwrap_err();
    let logged = err.to_string();
    assert!(!logged.contains(MockServer::API_KEY) && logged.contains("[REDACTED]"), "{logged}");
    // The model's answer: what failed in the SDK's words, nothing of Fastn's.
    mock.inject(Endpoint::ExecuteTool, fastn_auth_emulator::Fault::Body { code: 400, body: echo });
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slack_send_message","arguments":{"channel":"C1","text":"hi"}}}"#;
    let answer = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .bearer_auth("token-of-acme")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(answer.contains("answered with an error (HTTP 400)"), "{answer}");
    let host = mock.addr().to_string();
    for leaked in [MockServer::API_KEY, "internal", "REDACTED", host.as_str(), "/api/"] {
        assert!(!answer.contains(leaked), "{leaked} in {answer}");
    }
}

#[cfg_attr(missing_python, ignore = "needs python3 (for the official MCP client)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_connection_is_answered_with_the_consent_link_and_works_after_reconnecting() {
    let (mock, _server, url) = served().await;
    let steps = client_steps(&mock, &["broken", &url, "token-of-acme"]).await;
    let step = &steps["broken"];
    assert_eq!((&step["first_error"], &step["broke"]), (&json!(false), &json!(200)), "{step}");
    assert_eq!(step["second_error"], json!(true), "{step}");
    let link = step["link"].as_str().unwrap_or_else(|| panic!("a consent link: {step}"));
    assert!(link.contains("/authorize?state="), "{step}");
    assert!(!step["second_text"].as_str().unwrap().contains("CONN-REFRESH-FAILED"), "no Fastn text: {step}");
    assert_eq!(step["second_delta"]["init"], json!(1), "one reconnect flow started: {step}");
    assert_eq!((&step["approved"], &step["third_error"]), (&json!(200), &json!(false)), "{step}");
    assert!(step["third_text"].as_str().unwrap().contains("\"tenant\":\"acme\""), "the call ran: {step}");
}

#[cfg_attr(missing_python, ignore = "needs python3 (for the official MCP client)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_that_needs_approval_runs_once_on_the_users_yes_to_its_exact_arguments_and_never_else() {
    let mock = emulator().await;
    let tools = fastn_auth_tests::tool_set().require_approval(["slack_send_message"]).unwrap();
    let server = McpServer::builder(&mock.client(), tools)
        .approvals(fastn_auth_agent::Approvals::new([42; 32]))
        .build();
    let url = serve(server).await;
    // The script judged the scenario (unasked, declined, approved: 0, 0, 1 executions, the
    // form showing the exact arguments, on 2026-07-28).
    let steps = client_steps(&mock, &["approval", &url, "token-of-acme"]).await;
    assert_eq!(steps["approval"]["approved_delta"]["executeTool"], 1, "{}", steps["approval"]);
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1);
}

#[tokio::test]
async fn search_mode_lists_two_tools_and_a_found_tool_runs_by_name_with_the_same_checks() {
    let mock = emulator().await;
    let tools = fastn_auth_agent::ToolSet::from_json(fastn_auth_tests::REGISTRY).unwrap();
    let url = serve(McpServer::builder(&mock.client(), tools).search_mode(true).build()).await;
    let http = reqwest::Client::new();
    let rpc = |method: &str, params: Value| {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let request = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .bearer_auth("token-of-acme")
            .body(body.to_string());
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["result"].clone() }
    };
    let listed = rpc("tools/list", json!({})).await;
    let names: Vec<&str> =
        listed["tools"].as_array().unwrap().iter().map(|tool| tool["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["find_tools", "call_tool"]);
    let found = rpc(
        "tools/call",
        json!({"name": "find_tools", "arguments": {"query": "send a Slack message", "limit": 3}}),
    )
    .await;
    let found: Value = serde_json::from_str(found["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(found[0]["name"], "slack_send_message", "{found}");
    assert_eq!(found[0]["inputSchema"]["required"], json!(["channel", "text"]));
    assert!(found.as_array().unwrap().len() <= 3);
    let call = |arguments: Value| {
        rpc(
            "tools/call",
            json!({"name": "call_tool", "arguments": {"name": "slack_send_message", "arguments": arguments}}),
        )
    };
    let bad = call(json!({"channel": 5})).await;
    assert_eq!(bad["isError"], true);
    assert!(bad["content"][0]["text"].as_str().unwrap().contains("/channel"), "{bad}");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 0, "checked before anything is sent");
    let ran = call(json!({"channel": "C1", "text": "found"})).await;
    assert_eq!(ran["isError"], false, "{ran}");
    let direct =
        rpc("tools/call", json!({"name": "slack_send_message", "arguments": {"channel": "C1", "text": "x"}}))
            .await;
    assert_eq!(direct["isError"], true, "only the two tools are callable: {direct}");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1);
}
