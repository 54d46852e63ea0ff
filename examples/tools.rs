//! Fastn tools from Rust: a typed call (its input type generated from the registry's schema
//! and checked by the compiler), an untyped call checked against the registry at run time,
//! and the same tools as a model provider's tool list.
//!
//! ```text
//! cargo run --example tools   # offline, against the emulator
//! ```

use fastn_auth_agent::ToolSet;
use fastn_auth_emulator::{ConnectionKey, MockServer};
use serde_json::json;

mod fastn {
    // `registry:` and `tools:` in the manifest next to Cargo.toml.
    fastn_auth::connectors!("connectors.yaml");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The emulator runs the tools the manifest selects; tenant `acme` has connected Slack.
    let emulator =
        MockServer::builder().connectors(fastn::MANIFEST).registry(fastn::REGISTRY).start().await?;
    emulator.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let client = emulator.client();

    // Typed: a missing `text` would not compile.
    let slack = fastn::Slack::tools(&client).tenant_id("acme");
    let message = fastn::SlackSendMessage::new("C0123456789", "Deploy finished").unfurl_links(false);
    let output = slack.send_message(message).send().await?;
    println!("typed call: provider status {:?}, sent {}", output.status(), output.body()["parameters"]);

    // Untyped: checked against the registry's schemas (fastn-auth-agent) before anything is sent.
    let set = ToolSet::from_json(fastn::REGISTRY)?;
    let tools = set.bind(&client).tenant_id("acme");
    let rejected = tools.call_tool("slack", "send_message", json!({"channel": "C0123456789"}));
    println!(
        "untyped call without `text`: {}",
        rejected.map(|_| "sent".to_owned()).unwrap_or_else(|e| e.to_string())
    );
    let call = tools.call_tool("slack", "list_channels", json!({"limit": 5}))?;
    let output = call.idempotent(true).send().await?;
    println!("untyped call: provider status {:?}, sent {}", output.status(), output.body()["parameters"]);

    // For a language model: the tool list of OpenAI (also .anthropic(), .gemini(), .bedrock()).
    let openai = set.openai();
    let names: Vec<&str> =
        openai.as_array().into_iter().flatten().filter_map(|t| t["function"]["name"].as_str()).collect();
    println!("tools for a model: {}", names.join(", "));
    Ok(())
}
