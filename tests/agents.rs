//! Agents in production, through `BoundTools` against the emulator: a tool that needs a
//! person's approval runs only with the receipt of exactly its call, and a tenant's budget
//! holds calls back before anything is sent — in one process and across replicas on Redis.
//! Counts come from the emulator.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fastn_auth::wire::Endpoint;
use fastn_auth_agent::{Approvals, Budget, Held, Receipt, ToolSet, Window};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use fastn_auth_tests::RedisServer as Redis;
use serde_json::{Value, json};

async fn emulator() -> MockServer {
    let mock = MockServer::builder().registry(fastn_auth_tests::REGISTRY).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    mock
}

fn tools() -> ToolSet {
    ToolSet::from_json(fastn_auth_tests::REGISTRY).unwrap()
}

#[tokio::test]
async fn an_approval_marked_tool_runs_once_with_the_receipt_of_its_exact_call_and_never_else() {
    let mock = emulator().await;
    let approvals = Approvals::new([9; 32]);
    let guarded = tools().require_approval(["slack_send_message"]).unwrap();
    let bound = guarded.bind(&mock.client()).tenant_id("acme").approvals(approvals.clone());
    let arguments = json!({"channel": "C1", "text": "ship it"});

    // Without approval: held, with what to show the user.
    let held = bound.call_value("slack_send_message", arguments.clone()).await.unwrap();
    let Some(Held::NeedsApproval(pending)) = held.held else { panic!("{held:?}") };
    assert!(held.is_error && held.text.contains("approval"), "{}", held.text);
    assert_eq!((pending.arguments.clone(), pending.tenant.as_deref()), (arguments.clone(), Some("acme")));
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 0);
    // Nor by the other ways in.
    assert!(bound.prepare("slack_send_message", arguments.clone()).is_err());
    assert!(bound.call_tool("slack", "send_message", arguments.clone()).is_err());
    let receipt = approvals.approve(&pending).unwrap();

    // A receipt for other arguments, another tenant's, an expired one, a forged one: not run.
    let other =
        bound.call_approved("slack_send_message", json!({"channel": "C1", "text": "drop tables"}), &receipt);
    assert!(other.await.unwrap().text.contains("another call"));
    let globex = guarded.bind(&mock.client()).tenant_id("globex").approvals(approvals.clone());
    assert!(globex.call_approved("slack_send_message", arguments.clone(), &receipt).await.unwrap().is_error);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let expired = Approvals::new([9; 32]).ttl(Duration::from_secs(1)).approve(&pending).unwrap();
    let (expires, rest) = expired.as_str().split_once('.').unwrap();
    assert!(expires.parse::<u64>().unwrap() <= now + 1);
    let backdated = Receipt::from(format!("{}.{rest}", now - 5));
    assert!(bound.call_approved("slack_send_message", arguments.clone(), &backdated).await.unwrap().is_error);
    let forged = Approvals::new([1; 32]).approve(&pending).unwrap();
    assert!(bound.call_approved("slack_send_message", arguments.clone(), &forged).await.unwrap().is_error);
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 0);

    // The right one: exactly one execution, however often it is replayed.
    let ran =
        bound.call_approved("slack_send_message", json!({"text": "ship it", "channel": "C1"}), &receipt);
    let ran = ran.await.unwrap();
    assert!(!ran.is_error && ran.output.is_some(), "{}", ran.text);
    let replayed = bound.call_approved("slack_send_message", arguments.clone(), &receipt).await.unwrap();
    assert!(replayed.text.contains("used already"), "{}", replayed.text);
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1);
    // Without approvals configured, a marked tool never runs.
    let unguarded = guarded.bind(&mock.client()).tenant_id("acme");
    assert!(unguarded.call_approved("slack_send_message", arguments, &receipt).await.unwrap().is_error);
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1);
}

/// Waits, when the minute is about to end, for the next one: the budget's window is the
/// calendar minute, and six calls must fall in one.
async fn inside_one_minute() {
    let second = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() % 60;
    if second >= 50 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
}

fn over(reply: &fastn_auth_agent::ModelReply) -> &fastn_auth_agent::OverBudget {
    match &reply.held {
        Some(Held::OverBudget(over)) => over,
        other => panic!("expected over budget, got {other:?}: {}", reply.text),
    }
}

