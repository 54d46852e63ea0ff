//! Fastn's tools in async-openai's own request types, offline: the tool list is
//! `Vec<ChatCompletionTools>` for a `CreateChatCompletionRequest`, and the model's answer
//! (here a scripted Chat Completions response, read as async-openai's
//! `CreateChatCompletionResponse`) has its tool calls run through `BoundTools`, which gives
//! the tool messages for the next request.
//!
//! ```text
//! cargo run --example async_openai --features async-openai
//! ```

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestToolMessageContent, CreateChatCompletionRequest,
    CreateChatCompletionResponse,
};
use fastn_auth::wire::Endpoint;
use fastn_auth_agent::ToolSet;
use fastn_auth_emulator::{ConnectionKey, MockServer};
use serde_json::json;

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = MockServer::builder().registry(fastn::REGISTRY).start().await?;
    emulator.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let set = ToolSet::from_json(fastn::REGISTRY)?;

    // The request, in async-openai's types: strict tools (every property required, optional
    // ones nullable), so the model's `null`s are dropped when its calls run.
    let request = CreateChatCompletionRequest {
        model: "gpt-4.1".into(),
        messages: vec![],
        tools: Some(set.async_openai_tools(true)?),
        ..Default::default()
    };
    let sent = serde_json::to_value(&request)?;
    assert_eq!(sent["tools"].as_array().map(Vec::len), Some(set.len()));
    assert_eq!(sent["tools"][0]["function"]["strict"], true);

    // What the model answered: two calls, one of them malformed.
    let answer: CreateChatCompletionResponse = serde_json::from_value(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null, "message": {
            "role": "assistant", "content": null, "tool_calls": [
                {"id": "call-1", "type": "function", "function": {"name": "slack_send_message",
                    "arguments": "{\"channel\": \"C1\", \"text\": \"hello from async-openai\", \"thread_ts\": null, \"unfurl_links\": null}"}},
                {"id": "call-2", "type": "function", "function": {"name": "slack_send_message",
                    "arguments": "{\"channel\": 5}"}}]}}]
    }))?;
    let calls = answer.choices[0].message.tool_calls.clone().unwrap_or_default();
    let bound = set.bind(&emulator.client()).tenant_id("acme");
    let replies = bound.run_async_openai(&calls).await?;

    let text = |message: &ChatCompletionRequestMessage| match message {
        ChatCompletionRequestMessage::Tool(tool) => match &tool.content {
            ChatCompletionRequestToolMessageContent::Text(text) => (tool.tool_call_id.clone(), text.clone()),
            other => (tool.tool_call_id.clone(), format!("{other:?}")),
        },
        other => panic!("not a tool message: {other:?}"),
    };
    let (first_id, first) = text(&replies[0]);
    let (second_id, second) = text(&replies[1]);
    println!("{first_id}: {first}\n{second_id}: {second}");
    assert!(first.contains("hello from async-openai"), "{first}");
    assert!(second.contains("/channel") && second.contains("text"), "what to fix: {second}");
    assert_eq!(emulator.requests_to(Endpoint::ExecuteTool), 1, "the malformed call sent nothing");
    Ok(())
}
