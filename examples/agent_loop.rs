//! An agent loop, offline: a scripted model is offered the manifest's tools in OpenAI's
//! format, and each of its calls goes through `ToolSet::bind(..).call(..)`, which maps the
//! name back to its Fastn tool, checks the arguments against the schema (a malformed call
//! is answered with what to fix, and nothing is sent), wraps the parameter group back and
//! bounds the answer. A tool of a connector the tenant has not connected is a typed error:
//! the app connects it (here the emulator approves at once) and the model's call runs again.
//!
//! ```text
//! cargo run --example agent_loop
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use fastn_auth::PollOptions;
use fastn_auth_agent::ToolSet;
use fastn_auth_emulator::{ConnectionKey, MockServer};

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}

/// What the model does next: call a tool (its arguments as JSON text, as OpenAI sends
/// them), or answer the user.
#[derive(Debug, Clone)]
pub enum Step {
    /// A tool call.
    Call {
        /// The tool's name as offered.
        name: &'static str,
        /// The arguments, JSON text.
        arguments: &'static str,
    },
    /// The final answer.
    Answer(&'static str),
}

/// A model that plays a script, one step per turn; it retries a call whose reply was an
/// error with the next step, as a real model would after reading the error.
pub struct ScriptedModel {
    steps: VecDeque<Step>,
}

impl ScriptedModel {
    /// The steps of a model asked to post to Slack and add a HubSpot contact: its first
    /// Slack call forgets `text`.
    pub fn slack_then_hubspot() -> Self {
        let steps = [
            Step::Call { name: "slack_send_message", arguments: r#"{"channel": "C0123456789"}"# },
            Step::Call {
                name: "slack_send_message",
                arguments: r#"{"channel": "C0123456789", "text": "Build 42 is green"}"#,
            },
            Step::Call {
                name: "hubspot_create_contact",
                arguments: r#"{"properties": {"email": "ada@example.com"}}"#,
            },
            Step::Answer("Posted to Slack and added Ada to HubSpot."),
        ];
        ScriptedModel { steps: steps.into() }
    }

    /// The next step, given the tools offered (a real model reads them).
    fn next(&mut self, offered: &serde_json::Value) -> Step {
        assert!(offered.as_array().is_some_and(|tools| !tools.is_empty()), "the model was offered no tools");
        self.steps.pop_front().unwrap_or(Step::Answer("Done."))
    }
}

/// What one run of the loop did.
#[derive(Debug, Default)]
pub struct Transcript {
    /// Each line: a model step and its reply.
    pub lines: Vec<String>,
    /// Replies that were errors the model could act on (nothing sent).
    pub rejected: usize,
    /// Connections the app made when a tool needed one.
    pub connected: usize,
}

/// Runs the loop against `emulator` for tenant `acme`, who has connected Slack only.
pub async fn run(emulator: &MockServer) -> Result<Transcript, Box<dyn std::error::Error>> {
    emulator.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let client = emulator.client();
    let set = ToolSet::from_json(fastn::REGISTRY)?;
    let tools = set.bind(&client).tenant_id("acme").max_output(2_000);
    let offered = set.openai();
    let mut model = ScriptedModel::slack_then_hubspot();
    let mut transcript = Transcript::default();
    loop {
        let (name, arguments) = match model.next(&offered) {
            Step::Answer(text) => {
                transcript.lines.push(format!("model: {text}"));
                return Ok(transcript);
            }
            Step::Call { name, arguments } => (name, arguments),
        };
        transcript.lines.push(format!("model calls {name}({arguments})"));
        let reply = match tools.call(name, arguments).await {
            // The tenant has not connected this tool's connector: connect, then run the call again.
            Err(err) if err.is_not_found() => {
                let key = set.connector_of(name).unwrap_or_default().to_owned();
                let connector = fastn::ConnectorId::ALL
                    .into_iter()
                    .find(|id| fastn_auth_agent::registry_key(id.as_str()) == key)
                    .ok_or_else(|| format!("no connector of the manifest has the registry key {key}"))?;
                transcript.lines.push(format!("app: acme has not connected {connector}; connecting"));
                let session = client.connect(connector.as_str()).tenant_id("acme").send().await?;
                session
                    .wait_for_completion(PollOptions::new(Duration::from_millis(20), Duration::from_secs(10)))
                    .await?;
                transcript.connected += 1;
                tools.call(name, arguments).await?
            }
            other => other?,
        };
        transcript.rejected += usize::from(reply.is_error && reply.output.is_none());
        transcript.lines.push(format!("tool reply (error: {}): {}", reply.is_error, reply.text));
    }
}

#[allow(dead_code, reason = "the tests include this file and run the loop themselves")]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = MockServer::builder()
        .connectors(fastn::MANIFEST)
        .registry(fastn::REGISTRY)
        .auto_approve_after(Duration::ZERO)
        .start()
        .await?;
    let transcript = run(&emulator).await?;
    for line in &transcript.lines {
        println!("{line}");
    }
    Ok(())
}
