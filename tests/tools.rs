//! Fastn tools through the SDK against the emulator: what is sent, what is retried (never an
//! action that may have reached Fastn), what is refused before sending, and the registry
//! synced from the emulator's GraphQL. Counts come from the emulator.

use std::time::Duration;

use fastn_auth::wire::Endpoint;
use fastn_auth_agent::{BoundTools, Registry, RegistrySync, ToolSet};
use fastn_auth_emulator::{ConnectionKey, Fault, MockServer};
use serde_json::json;

/// The workspace's sample registry (`.fastn/registry.json`).
pub(crate) const REGISTRY: &str = include_str!("../.fastn/registry.json");

pub(crate) async fn emulator() -> MockServer {
    let mock = MockServer::builder().registry(REGISTRY).start().await.unwrap();
    for connector in ["slack", "google-sheets", "hubspot"] {
        mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, connector).tenant_id("acme"), None);
    }
    mock
}

fn client(mock: &MockServer) -> fastn_auth::FastnAuth {
    fastn_auth::FastnAuth::builder(MockServer::SPACE_ID)
        .api_key(MockServer::API_KEY)
        .base_url(mock.base_url())
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

/// The sample registry's tools through `client`, checked before sending.
fn checked(client: &fastn_auth::FastnAuth) -> BoundTools {
    ToolSet::from_json(REGISTRY).unwrap().bind(client)
}

#[tokio::test]
async fn an_untyped_call_sends_the_schemas_structure_and_keeps_the_envelope() {
    let mock = emulator().await;
    let client = client(&mock);
    let slack = checked(&client).tenant_id("acme");
    let output = slack
        .call_tool("slack", "send_message", json!({"channel": "C1", "text": "hi"}))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(output.status(), Some(200));
    let echo = output.body();
    assert_eq!(echo["parameters"], json!({"body": {"channel": "C1", "text": "hi"}}));
    assert_eq!(
        (echo["tenant"].as_str(), echo["agentId"].as_str()),
        (Some("acme"), Some(MockServer::SPACE_ID))
    );
    assert!(output.raw_body().is_some_and(|raw| raw.contains("send_message")));
    // Several groups are the caller's structure as it is.
    let sheets = checked(&client).tenant_id("acme");
    let arguments = json!({"url": {"spreadsheetId": "s1", "range": "A1:B1"}, "query": {"valueInputOption": "RAW"},
        "body": {"values": [["a", "b"]]}});
    let output =
        sheets.call_tool("google-sheets", "append_values", arguments.clone()).unwrap().send().await.unwrap();
    assert_eq!(output.body()["parameters"], arguments);
    let request = mock.requests().into_iter().find(|r| r.path.ends_with("/ucl/executeTool")).unwrap();
    for (name, value) in [("realm", "fastn"), ("stage", "LIVE"), ("x-fastn-custom-auth", "false")] {
        assert_eq!(request.header(name), Some(value), "{name}");
    }
    assert_eq!(request.header("x-fastn-space-connection-id"), None, "the connection travels in the body");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 2);
}

#[tokio::test]
async fn a_read_timeout_is_not_retried_unless_the_call_is_idempotent() {
    let mock = emulator().await;
    let client = client(&mock);
    let slack = checked(&client).tenant_id("acme");
    mock.inject_times(Endpoint::ExecuteTool, Fault::Hang, 10);
    let err = slack.call_tool("slack", "send_message", json!({"channel": "C1", "text": "hi"})).unwrap();
    let err = err.send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1, "an action that may have run is never sent again");
    let list =
        slack.call_tool("slack", "list_channels", json!({"query": {"limit": 5}})).unwrap().idempotent(true);
    assert!(list.send().await.unwrap_err().is_timeout());
    // The client's two retries: three attempts in all.
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1 + 3);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_once() {
    let mock = emulator().await;
    let client = client(&mock);
    mock.inject(Endpoint::ExecuteTool, Fault::status_retry_after(429, 0));
    let output = checked(&client)
        .tenant_id("acme")
        .call_tool("slack", "send_message", json!({"channel": "C", "text": "t"}))
        .unwrap();
    assert_eq!(output.send().await.unwrap().status(), Some(200));
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 2);
    // A 503 may have run the action: returned, not retried.
    mock.inject(Endpoint::ExecuteTool, Fault::status(503));
    let call = checked(&client)
        .tenant_id("acme")
        .call_tool("slack", "send_message", json!({"channel": "C", "text": "t"}))
        .unwrap();
    assert_eq!(call.send().await.unwrap_err().status_code(), Some(503));
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 3);
}

