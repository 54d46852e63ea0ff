//! Fastn tools for language models, on the runtime crate `fastn-auth`.
//!
//! - [`ToolSet`]: the tools of a registry (Fastn's `.fastn/registry.json`, the `REGISTRY` a
//!   manifest's `tools:` generates, or one read from Fastn with [`RegistrySync`]), as the
//!   tool lists of OpenAI (Chat Completions and Responses, strict or not), Anthropic, Gemini
//!   and Bedrock ([`ModelFormat`]), each in the form its provider's SDK validates, under a
//!   name unique across connectors.
//! - [`BoundTools`]: the set bound to a client and a tenant. [`BoundTools::call`] checks a
//!   model's call against the tool's JSON Schema before anything is sent, runs it and
//!   answers with a [`ModelReply`] to hand back to the model;
//!   [`BoundTools::call_tool`] is the same check for a call by the tool's registry key.
//!
//! ```
//! use fastn_auth_agent::ToolSet;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let registry = r#"{"connectors": {"slack": {"id": "c-slack", "tools": {"send_message":
//! #     {"toolId": "t-send", "inputSchema": {"type": "object", "properties":
//! #     {"channel": {"type": "string"}}, "required": ["channel"]}}}}}}"#;
//! # let client = fastn_auth::FastnAuth::builder("space").api_key("key").build()?;
//! let tools = ToolSet::from_json(registry)?; // e.g. the REGISTRY of `connectors!`
//! let offered = tools.openai(); // what the model is given
//! assert_eq!(offered[0]["function"]["name"], "slack_send_message");
//!
//! // The model asked for `slack_send_message` with arguments that do not match: nothing is
//! // sent, and the reply says what to fix.
//! let reply = tools.bind(&client).tenant_id("acme").call("slack_send_message", "{}").await?;
//! assert!(reply.is_error && reply.text.contains("channel"));
//! # Ok(())
//! # }
//! ```
//!
//! - [`TypedChecks`]: the same check for the typed tool calls a manifest's `tools:`
//!   generates (`Slack::tools(&client)`): a crate whose manifest selects tools depends on
//!   this one.
//!
//! Calls by Fastn's tool id (`client.tools(connector).call_id(…)`) are the runtime's and
//! checked by Fastn only.
#![warn(missing_docs)]

pub mod approval;
mod bound;
mod budget;
mod check;
mod format;
mod set;
mod sync;
mod typed;
#[cfg(feature = "async-openai")]
mod with_async_openai;
#[cfg(feature = "rig")]
mod with_rig;

pub use approval::{Approvals, PendingApproval, Receipt};
pub use bound::{BoundTools, DEFAULT_MAX_MODEL_ANSWER_BYTES, DEFAULT_MAX_MODEL_OUTPUT, Held, ModelReply};
pub use budget::{Budget, OverBudget, Window};
/// The registry's format, shared with the code generator and the emulator.
pub use fastn_auth_rules::registry::{
    Grouping, MAX_REGISTRY_BYTES, Registry, RegistryConnector, RegistryError, RegistryTool, model_name,
    registry_key,
};
pub use format::{ModelFormat, drop_optional_nulls, strict_schema};
pub use set::ToolSet;
pub use sync::{RegistrySync, SourceFailure};
pub use typed::TypedChecks;