#[tokio::test]
async fn the_sixth_call_of_a_minute_is_held_back_with_nothing_sent() {
    let mock = emulator().await;
    let bound = tools().bind(&mock.client()).tenant_id("acme").budget(Budget::new().per_minute(5));
    inside_one_minute().await;
    for n in 0..5 {
        let reply = bound
            .call("slack_send_message", &format!(r#"{{"channel": "C1", "text": "{n}"}}"#))
            .await
            .unwrap();
        assert!(!reply.is_error, "{}", reply.text);
    }
    let sixth = bound.call("slack_send_message", r#"{"channel": "C1", "text": "6"}"#).await.unwrap();
    let held = over(&sixth);
    assert_eq!((held.window, held.limit, held.tool.as_deref()), (Window::Minute, 5, None));
    assert!(sixth.is_error && sixth.text.contains("try again in"), "{}", sixth.text);
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 5);
    // Malformed calls are refused before they count.
    let reply = bound.call("slack_send_message", "{}").await.unwrap();
    assert!(reply.held.is_none() && reply.text.contains("channel"), "{}", reply.text);
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_shared_on_redis_holds_over_two_replicas() {
    let Some(redis) = Redis::start() else { return };
    let mock = emulator().await;
    let replica = || {
        let store = fastn_auth_redis::RedisStore::new(&redis.url(), [3; 32]).unwrap();
        let budget = Budget::new().per_minute(5).shared(Arc::new(store));
        tools().bind(&mock.client()).tenant_id("acme").budget(budget)
    };
    let (first, second) = (replica(), replica());
    inside_one_minute().await;
    let arguments = || json!({"channel": "C1", "text": "x"});
    let mut ran = 0;
    let mut held = Vec::new();
    for n in 0..8 {
        let replica = if n % 2 == 0 { &first } else { &second };
        let reply = replica.call_value("slack_send_message", arguments()).await.unwrap();
        match reply.held {
            Some(Held::OverBudget(over)) => held.push(over),
            None if !reply.is_error => ran += 1,
            other => panic!("{other:?}: {}", reply.text),
        }
    }
    assert_eq!((ran, held.len()), (5, 3), "five in all over both replicas: {held:?}");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 5);
    let value: Value = json!(held.iter().map(|over| over.limit).collect::<Vec<_>>());
    assert_eq!(value, json!([5, 5, 5]));
}

#[tokio::test]
async fn a_tool_the_registry_marks_needs_approval_without_being_told() {
    let mock = emulator().await;
    let marked = r#"{"connectors": {"slack": {"id": "f5d70885-7121-5321-ac06-52e9a2d5c8b1", "tools": {
        "send_message": {"toolId": "b3e4f675-2620-597d-aa2e-3f5a1a65c2e9", "annotations": {"destructiveHint": true},
            "inputSchema": {"type": "object", "properties": {"body": {"type": "object",
                "properties": {"channel": {"type": "string"}}}}}},
        "list_channels": {"toolId": "aaae53cf-d1fc-57e2-a271-0512d2dae439", "requiresApproval": false}}}}}"#;
    let set = ToolSet::from_json(marked).unwrap();
    assert!(set.needs_approval("slack_send_message") && !set.needs_approval("slack_list_channels"));
    let bound = set.bind(&mock.client()).tenant_id("acme").approvals(Approvals::new([9; 32]));
    let reply = bound.call_value("slack_send_message", json!({"channel": "C1"})).await.unwrap();
    assert!(matches!(reply.held, Some(Held::NeedsApproval(_))), "{reply:?}");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 0);
    let err =
        ToolSet::from_json(&marked.replace(r#""requiresApproval": false"#, r#""requiresApproval": "yes""#));
    assert!(err.unwrap_err().to_string().contains("list_channels.requiresApproval`: expected true or false"));
}

#[tokio::test]
async fn fastns_own_ranking_finds_tools_and_the_set_stays_the_allow_list() {
    let mock = emulator().await;
    let client = mock.client();
    let found = client.find_tools("send a message on Slack", 3).await.unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].name, "send_message", "best first: {found:?}");
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1, "one getTools request");
    let only_hubspot = tools().only(["hubspot_create_contact", "slack_list_channels"]).unwrap();
    let searched = only_hubspot.search_fastn(&client, "send a message on Slack", 3).await.unwrap();
    let names: Vec<&str> = searched.names().collect();
    assert!(!names.contains(&"slack_send_message"), "never a tool outside the set: {names:?}");
}

#[tokio::test]
async fn a_call_held_over_budget_leaves_its_approval_good_for_the_retry() {
    let mock = emulator().await;
    let approvals = Approvals::new([5; 32]);
    let guarded = tools().require_approval(["slack_send_message"]).unwrap();
    let bound = guarded.bind(&mock.client()).tenant_id("acme").approvals(approvals.clone());
    let arguments = json!({"channel": "C1", "text": "later"});
    let held = bound.call_value("slack_send_message", arguments.clone()).await.unwrap();
    let Some(Held::NeedsApproval(pending)) = held.held else { panic!("{held:?}") };
    let receipt = approvals.approve(&pending).unwrap();
    let spent = bound.clone().budget(Budget::new().per_minute(0));
    let over = spent.call_approved("slack_send_message", arguments.clone(), &receipt).await.unwrap();
    assert!(matches!(over.held, Some(Held::OverBudget(_))), "{over:?}");
    let ran = bound.call_approved("slack_send_message", arguments, &receipt).await.unwrap();
    assert!(!ran.is_error, "{}", ran.text);
    assert_eq!(mock.requests_to(Endpoint::ExecuteTool), 1);
}