#[tokio::test]
async fn bad_arguments_and_unknown_tools_send_nothing() {
    let mock = emulator().await;
    let client = client(&mock);
    let slack = checked(&client).tenant_id("acme");
    let err = slack.call_tool("slack", "send_message", json!({"channel": 7})).unwrap_err();
    assert!(err.is_invalid_arguments(), "{err}");
    assert!(err.to_string().contains("/channel") && err.to_string().contains("text"), "{err}");
    let err = slack.call_tool("slack", "send_mesage", json!({})).unwrap_err();
    assert!(err.to_string().contains("did you mean `send_message`"), "{err}");
    let bound = ToolSet::from_json(REGISTRY).unwrap().bind(&client).tenant_id("acme");
    let reply = bound.call("slack_send_message", r#"{"channel": "C1"}"#).await.unwrap();
    assert!(reply.is_error && reply.text.contains("text"), "{reply:?}");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 0);
}

#[tokio::test]
async fn fastns_refusals_have_their_own_checks_and_a_providers_status_is_an_answer() {
    let mock = emulator().await;
    let client = client(&mock);
    let err = checked(&client)
        .tenant_id("nobody")
        .call_tool("slack", "send_message", json!({"channel": "C", "text": "t"}))
        .unwrap();
    let err = err.send().await.unwrap_err();
    assert!(err.is_not_found() && !err.is_tool_not_found(), "{err}");
    assert!(err.server_message().unwrap().contains("connect it first"), "{err}");
    let err =
        client.tools("slack").tenant_id("acme").call_id("no-such-tool", json!({})).send().await.unwrap_err();
    assert!(err.is_tool_not_found() && !err.is_not_found(), "{err}");
    let disabled = r#"{"error": "FORBIDDEN", "message": "this tool is not enabled for the space"}"#;
    mock.inject(Endpoint::ExecuteTool, Fault::Body { code: 403, body: disabled.into() });
    let err = client.tools("slack").tenant_id("acme").call_id("x", json!({})).send().await.unwrap_err();
    assert!(err.is_tool_not_enabled(), "{err}");
    mock.inject(Endpoint::ExecuteTool, Fault::status(401));
    let err = client.tools("slack").tenant_id("acme").call_id("x", json!({})).send().await.unwrap_err();
    assert!(err.is_unauthorized() && !err.is_tool_not_found(), "{err}");
    let provider_error = r#"{"statusCode": 404, "body": {"ok": false, "error": "channel_not_found"}}"#;
    mock.inject(Endpoint::ExecuteTool, Fault::body(provider_error));
    let call = checked(&client)
        .tenant_id("acme")
        .call_tool("slack", "send_message", json!({"channel": "C", "text": "t"}))
        .unwrap();
    let output = call.send().await.unwrap();
    assert_eq!((output.status(), output.is_success()), (Some(404), false));
    assert_eq!(output.body()["error"], "channel_not_found");
}

#[tokio::test]
async fn a_model_call_runs_the_tool_it_names_and_hands_back_a_bounded_answer() {
    let mock = emulator().await;
    let client = client(&mock);
    let set = ToolSet::from_json(REGISTRY).unwrap();
    let bound = set.bind(&client).tenant_id("acme").max_output(60);
    let reply =
        bound.call("hubspot_create_contact", r#"{"properties": {"email": "a@example.com"}}"#).await.unwrap();
    assert!(!reply.is_error && reply.truncated, "{reply:?}");
    assert!(reply.text.chars().count() < 120, "{}", reply.text);
    let output = reply.output.unwrap();
    assert_eq!(output.body()["parameters"], json!({"body": {"properties": {"email": "a@example.com"}}}));
    assert_eq!(output.body()["tool"], "create_contact");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1);
}

