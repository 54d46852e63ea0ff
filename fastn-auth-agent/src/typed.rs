//! [`TypedChecks`]: the argument check of the typed tool calls `connectors!` generates, the
//! same [`Checked`](crate::check::Checked) a model's call goes through.

use std::collections::HashMap;
use std::sync::OnceLock;

use fastn_auth::tools::{ArgumentCheck, ToolSpec};
use fastn_auth::{Error, Result};
use fastn_auth_rules::shown_id as shown;
use serde_json::Value;

use crate::set::{Entry, ToolSet};
use fastn_auth_rules::registry::RegistryError;

/// The schemas of the tools a manifest selects (its generated `REGISTRY`), read on the first
/// check: what generated `…Tools` methods check their input against before sending.
///
/// ```
/// use fastn_auth::tools::{ArgumentCheck, ToolSpec};
/// use fastn_auth_agent::TypedChecks;
///
/// static CHECKS: TypedChecks = TypedChecks::new(r#"{"connectors": {"slack": {"id": "c-slack",
///     "tools": {"list_channels": {"toolId": "t-list", "inputSchema": {"type": "object",
///     "properties": {"query": {"type": "object", "properties":
///     {"limit": {"type": "integer", "maximum": 1000}}}}}}}}}}"#);
/// let spec = ToolSpec { connector_id: "c-slack", tool_id: "t-list", key: "list_channels", group: Some("query") };
/// assert!(CHECKS.check(&spec, &serde_json::json!({"limit": 10})).is_ok());
/// let err = CHECKS.check(&spec, &serde_json::json!({"limit": 5000})).unwrap_err();
/// assert!(err.is_invalid_arguments() && err.to_string().contains("/limit"));
/// ```
#[derive(Debug)]
pub struct TypedChecks {
    registry: &'static str,
    index: OnceLock<std::result::Result<Index, String>>,
}

/// The registry's tools by connector id and tool key: a typed call's lookup, on every call,
/// is two hash lookups however many tools there are.
#[derive(Debug)]
struct Index {
    by_id: HashMap<String, HashMap<String, Entry>>,
    refused: Vec<RegistryError>,
}

impl TypedChecks {
    /// The checks of the tools of `registry` (Fastn's `.fastn/registry.json` format).
    pub const fn new(registry: &'static str) -> Self {
        TypedChecks { registry, index: OnceLock::new() }
    }

    fn index(&self) -> Result<&Index> {
        let index = self.index.get_or_init(|| {
            let set = ToolSet::from_json(self.registry).map_err(|err| err.to_string())?;
            let mut by_id: HashMap<String, HashMap<String, Entry>> = HashMap::new();
            for entry in set.entries() {
                by_id
                    .entry(entry.connector_id.clone())
                    .or_default()
                    .insert(entry.tool.key.clone(), entry.clone());
            }
            Ok(Index { by_id, refused: set.refused().to_vec() })
        });
        index.as_ref().map_err(|err| Error::config(format!("the typed tools' registry: {err}")))
    }
}

impl ArgumentCheck for TypedChecks {
    fn check(&self, spec: &ToolSpec, arguments: &Value) -> Result<()> {
        let index = self.index()?;
        let Some(entry) = index.by_id.get(spec.connector_id).and_then(|tools| tools.get(spec.key)) else {
            let why = index
                .refused
                .iter()
                .find(|refused| refused.path.ends_with(&format!("tools.{}.inputSchema", spec.key)))
                .map_or_else(
                    || "the registry has no such tool".to_owned(),
                    |refused| refused.message.clone(),
                );
            return Err(Error::config(format!(
                "tool `{}` of connector `{}` cannot be checked: {why}",
                shown(spec.key),
                shown(spec.connector_id)
            )));
        };
        entry.arguments.check(spec.key, arguments)
    }
}
