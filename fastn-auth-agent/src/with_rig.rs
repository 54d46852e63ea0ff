//! The tools as [rig](https://docs.rs/rig-core)'s (rig-core 0.44, the feature `rig`): each
//! bound tool a rig `DynamicTool` whose call goes through [`BoundTools::call_value`] — the
//! same check, approval, budget and bound answer as any model's call.

use rig_core::completion::message::ToolName;
use rig_core::tool::{DynamicTool, ToolErrorKind, ToolExecutionError, ToolOutput};
use serde_json::Value;

use crate::bound::{BoundTools, Held};

impl BoundTools {
    /// Each tool of the set as a rig `DynamicTool`, named, described and typed as a model
    /// gets it: give them to a rig agent (`AgentBuilder::dynamic_tools`). A call the model
    /// can fix (arguments that do not match, a provider's error status) is a tool error
    /// whose message says what to fix; one held back is `RateLimited` (over budget) or
    /// `PermissionDenied` (waiting for a person's approval); a failure of Fastn or the
    /// network is `Network`, in the SDK's words ([`fastn_auth::Error::brief`]).
    pub fn rig_tools(&self) -> Vec<DynamicTool> {
        let set = self.tool_set();
        set.names()
            .filter_map(|name| {
                let tool = ToolName::new(name).ok()?;
                let description = set.description(name).unwrap_or_default();
                let schema = set.arguments_schema(name).cloned().unwrap_or(Value::Null);
                let (bound, name) = (self.clone(), name.to_owned());
                Some(DynamicTool::new(tool, description, schema, move |arguments: Value| {
                    let (bound, name) = (bound.clone(), name.clone());
                    Box::pin(async move { run(&bound, &name, arguments).await })
                }))
            })
            .collect()
    }
}

async fn run(bound: &BoundTools, name: &str, arguments: Value) -> Result<ToolOutput, ToolExecutionError> {
    let reply = bound
        .call_value(name, arguments)
        .await
        .map_err(|err| ToolExecutionError::new(ToolErrorKind::Network, err.brief()))?;
    match (&reply.held, reply.is_error, &reply.output) {
        (Some(held), _, _) => {
            let kind = match held {
                Held::OverBudget(_) => ToolErrorKind::RateLimited,
                _ => ToolErrorKind::PermissionDenied,
            };
            Err(ToolExecutionError::new(kind, reply.text))
        }
        (None, false, _) => Ok(ToolOutput::text(reply.text)),
        (None, true, Some(_)) => Err(ToolExecutionError::new(ToolErrorKind::Provider, reply.text)),
        (None, true, None) => Err(ToolExecutionError::new(ToolErrorKind::InvalidArgs, reply.text)),
    }
}