#[tokio::test]
async fn the_registry_synced_from_fastns_graphql_is_the_one_served() {
    let mock = emulator().await;
    let client = client(&mock);
    let mut seen = Vec::new();
    let synced =
        RegistrySync::read(&client, Some("acme-org"), |done, total| seen.push((done, total))).await.unwrap();
    assert!(synced.failures.is_empty(), "{:?}", synced.failures);
    let expected = Registry::parse(REGISTRY).unwrap();
    let keys = |r: &Registry| {
        r.connectors.iter().map(|c| (c.key.clone(), c.id.clone(), c.tools.len())).collect::<Vec<_>>()
    };
    assert_eq!(keys(&synced.registry), keys(&expected));
    let slack = synced.registry.connector("slack").unwrap().tool("send_message").unwrap();
    assert_eq!(
        slack.input_schema,
        expected.connector("slack").unwrap().tool("send_message").unwrap().input_schema
    );
    assert_eq!(seen.last(), Some(&(5, 5)));
    // A failing scope is reported, not dropped.
    mock.inject_times(Endpoint::Registry, Fault::status(500), 3);
    let synced = RegistrySync::read(&client, None, |_, _| {}).await.unwrap();
    assert_eq!(synced.failures.len(), 1, "{:?}", synced.failures);
    assert_eq!(synced.failures[0].source, "workspace");
    // A page larger than asked, or a count over the limit, is refused before any tools
    // are asked for.
    let edges: Vec<_> =
        (0..501).map(|i| json!({"node": {"id": format!("c{i}"), "name": format!("c{i}")}})).collect();
    let page = json!({"data": {"searchDataSourceGroups": {"pageInfo": {"totalCount": 600}, "edges": edges}}});
    let huge =
        json!({"data": {"searchDataSourceGroups": {"pageInfo": {"totalCount": 120_000}, "edges": []}}});
    mock.inject(Endpoint::Registry, Fault::body(page.to_string()));
    mock.inject(Endpoint::Registry, Fault::body(huge.to_string()));
    mock.inject(Endpoint::Registry, Fault::body(huge.to_string()));
    let asked = mock.requests_to(Endpoint::Registry);
    let err = RegistrySync::read(&client, None, |_, _| {}).await.unwrap_err();
    assert!(err.to_string().contains("a page of 501 connectors, 500 were asked for"), "{err}");
    assert_eq!(mock.requests_to(Endpoint::Registry) - asked, 2, "one page per scope, no tools asked for");
}

/// The tools of a registry of names Fastn's own client cannot generate: keywords, digits,
/// empty and clashing names, a tool named like a client method, two connectors' `send`.
mod edge {
    fastn_auth::connectors!("fastn-auth-codegen/tests/manifests/tools_edge.yaml");
}

#[tokio::test]
async fn a_typed_call_sends_exactly_the_schemas_structure() {
    use fastn_auth_tests::{GoogleSheets, GoogleSheetsAppendValues, Slack, SlackSendMessage};
    let mock = emulator().await;
    let client = client(&mock);
    let slack = Slack::tools(&client).tenant_id("acme");
    let input = SlackSendMessage::new("C1", "hi").unfurl_links(true);
    let output = slack.send_message(input).send().await.unwrap();
    assert_eq!(
        output.body()["parameters"],
        json!({"body": {"channel": "C1", "text": "hi", "unfurl_links": true}})
    );
    let sheets = GoogleSheets::tools(&client).tenant_id("acme");
    // The constructor takes the required fields in the order the schema's `required` lists
    // them: url, query, body; spreadsheetId, range.
    let input = GoogleSheetsAppendValues::new(
        fastn_auth_tests::GoogleSheetsAppendValuesUrl::new("s1", "A1"),
        fastn_auth_tests::GoogleSheetsAppendValuesQuery::new(
            fastn_auth_tests::GoogleSheetsAppendValuesQueryValueInputOption::UserEntered,
        ),
        fastn_auth_tests::GoogleSheetsAppendValuesBody::new(vec![vec!["a".to_owned(), "b".to_owned()]]),
    );
    let output = sheets.append_values(input).send().await.unwrap();
    let expected = json!({"url": {"spreadsheetId": "s1", "range": "A1"}, "query": {"valueInputOption": "USER_ENTERED"},
        "body": {"values": [["a", "b"]]}});
    assert_eq!(output.body()["parameters"], expected);
    assert_eq!(
        output.body()["toolId"],
        Registry::parse(REGISTRY)
            .unwrap()
            .connector("google_sheets")
            .unwrap()
            .tool("append_values")
            .unwrap()
            .id
    );
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 2);
}

