//! The tools benchmarks: a typed tool call against a bare reqwest POST of the same envelope
//! (`tools`), the cost of checking a model's call (`tool-validation`), and the macro on a
//! registry of 250 connectors × 15 tools (`macro-tools`).

use std::time::{Duration, Instant};

use fastn_auth::FastnAuth;
use fastn_auth_emulator::MockServer;
use serde_json::{Value, json};

use crate::cache::compare_in_rounds;
use crate::macros::{cargo_check, macro_crate};
use crate::{Emulator, fastn, stats_of};

/// The emulator in a child process with Slack connected for tenant `t0`: it, its origin, a
/// client of its control API, and an SDK client of it.
async fn slack_of_t0() -> Result<(Emulator, String, reqwest::Client, FastnAuth), Box<dyn std::error::Error>> {
    let emulator = Emulator::spawn(&[])?;
    let origin = emulator.base_url.trim_end_matches("/api").to_owned();
    let control = reqwest::Client::new();
    control
        .post(format!("{origin}/_emulator/connections"))
        .header("x-fastn-api-key", MockServer::API_KEY)
        .json(&json!({ "space_id": MockServer::SPACE_ID, "connector_id": "slack", "tenant_id": "t0" }))
        .send()
        .await?
        .error_for_status()?;
    let client = FastnAuth::builder(MockServer::SPACE_ID)
        .api_key(MockServer::API_KEY)
        .base_url(&emulator.base_url)
        .build()?;
    Ok((emulator, origin, control, client))
}

/// Typed `send_message` calls against bare reqwest POSTs of the same envelope to the same
/// emulator endpoint, in alternating rounds; both read and parse the whole answer.
pub(crate) async fn tools_part(calls: usize, rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (emulator, origin, control, client) = slack_of_t0().await?;
    let slack = fastn::Slack::tools(&client).tenant_id("t0");
    let message = fastn::SlackSendMessage::new("C1", "hello");
    let sdk_call = || {
        let call = slack.send_message(message.clone());
        async move { call.send().await.is_ok_and(|output| output.is_success()) }
    };
    // The same request by hand: the envelope built per call, the same headers.
    let bare = reqwest::Client::new();
    let url = format!("{}/ucl/executeTool", emulator.base_url);
    let ids = fastn_auth_agent::Registry::parse(fastn::REGISTRY)?;
    let tool = ids.connector("slack").and_then(|c| Some((c.id.clone(), c.tool("send_message")?.id.clone())));
    let (connector_id, tool_id) = tool.ok_or("the registry has no slack send_message")?;
    let bare_call = || async {
        let body = json!({"input": {"toolId": tool_id, "connectorId": connector_id, "agentId": MockServer::SPACE_ID,
            "parameters": {"body": {"channel": "C1", "text": "hello"}}}});
        let sent = bare
            .post(&url)
            .header("x-fastn-space-id", MockServer::SPACE_ID)
            .header("x-fastn-api-key", MockServer::API_KEY)
            .header("x-fastn-space-tenantid", "t0")
            .header("x-fastn-custom-auth", "false")
            .header("realm", "fastn")
            .header("stage", "LIVE")
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                response.bytes().await.is_ok_and(|bytes| serde_json::from_slice::<Value>(&bytes).is_ok())
            }
            _ => false,
        }
    };
    println!(
        "tools: {rounds} rounds of {calls} sequential executeTool calls per client, in blocks taking turns, \
         emulator in a child process (parameters checked against the schema there)"
    );
    compare_in_rounds(("typed tool call", sdk_call), ("bare reqwest POST", bare_call), calls, rounds).await;
    let stats = stats_of(&control, &origin).await?;
    println!("  requests the emulator served, by endpoint: {}", stats["requests_to"]);
    Ok(())
}

