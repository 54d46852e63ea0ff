//! Which connection a call is about: connector, org, tenant and connection. The key of the
//! credentials cache and the heart of a session handle.

use serde::{Deserialize, Deserializer, Serialize};

/// The per-connection headers of a call (empty strings when unset, as the protocol says).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scope<'a> {
    pub(crate) tenant_id: Option<&'a str>,
    pub(crate) connection_id: Option<&'a str>,
}

/// Which connection a call is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Target {
    pub(crate) connector_id: String,
    pub(crate) org_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub(crate) tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub(crate) connection_id: Option<String>,
}

impl Target {
    pub(crate) fn scope(&self) -> Scope<'_> {
        Scope { tenant_id: self.tenant_id.as_deref(), connection_id: self.connection_id.as_deref() }
    }
}

/// Handles of earlier versions wrote `""` for "none".
fn empty_as_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|text| !text.is_empty()))
}
