//! Which connection a call is about: connector, org, tenant and connection. The key of the
//! credentials cache and the heart of a session handle.

use serde::{Deserialize, Deserializer, Serialize};

/// The per-connection headers of a call (empty strings when unset, as the protocol says).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scope<'a> {
    pub(crate) tenant_id: Option<&'a str>,
    pub(crate) connection_id: Option<&'a str>,
}

/// Which connection a call is about, owned: what a session and a cache slot keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Target {
    pub(crate) connector_id: String,
    pub(crate) org_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub(crate) tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub(crate) connection_id: Option<String>,
}

impl Target {
    pub(crate) fn key(&self) -> Key<'_> {
        Key {
            connector_id: &self.connector_id,
            org_id: &self.org_id,
            tenant_id: self.tenant_id.as_deref(),
            connection_id: self.connection_id.as_deref(),
        }
    }

    pub(crate) fn scope(&self) -> Scope<'_> {
        self.key().scope()
    }
}

/// Hashed as its [`Key`], so the cache's map of targets is looked up by borrowed ids.
impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// Which connection a call is about, borrowed from the request that names it: a call the
/// cache answers copies no id; one that goes further copies them once ([`Key::to_target`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key<'a> {
    pub(crate) connector_id: &'a str,
    pub(crate) org_id: &'a str,
    pub(crate) tenant_id: Option<&'a str>,
    pub(crate) connection_id: Option<&'a str>,
}

impl<'a> Key<'a> {
    pub(crate) fn to_target(self) -> Target {
        Target {
            connector_id: self.connector_id.to_owned(),
            org_id: self.org_id.to_owned(),
            tenant_id: self.tenant_id.map(str::to_owned),
            connection_id: self.connection_id.map(str::to_owned),
        }
    }

    pub(crate) fn scope(self) -> Scope<'a> {
        Scope { tenant_id: self.tenant_id, connection_id: self.connection_id }
    }
}

impl hashbrown::Equivalent<Target> for Key<'_> {
    fn equivalent(&self, target: &Target) -> bool {
        *self == target.key()
    }
}

/// Handles of earlier versions wrote `""` for "none".
fn empty_as_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|text| !text.is_empty()))
}