/// Peak RSS of `calls` concurrent model calls whose answers are `mib` MiB each (the emulator
/// in a child process makes them): bounded (the default `max_answer_bytes`), then, for
/// comparison, read and decoded whole as before the bound.
pub(crate) async fn model_answers(calls: usize, mib: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (_emulator, origin, control, client) = slack_of_t0().await?;
    let bound = fastn_auth_agent::ToolSet::from_json(fastn::REGISTRY)?.bind(&client).tenant_id("t0");
    let arguments = r#"{"channel": "C1", "text": "hello"}"#;
    // Warm: connections, the validator, the allocator's first arenas.
    bound.call("slack_send_message", arguments).await?;
    println!(
        "model-answers: {calls} concurrent calls, each answered {mib} MiB of JSON by the emulator (a child process)"
    );
    for (label, bound) in [
        ("bounded (128 KiB read)", bound.clone()),
        ("read and decoded whole", bound.clone().max_answer_bytes((mib + 1) << 20)),
    ] {
        let fault = json!({"endpoint": "executeTool", "fault": {"kind": "oversized", "bytes": mib << 20}, "times": calls});
        control
            .post(format!("{origin}/_emulator/faults"))
            .header("x-fastn-api-key", MockServer::API_KEY)
            .json(&fault)
            .send()
            .await?
            .error_for_status()?;
        let before = crate::current_rss_mib();
        let running: Vec<_> = (0..calls)
            .map(|_| {
                let bound = bound.clone();
                tokio::spawn(async move { bound.call("slack_send_message", arguments).await })
            })
            .collect();
        let mut replies = Vec::new();
        for call in running {
            replies.push(call.await?);
        }
        let errors = replies.iter().filter(|reply| reply.as_ref().is_ok_and(|reply| reply.is_error)).count();
        println!(
            "  {label}: RSS {before:.1} MiB before, peak {:.1} MiB ({errors} of {calls} replies say the answer is too large)",
            crate::peak_rss_mib()
        );
    }
    Ok(())
}

