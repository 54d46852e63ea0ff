//! A rig agent whose tools are Fastn's, offline: `BoundTools::rig_tools()` gives each tool
//! of the manifest's selection to rig (rig-agent 0.44) as a `DynamicTool`, and rig's own
//! scripted model (its test utilities) asks for `slack_send_message`; the call goes through
//! Fastn (the emulator) with the same checks as any model's, and the agent answers.
//!
//! ```text
//! cargo run --example rig_agent --features rig
//! ```

use fastn_auth::wire::Endpoint;
use fastn_auth_agent::ToolSet;
use fastn_auth_emulator::{ConnectionKey, MockServer};
use rig_agent::AgentBuilder;
use rig_agent::test_utils::{MockCompletionModel, MockTurn};
use serde_json::json;

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = MockServer::builder().registry(fastn::REGISTRY).start().await?;
    emulator.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let tools = ToolSet::from_json(fastn::REGISTRY)?.bind(&emulator.client()).tenant_id("acme");

    // The model: first a tool call, then — having read its result — the answer.
    let model = MockCompletionModel::from_turns([
        MockTurn::tool_call(
            "call-1",
            "slack_send_message",
            json!({"channel": "C1", "text": "hello from rig"}),
        ),
        MockTurn::text("Posted your message to C1."),
    ]);
    let recorded = model.clone();
    let agent = AgentBuilder::new(model).dynamic_tools(tools.rig_tools()).build();
    let answer = agent.prompt("Say hello in C1").max_turns(3).await?;

    println!("agent: {answer}");
    assert_eq!(answer.to_string(), "Posted your message to C1.");
    assert_eq!(emulator.requests_to(Endpoint::ExecuteTool), 1, "the tool ran once, through Fastn");
    // The model's second turn read the tool's answer: the message as Slack took it.
    let second = format!("{:?}", recorded.requests()[1]);
    assert!(second.contains("hello from rig") && second.contains("\\\"ok\\\":true"), "{second}");
    println!("the tool ran once through Fastn, and the model read its answer");
    Ok(())
}
