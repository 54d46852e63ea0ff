//! The tools in [async-openai](https://docs.rs/async-openai)'s request types (async-openai
//! 0.43, the feature `async-openai`, its Chat Completions types only): the tool list for
//! `CreateChatCompletionRequest::tools`, and a model's tool calls run through
//! [`BoundTools::call`] into the tool messages that answer them.

use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestMessage, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionTools,
};
use fastn_auth::{Error, Result};

use crate::bound::BoundTools;
use crate::format::ModelFormat;
use crate::set::ToolSet;

impl ToolSet {
    /// The tool list as async-openai's `ChatCompletionTools`: [`openai`](Self::openai)'s
    /// (or [`openai_strict`](Self::openai_strict)'s) JSON, read as async-openai's own type.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config) if async-openai's types cannot
    /// read the list (a version whose shape differs).
    pub fn async_openai_tools(&self, strict: bool) -> Result<Vec<ChatCompletionTools>> {
        let format = if strict { ModelFormat::OpenAiStrict } else { ModelFormat::OpenAi };
        serde_json::from_value(self.format(format))
            .map_err(|err| Error::config(format!("async-openai's types do not read the tool list: {err}")))
    }
}

impl BoundTools {
    /// Runs the tool calls of a model's answer (`ChatCompletionResponseMessage::tool_calls`)
    /// one after the other, and gives the tool messages to send back, in order, each with
    /// its call's id: what a call the model can fix says (its text), or the tool's answer.
    /// A custom tool call is answered as an error: no custom tool is offered.
    ///
    /// # Errors
    /// What the model cannot fix, as [`call`](Self::call): the first such failure ends the
    /// run.
    pub async fn run_async_openai(
        &self,
        calls: &[ChatCompletionMessageToolCalls],
    ) -> Result<Vec<ChatCompletionRequestMessage>> {
        let mut messages = Vec::with_capacity(calls.len());
        for call in calls {
            let (id, text) = match call {
                ChatCompletionMessageToolCalls::Function(call) => {
                    let reply = self.call(&call.function.name, &call.function.arguments).await?;
                    (call.id.clone(), reply.text)
                }
                ChatCompletionMessageToolCalls::Custom(call) => {
                    (call.id.clone(), "no custom tool is offered: call a function tool".to_owned())
                }
            };
            messages.push(ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
                content: ChatCompletionRequestToolMessageContent::Text(text),
                tool_call_id: id,
            }));
        }
        Ok(messages)
    }
}