/// What checking a model's call costs: `BoundTools::prepare` (find the tool by name, check
/// the arguments against its schema, wrap the group) on a valid and on a malformed call,
/// after the validator's first use compiled it.
pub(crate) fn validation_part(calls: usize) -> Result<(), Box<dyn std::error::Error>> {
    let client = FastnAuth::builder("space").api_key("key").build()?;
    let bound = fastn_auth_agent::ToolSet::from_json(fastn::REGISTRY)?.bind(&client).tenant_id("t0");
    let valid = json!({"channel": "C1", "text": "hello", "unfurl_links": false});
    let malformed = json!({"channel": 7});
    let first = Instant::now();
    assert!(bound.prepare("slack_send_message", valid.clone()).is_ok());
    let compile = first.elapsed();
    println!(
        "tool-validation: BoundTools::prepare of slack_send_message, {calls} calls each, median of 5 runs"
    );
    println!("  first call (compiles the schema's validator): {compile:.2?}");
    for (what, arguments, ok) in
        [("valid arguments", &valid, true), ("malformed arguments", &malformed, false)]
    {
        let mut runs: Vec<Duration> = (0..5)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..calls {
                    let prepared = bound.prepare("slack_send_message", arguments.clone());
                    assert_eq!(prepared.is_ok(), ok);
                }
                started.elapsed() / calls as u32
            })
            .collect();
        runs.sort();
        println!("  {what:<22} {:>10.2?} per call", runs[2]);
    }
    // Hostile names against 2,000 tools: refused before lookup, or near-name search that
    // passes over candidates of the wrong length.
    let tools: Vec<String> = (0..2_000).map(|i| format!(r#""tool_{i:04}": {{"toolId": "t{i}"}}"#)).collect();
    let registry = format!(r#"{{"connectors": {{"crm": {{"id": "c", "tools": {{{}}}}}}}}}"#, tools.join(","));
    let many = fastn_auth_agent::ToolSet::from_json(&registry)?.bind(&client).tenant_id("t0");
    for (what, name) in
        [("a 200,000-character name", "x".repeat(200_000)), ("an unknown 60-character name", "y".repeat(60))]
    {
        let started = Instant::now();
        assert!(many.prepare(&name, json!({})).is_err());
        println!("  {what} among 2,000 tools: {:.2?}", started.elapsed());
    }
    // A 1 MiB argument against a pattern that backtracks on a backtracking engine: linear.
    let patterned = r#"{"connectors": {"crm": {"id": "c", "tools": {"tag": {"toolId": "t", "inputSchema": {"type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string", "pattern": "^(a|aa)+$"}}}}}}}}}"#;
    let tagged = fastn_auth_agent::ToolSet::from_json(patterned)?.bind(&client).tenant_id("t0");
    let tags: Vec<String> = (0..32_000).map(|_| format!("{}b", "a".repeat(30))).collect();
    let started = Instant::now();
    assert!(tagged.prepare("crm_tag", json!({ "tags": tags })).is_err());
    println!("  1 MiB of strings against `^(a|aa)+$`, each failing: {:.2?}", started.elapsed());
    Ok(())
}

/// The macro on registries of `sizes` connectors × 15 tools, every tool selected: the first
/// `cargo check` of the crate (its dependencies built), an incremental one after the
/// registry changes (median of `runs`), and the generated code's size.
pub(crate) fn macro_tools(sizes: &[usize], runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = macro_crate("macro-tools")?;
    println!(
        "macro-tools: connectors x 15 tools, every tool selected (`tools: all`); cargo check, median of {runs}"
    );
    println!(
        "  {:>10} {:>6} {:>12} {:>12} {:>14} {:>10} {:>16}",
        "connectors", "tools", "first check", "incremental", "generated", "per tool", "expansion (opt)"
    );
    for &size in sizes {
        std::fs::write(dir.join("connectors.yaml"), manifest(size))?;
        std::fs::write(dir.join("registry.json"), registry(size, 0).to_string())?;
        cargo_check(&dir, true)?; // the dependencies, and the first expansion
        // "First": the crate itself checked from scratch, dependencies built.
        let status = std::process::Command::new(env!("CARGO"))
            .args(["clean", "-q", "-p", "macro-tools"])
            .current_dir(&dir)
            .status()?;
        if !status.success() {
            return Err("cargo clean failed".into());
        }
        let first = cargo_check(&dir, true)?;
        let mut times: Vec<Duration> = (1..=runs)
            .map(|run| {
                std::fs::write(dir.join("registry.json"), registry(size, run).to_string())?;
                cargo_check(&dir, true)
            })
            .collect::<Result<_, _>>()?;
        times.sort();
        let started = Instant::now();
        let expanded = fastn_auth_codegen::expand_file(&dir.join("connectors.yaml"), "connectors.yaml")
            .map_err(|err| err.to_string())?;
        let expansion = started.elapsed();
        let generated = expanded.to_string().len();
        let tools = size * 15;
        println!(
            "  {size:>10} {tools:>6} {first:>12.2?} {:>12.2?} {:>10} KiB {:>8} B {expansion:>16.2?}",
            times[times.len() / 2],
            generated / 1024,
            generated / tools
        );
    }
    Ok(())
}

fn manifest(size: usize) -> String {
    let mut yaml = String::from("version: 1\nregistry: registry.json\nconnectors:\n");
    for i in 0..size {
        yaml.push_str(&format!("  connector-{i}:\n    tools: all\n"));
    }
    yaml
}

/// A registry of `size` connectors × 15 tools of typical shape: a `body` group of five
/// fields (a nested object and an enum among them), or `url`, `query` and `body` groups;
/// `revision` changes the descriptions, so the registry is new to cargo.
fn registry(size: usize, revision: usize) -> Value {
    let connectors = (0..size).map(|i| {
        let tools = (0..15).map(|t| {
            let body = json!({"type": "object", "required": ["name", "kind"], "properties": {
                "name": {"type": "string", "description": format!("The name (revision {revision}).")},
                "count": {"type": "integer"}, "dry_run": {"type": "boolean"},
                "kind": {"type": "string", "enum": ["first", "second", "third"]},
                "owner": {"type": "object", "properties": {"email": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}}});
            let schema = if t % 3 == 0 {
                json!({"type": "object", "properties": {
                    "url": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
                    "query": {"type": "object", "properties": {"limit": {"type": "integer"}}},
                    "body": body}})
            } else {
                json!({"type": "object", "properties": {"body": body}})
            };
            (format!("tool_{t}"), json!({"toolId": format!("t-{i}-{t}"), "name": format!("tool{t}"),
                "description": "A tool of the benchmark.", "inputSchema": schema}))
        });
        (format!("connector_{i}"), json!({"id": format!("c-{i}"), "tools": tools.collect::<serde_json::Map<_, _>>()}))
    });
    json!({"version": "1.0.0", "connectors": connectors.collect::<serde_json::Map<_, _>>()})
}