#[tokio::test]
async fn a_typed_call_is_checked_like_an_untyped_one_and_fastns_own_refusal_reads_alike() {
    use fastn_auth_tests::{Slack, SlackListChannels};
    let mock = emulator().await;
    let client = client(&mock);
    let slack = Slack::tools(&client).tenant_id("acme");
    // `limit` has a maximum of 1000: refused here, nothing sent.
    let err = slack.list_channels(SlackListChannels::new().limit(5000)).send().await.unwrap_err();
    assert!(err.is_invalid_arguments(), "{err}");
    assert_eq!(err.code(), fastn_auth::ErrorCode::InvalidArguments);
    let problem = |err: &fastn_auth::Error| match err.kind() {
        fastn_auth::ErrorKind::InvalidArguments { tool, pointer, message, .. } => {
            (tool.clone(), pointer.clone(), message.clone())
        }
        _ => panic!("{err:?}"),
    };
    let (tool, pointer, message) = problem(&err);
    assert_eq!((tool.as_str(), pointer.as_str()), ("list_channels", "/limit"));
    assert!(!err.to_string().contains("5000"), "the value is not quoted: {err}");
    // The model's path refuses the same arguments with the same check.
    let untyped =
        checked(&client).tenant_id("acme").call_tool("slack", "list_channels", json!({"limit": 5000}));
    let (_, untyped_pointer, untyped_message) = problem(&untyped.unwrap_err());
    assert_eq!((untyped_pointer, untyped_message), (pointer, message));
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 0);
    let output = slack.list_channels(SlackListChannels::new().limit(1000)).send().await.unwrap();
    assert_eq!(output.body()["parameters"], json!({"query": {"limit": 1000}}));
    // Sent unchecked by tool id, Fastn refuses it: the same predicate and code.
    let tool_id = Registry::parse(REGISTRY)
        .unwrap()
        .connector("slack")
        .unwrap()
        .tool("list_channels")
        .unwrap()
        .id
        .clone();
    let unchecked =
        client.tools("slack").tenant_id("acme").call_id(&tool_id, json!({"query": {"limit": 5000}}));
    let err = unchecked.send().await.unwrap_err();
    assert!(err.is_invalid_arguments(), "{err}");
    assert_eq!((err.code(), err.status_code()), (fastn_auth::ErrorCode::InvalidArguments, Some(400)));
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 2);
}

#[tokio::test]
async fn a_typed_calls_answer_reads_as_its_output_type_and_one_that_does_not_fit_is_an_error() {
    use fastn_auth_tests::{
        Slack, SlackListChannels, SlackListChannelsOutput, SlackSendMessage, SlackSendMessageOutput,
    };
    let mock = emulator().await;
    let client = client(&mock);
    let slack = Slack::tools(&client).tenant_id("acme");
    let sent: SlackSendMessageOutput =
        slack.send_message(SlackSendMessage::new("C1", "hi")).send().await.unwrap().typed().unwrap();
    assert!(sent.ok);
    assert_eq!(sent.channel, "C1", "the emulator answers with the call's channel");
    // Fields the schema does not name are kept: here the emulator's echo of the call.
    assert_eq!(sent.other_fields["parameters"], json!({"body": {"channel": "C1", "text": "hi"}}));
    let listed: SlackListChannelsOutput =
        slack.list_channels(SlackListChannels::new()).send().await.unwrap().typed().unwrap();
    assert_eq!(listed.channels.len(), 1);
    assert_eq!((listed.channels[0].id.as_str(), listed.channels[0].num_members), ("example", Some(0)));
    assert!(listed.response_metadata.is_some_and(|page| page.next_cursor.is_some()));
    // A body that does not fit: an error naming where, the body held, never quoted.
    let odd = r#"{"statusCode": 200, "body": {"ok": true, "channels": [{"id": "C1", "name": 7}]}}"#;
    mock.inject(Endpoint::ExecuteTool, fastn_auth_emulator::Fault::body(odd));
    let output = slack.list_channels(SlackListChannels::new()).send().await.unwrap();
    let err = output.typed::<SlackListChannelsOutput>().unwrap_err();
    assert_eq!(err.code(), fastn_auth::ErrorCode::InvalidResponse);
    assert!(err.to_string().contains("/channels/0/name: expected a string"), "{err}");
    assert!(!err.to_string().contains("C1"), "{err}");
    assert!(
        err.response_body().is_some_and(|body| body.contains(r#""name":7"#)),
        "{:?}",
        err.response_body()
    );
    // A provider's error status is no output.
    let failed = r#"{"statusCode": 404, "body": {"ok": false, "error": "channel_not_found"}}"#;
    mock.inject(Endpoint::ExecuteTool, fastn_auth_emulator::Fault::body(failed));
    let output = slack.list_channels(SlackListChannels::new()).send().await.unwrap();
    let err = output.typed::<SlackListChannelsOutput>().unwrap_err();
    assert!(err.to_string().contains("answered 404"), "{err}");
    assert!(err.response_body().is_some_and(|body| body.contains("channel_not_found")));
}

#[tokio::test]
async fn keyword_and_clashing_names_compile_and_round_trip() {
    use edge::{EdgeSend, EdgeSendContact, EdgeSendKind, OtherSend};
    let mock = MockServer::builder().registry(edge::REGISTRY).start().await.unwrap();
    for connector in ["edge", "other"] {
        mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, connector).tenant_id("acme"), None);
    }
    let client = mock.client();
    let input = EdgeSend {
        from: "me".into(),
        r#async: 3,
        r#type: Some("t".into()),
        _1st: Some(true),
        field: Some("empty".into()),
        a_b: Some("dash".into()),
        a_b_2: Some("underscore".into()),
        self_: Some("self".into()),
        tenant_id: "a parameter, not the tenant".into(),
        connection_id: None,
        contact: Some(EdgeSendContact { email: "a@example.com".into(), tags: None }),
        kind: Some(EdgeSendKind::V2),
        either: Some(json!(5)),
        rows: Some(vec![edge::EdgeSendRowsItem { cell: Some("c".into()) }]),
        free: None,
        maybe: Some(1.5),
    };
    let output = edge::Edge::tools(&client).tenant_id("acme").send(input).send().await.unwrap();
    let expected = json!({"body": {"from": "me", "async": 3, "type": "t", "1st": true, "": "empty", "a-b": "dash",
        "a_b": "underscore", "self": "self", "tenant_id": "a parameter, not the tenant",
        "contact": {"email": "a@example.com"}, "kind": "", "either": 5, "rows": [{"cell": "c"}], "maybe": 1.5}});
    assert_eq!(output.body()["parameters"], expected);
    assert_eq!(output.body()["tenant"], "acme", "the tenant parameter does not hide the tenant");
    // Two connectors' `send` stay two tools.
    let other = edge::Other::tools(&client).tenant_id("acme").send(OtherSend { text: "x".into() });
    assert_eq!(other.send().await.unwrap().body()["connector"], "other");
    let tenant_tool =
        edge::Edge::tools(&client).tenant_id("acme").tenant_id_tool(edge::EdgeTenantId { x: None });
    assert_eq!(tenant_tool.send().await.unwrap().body()["tool"], "tenant_id");
    let names: Vec<String> = ToolSet::from_json(edge::REGISTRY).unwrap().names().map(str::to_owned).collect();
    assert!(names.contains(&"edge_send".to_owned()) && names.contains(&"other_send".to_owned()), "{names:?}");
}

