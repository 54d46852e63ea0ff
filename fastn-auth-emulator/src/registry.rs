//! The registry the emulator serves tools from, with the validators of its input schemas.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fastn_auth_rules::registry::{Registry, RegistryConnector, RegistryTool};
use serde_json::Value;

/// A registry and the validators of its input schemas, compiled on first use.
pub(crate) struct ToolRegistry {
    pub(crate) registry: Registry,
    validators: Mutex<HashMap<String, Arc<Result<jsonschema::Validator, String>>>>,
}

impl ToolRegistry {
    pub(crate) fn new(registry: Registry) -> Self {
        ToolRegistry { registry, validators: Mutex::default() }
    }

    pub(crate) fn validator(
        &self,
        tool: &RegistryTool,
        schema: &Value,
    ) -> Arc<Result<jsonschema::Validator, String>> {
        let mut validators = self.validators.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        validators
            .entry(tool.id.clone())
            .or_insert_with(|| {
                Arc::new(jsonschema::validator_for(schema).map_err(|err| err.masked().to_string()))
            })
            .clone()
    }

    /// The connector and tool a call names: by ids, the connector optional (Fastn's own
    /// client sends `""` when it calls a tool by id).
    pub(crate) fn find(
        &self,
        connector_id: &str,
        tool_id: &str,
    ) -> Option<(&RegistryConnector, &RegistryTool)> {
        self.registry
            .connectors
            .iter()
            .filter(|c| connector_id.is_empty() || c.id == connector_id || c.key == connector_id)
            .find_map(|c| Some((c, c.tool_by_id(tool_id)?)))
    }
}

#[cfg(test)]
mod sample_tests {
    /// The sample the emulator ships is the project's own registry (`.fastn/registry.json`,
    /// which the workspace manifest's `tools:` select from): one set of tools everywhere.
    #[test]
    fn the_built_in_sample_is_the_workspaces_registry() {
        let workspace = include_str!("../../.fastn/registry.json");
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(parse(crate::SAMPLE_REGISTRY), parse(workspace));
    }
}