#[tokio::test]
async fn the_agent_loop_example_fixes_a_malformed_call_and_connects_on_demand() {
    let emulator = MockServer::builder()
        .connectors(fastn_auth_tests::MANIFEST)
        .registry(fastn_auth_tests::REGISTRY)
        .auto_approve_after(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let transcript = crate::example_agent_loop::run(&emulator).await.unwrap();
    assert_eq!((transcript.rejected, transcript.connected), (1, 1), "{:#?}", transcript.lines);
    // The malformed call sent nothing; HubSpot's first call found no connection.
    assert_eq!(emulator.requests_to(Endpoint::ExecuteTool), 3);
    assert_eq!(emulator.requests_to(Endpoint::Init), 1);
    assert!(transcript.lines.last().unwrap().starts_with("model: "), "{:#?}", transcript.lines);
}

#[tokio::test]
async fn an_answer_larger_than_a_model_is_handed_is_not_read_nor_decoded() {
    let mock = emulator().await;
    let client = client(&mock);
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    mock.inject(Endpoint::ExecuteTool, Fault::Oversized(16 << 20));
    let bound = fastn_auth_tests::tool_set().bind(&client).tenant_id("acme");
    let reply = bound.call("slack_send_message", r#"{"channel": "C1", "text": "hi"}"#).await.unwrap();
    assert!(reply.is_error && reply.output.is_none(), "{reply:?}");
    assert!(
        reply.text.contains("larger than 131072 bytes") && reply.text.contains("ask for less"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn a_strict_models_nulls_for_left_out_fields_are_dropped_and_the_rest_sent_as_the_schema_says() {
    let mock = emulator().await;
    let client = client(&mock);
    let set = ToolSet::from_json(REGISTRY).unwrap();
    // What a model in OpenAI's strict mode is given: every field required, optional ones nullable.
    let offered = set.openai_strict();
    let send = offered
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["function"]["name"] == "slack_send_message")
        .unwrap();
    assert_eq!(send["function"]["parameters"]["properties"]["thread_ts"]["type"], json!(["string", "null"]));
    let bound = set.bind(&client).tenant_id("acme");
    let strict_call = r#"{"channel": "C1", "text": "hi", "thread_ts": null, "unfurl_links": null}"#;
    let reply = bound.call("slack_send_message", strict_call).await.unwrap();
    assert!(!reply.is_error, "{reply:?}");
    let output = reply.output.unwrap();
    assert_eq!(
        &output.body()["parameters"],
        &json!({"body": {"channel": "C1", "text": "hi"}}),
        "nulls dropped, structure kept"
    );
    // A null for a required field is still the model's mistake: nothing is sent.
    let reply = bound.call("slack_send_message", r#"{"channel": null, "text": "hi"}"#).await.unwrap();
    assert!(reply.is_error && reply.text.contains("channel"), "{reply:?}");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1);
}

#[tokio::test]
async fn get_tools_ranks_by_the_prompt_and_answers_the_shapes_fastns_clients_read() {
    let mock = MockServer::start().await.unwrap(); // the built-in sample registry
    let ask = |prompt: &'static str| {
        let url = format!("{}/ucl/getTools", mock.base_url());
        async move {
            let answer = reqwest::Client::new()
                .post(url)
                .header("x-fastn-api-key", MockServer::API_KEY)
                .header("x-fastn-space-id", MockServer::SPACE_ID)
                .json(&json!({"input": {"prompt": prompt, "limit": 3}}))
                .send()
                .await
                .unwrap();
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let listed = ask("add an emoji reaction to the message").await;
    let names: Vec<&str> =
        listed.as_array().unwrap().iter().map(|tool| tool["name"].as_str().unwrap()).collect();
    assert_eq!((names.len(), names[0]), (3, "slack_add_reaction"), "{names:?}");
    let top = &listed[0];
    assert_eq!(top["function"]["name"], "add_reaction", "the CLI's shape");
    assert_eq!(top["inputSchema"]["type"], "object", "the library's shape");
    assert!(top.get("parameters").is_none(), "nothing scripted for this prompt");
    mock.answer_prompt("open an issue", json!({"body": {"title": "t"}}));
    let listed = ask("open an issue").await;
    assert_eq!(
        (&listed[0]["name"], &listed[0]["parameters"]),
        (&json!("github_create_issue"), &json!({"body": {"title": "t"}}))
    );
}

#[test]
fn generated_inputs_have_constructors_setters_and_serde_on_the_wire_names() {
    use fastn_auth_tests::{
        GoogleSheetsAppendValuesQuery, GoogleSheetsAppendValuesQueryValueInputOption as Input,
    };
    use fastn_auth_tests::{SlackListChannels, SlackSendMessage};
    let message = SlackSendMessage::new("C1", "hi").thread_ts("1.5");
    let json = serde_json::to_value(&message).unwrap();
    assert_eq!(json, json!({"channel": "C1", "text": "hi", "thread_ts": "1.5"}), "optional None left out");
    let back: SlackSendMessage = serde_json::from_value(json!({"channel": "C1", "text": "hi",
        "thread_ts": "1.5", "unknown": true}))
    .unwrap();
    assert_eq!(
        back, message,
        "a handler's Json<SlackSendMessage> reads what was sent; unknown fields ignored"
    );
    let err = serde_json::from_value::<SlackSendMessage>(json!({"channel": "C1"})).unwrap_err();
    assert!(err.to_string().contains("/text: expected a value (the field is required)"), "{err}");
    let err = serde_json::from_value::<SlackSendMessage>(json!({"channel": 5, "text": "t"})).unwrap_err();
    assert!(err.to_string().contains("/channel: expected a string"), "{err}");
    let query: GoogleSheetsAppendValuesQuery =
        serde_json::from_value(json!({"valueInputOption": "RAW"})).unwrap();
    assert_eq!(query, GoogleSheetsAppendValuesQuery::new(Input::Raw));
    let err = serde_json::from_value::<GoogleSheetsAppendValuesQuery>(json!({"valueInputOption": "raw"}))
        .unwrap_err();
    assert!(err.to_string().contains(r#"one of "RAW", "USER_ENTERED""#), "{err}");
    // Nothing required: `new()` and `Default` are the same.
    assert_eq!(SlackListChannels::new(), SlackListChannels::default());
    assert_eq!(serde_json::to_value(SlackListChannels::new().limit(10)).unwrap(), json!({"limit": 10}));
}
