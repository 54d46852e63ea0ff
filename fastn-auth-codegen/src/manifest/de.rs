//! The serde visitors that read a manifest and check it as they go, so that every error
//! has the line and column of its node.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::api::RawApi;
use super::*;
use crate::naming;

thread_local! {
    /// The map keys a validation error is about, outermost first, set just before the
    /// error is raised.
    pub(super) static BAD_KEY: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An error about the map key `key`.
pub(super) fn key_error<E: de::Error>(key: &str, message: String) -> E {
    key_path_error(&[key], message)
}

/// An error about the key at the end of `path` (`["salesforce", "api", "base_url"]`):
/// each key is looked for after the one before it.
pub(super) fn key_path_error<E: de::Error>(path: &[&str], message: String) -> E {
    BAD_KEY.with(|bad| *bad.borrow_mut() = path.iter().map(|key| (*key).to_owned()).collect());
    E::custom(message)
}

/// The line and column of the last key of `path`, each key searched from where the one
/// before it is, the first from line `from`.
pub(crate) fn locate_path(text: &str, from: usize, path: &[String]) -> Option<(usize, usize)> {
    path.iter().try_fold((from, 1), |(line, _), key| locate_key(text, line, key))
}

/// The line and column of `key:` in block style, searching from line `from`.
pub(super) fn locate_key(text: &str, from: usize, key: &str) -> Option<(usize, usize)> {
    let forms = [format!("{key}:"), format!("'{key}':"), format!("\"{key}\":")];
    text.lines().enumerate().skip(from.saturating_sub(1)).find_map(|(index, line)| {
        let trimmed = line.trim_start();
        forms
            .iter()
            .any(|form| trimmed.starts_with(form.as_str()))
            .then(|| (index + 1, line.len() - trimmed.len() + 1))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a manifest: a map of version, registry and connectors")]
pub(super) struct RawManifest {
    #[allow(dead_code, reason = "read only to be checked")]
    version: Version,
    #[serde(default)]
    pub(super) registry: Option<RegistryPath>,
    pub(super) connectors: Connectors,
}

/// `registry:`: a relative path to the registry file.
pub(super) struct RegistryPath(pub(super) String);

impl<'de> Deserialize<'de> for RegistryPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = String::deserialize(deserializer)?;
        let absolute = path.starts_with('/') || path.starts_with('\\') || path.get(1..2) == Some(":");
        if path.trim().is_empty() || absolute || path.chars().any(char::is_control) {
            return Err(key_error(
                "registry",
                format!(
                    "registry: \"{}\" is not a relative file path, expected e.g. `.fastn/registry.json` \
                     (relative to the manifest's directory)",
                    fastn_auth_rules::shown_id(&path)
                ),
            ));
        }
        Ok(RegistryPath(path))
    }
}

/// `tools:` of a connector: `all`, or a list of distinct tool keys.
pub(super) struct RawTools(pub(super) ToolSelection);

impl<'de> Deserialize<'de> for RawTools {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ToolsVisitor)
    }
}

struct ToolsVisitor;

impl<'de> Visitor<'de> for ToolsVisitor {
    type Value = RawTools;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`all` or a list of the registry's tool names (`[send_message, list_channels]`)")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RawTools, E> {
        match text {
            "all" => Ok(RawTools(ToolSelection::All)),
            other => Err(E::custom(format!(
                "tools: `{}`: expected `all` or a list of the registry's tool names",
                fastn_auth_rules::shown_id(other)
            ))),
        }
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawTools, A::Error> {
        let mut names: Vec<String> = Vec::new();
        while let Some(name) = seq.next_element::<String>()? {
            if names.contains(&name) {
                return Err(de::Error::custom(format!(
                    "tools: `{}` is listed twice",
                    fastn_auth_rules::shown_id(&name)
                )));
            }
            if names.len() == fastn_auth_rules::registry::MAX_TOOLS_PER_CONNECTOR {
                return Err(de::Error::custom("tools: more tools than a registry connector may have"));
            }
            names.push(name);
        }
        Ok(RawTools(ToolSelection::Named(names)))
    }
}

pub(super) struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u64::deserialize(deserializer)? {
            1 => Ok(Version),
            other => Err(de::Error::custom(format!("unsupported manifest version {other}, expected 1"))),
        }
    }
}

/// The `connectors:` map, checked for ids that give no or the same Rust names.
pub(super) struct Connectors(pub(super) Vec<ConnectorSpec>);

impl<'de> Deserialize<'de> for Connectors {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ConnectorsVisitor)
    }
}

pub(super) struct ConnectorsVisitor;

impl<'de> Visitor<'de> for ConnectorsVisitor {
    type Value = Connectors;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map from connector id to connector")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Connectors, A::Error> {
        let mut names = Names::new(["ConnectorId", "MANIFEST"]);
        let mut connectors = Vec::new();
        let mut total_fields = 0;
        while let Some((id, default_name)) = map.next_key_seed(IdSeed)? {
            if connectors.len() == MAX_CONNECTORS {
                return Err(key_error(&id, format!("more than {MAX_CONNECTORS} connectors")));
            }
            let raw: RawConnector = map.next_value()?;
            total_fields += raw.extra.0.len();
            if total_fields > MAX_TOTAL_FIELDS {
                return Err(key_error(&id, format!("more than {MAX_TOTAL_FIELDS} extra fields in all")));
            }
            let name = raw.name.map_or(default_name, |name| name.0);
            names.claim(&name, &id).map_err(|message| key_error(&id, message))?;
            let api = match raw.api {
                Some(api) => Some(api.check(&raw.extra.0).map_err(|(key, message)| {
                    key_path_error(&[id.as_str(), "api", key], format!("{id}.api.{key}: {message}"))
                })?),
                None => None,
            };
            if raw.approve.is_some() && raw.tools.is_none() {
                let message = format!(
                    "{id}.approve: names tools that need a person's approval, of those `tools:` selects: add `tools:`"
                );
                return Err(key_path_error(&[id.as_str(), "approve"], message));
            }
            connectors.push(ConnectorSpec {
                id,
                name,
                description: raw.description,
                auth: raw.auth,
                org_id: raw.org_id.map(|org| org.0),
                extra: raw.extra.0,
                api,
                tools: raw.tools.map(|tools| tools.0),
                approve: raw.approve.map(|tools| tools.0),
            });
        }
        Ok(Connectors(connectors))
    }
}

/// Generated type names taken so far, each with the id that took it (empty: the macro's own).
pub(super) struct Names(HashMap<String, String>);

impl Names {
    pub(super) fn new(reserved: impl IntoIterator<Item = &'static str>) -> Self {
        Names(reserved.into_iter().map(|name| (name.to_owned(), String::new())).collect())
    }

    /// Which id already owns `name`, `{name}Extra`, or the type whose `Extra` is `name`.
    pub(super) fn owner(&self, name: &str) -> Option<&str> {
        let base = name.strip_suffix("Extra");
        [Some(name.to_owned()), Some(format!("{name}Extra")), base.map(str::to_owned)]
            .into_iter()
            .flatten()
            .find_map(|taken| self.0.get(&taken))
            .map(String::as_str)
    }

    pub(super) fn claim(&mut self, name: &str, id: &str) -> Result<(), String> {
        match self.owner(name) {
            Some("") => Err(format!(
                "connector `{id}` would generate `{name}`, a name the macro itself uses; set `name:`"
            )),
            Some(other) => Err(format!(
                "connectors `{other}` and `{id}` both give the Rust name `{name}`; rename one or set `name:`"
            )),
            None => {
                self.0.insert(name.to_owned(), id.to_owned());
                Ok(())
            }
        }
    }
}

/// Reads a connector id and checks it gives a type name.
pub(super) struct IdSeed;

impl<'de> DeserializeSeed<'de> for IdSeed {
    type Value = (String, String);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let id = String::deserialize(deserializer)?;
        if let Some(problem) = fastn_auth_rules::id_problem(&id, true) {
            return Err(key_error::<D::Error>(
                &id,
                format!("connector id \"{}\" cannot be used: {problem}", fastn_auth_rules::shown_id(&id)),
            ));
        }
        let name = naming::type_name(&id).ok_or_else(|| {
            key_error::<D::Error>(
                &id,
                format!(
                    "connector id `{}` gives no Rust identifier: it needs a letter or digit",
                    fastn_auth_rules::shown_id(&id)
                ),
            )
        })?;
        // Whether the name is free is decided once the connector's own `name:` is read.
        Ok((id, name))
    }
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a connector: a map of description, auth, org_id, name, extra, api, tools, approve"
)]
pub(super) struct RawConnector {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    auth: Auth,
    #[serde(default)]
    org_id: Option<OrgId>,
    #[serde(default)]
    name: Option<TypeName>,
    #[serde(default)]
    extra: Fields,
    #[serde(default)]
    api: Option<RawApi>,
    #[serde(default)]
    tools: Option<RawTools>,
    #[serde(default)]
    approve: Option<RawTools>,
}

/// A string value checked by `check`, whose message becomes the error at the value's
/// position: the one shape of every checked scalar of the manifest.
fn checked_string<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    check: impl FnOnce(String) -> Result<T, String>,
) -> Result<T, D::Error> {
    check(String::deserialize(deserializer)?).map_err(de::Error::custom)
}

/// An `org_id:`, by the rules the runtime applies before sending it.
pub(super) struct OrgId(String);

impl<'de> Deserialize<'de> for OrgId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_string(deserializer, |org| match fastn_auth_rules::id_problem(&org, true) {
            None => Ok(OrgId(org)),
            Some(problem) => {
                Err(format!("`org_id: \"{}\"` cannot be sent: {problem}", fastn_auth_rules::shown_id(&org)))
            }
        })
    }
}

/// A `name:` override: an UpperCamelCase-able Rust identifier.
pub(super) struct TypeName(String);

impl<'de> Deserialize<'de> for TypeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_string(deserializer, |name| {
            if !naming::is_identifier(&name) || naming::is_unrawable_keyword(&name) || name.starts_with("r#")
            {
                return Err(format!(
                    "`name: {}` is not a Rust identifier, expected e.g. `GoogleSheets`",
                    fastn_auth_rules::shown_id(&name)
                ));
            }
            Ok(TypeName(name))
        })
    }
}

/// The `extra:` map of one connector.
#[derive(Default)]
pub(super) struct Fields(Vec<FieldSpec>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

pub(super) struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map from credential key to type")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut taken = HashSet::new();
        let mut fields = Vec::new();
        while let Some((key, field)) = map.next_key_seed(FieldKeySeed(&taken))? {
            if fields.len() == MAX_FIELDS {
                return Err(key_error(&key, format!("more than {MAX_FIELDS} extra fields in one connector")));
            }
            let ty: RawFieldType = map.next_value()?;
            taken.insert(field.clone());
            fields.push(FieldSpec {
                key,
                field,
                ty: ty.ty,
                optional: ty.optional,
                description: ty.description,
            });
        }
        Ok(Fields(fields))
    }
}

/// Reads a credential key and checks it gives a field name not yet taken.
pub(super) struct FieldKeySeed<'a>(&'a HashSet<String>);

impl<'de> DeserializeSeed<'de> for FieldKeySeed<'_> {
    type Value = (String, String);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let key = String::deserialize(deserializer)?;
        let shown = fastn_auth_rules::shown_id(&key);
        if key.len() > MAX_KEY_BYTES
            || key.chars().any(|c| c.is_control() || fastn_auth_rules::is_bidi_control(c))
        {
            return Err(key_error::<D::Error>(
                &key,
                format!(
                    "extra key \"{shown}\" cannot be used: at most {MAX_KEY_BYTES} bytes, no control or \
                     bidirectional characters"
                ),
            ));
        }
        let field = naming::field_name(&key).ok_or_else(|| {
            key_error::<D::Error>(
                &key,
                format!("extra key \"{shown}\" gives no Rust field name: it needs a letter or digit"),
            )
        })?;
        if field == "access_token"
            || field == "refresh_token"
            || field == "expires_at"
            || field == "expires_in"
        {
            return Err(key_error::<D::Error>(
                &key,
                format!(
                    "extra key `{key}` is a common credential field (`{field}` on Credentials), not an extra one"
                ),
            ));
        }
        if self.0.contains(&field) {
            return Err(key_error::<D::Error>(
                &key,
                format!("extra key `{key}` gives the field name `{field}`, which another key already gives"),
            ));
        }
        Ok((key, field))
    }
}

/// A field's type, in the short form (`url`, `secret?`) or the long form.
pub(super) struct RawFieldType {
    ty: FieldType,
    optional: bool,
    description: Option<String>,
}

impl<'de> Deserialize<'de> for RawFieldType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldTypeVisitor)
    }
}

pub(super) struct FieldTypeVisitor;

impl<'de> Visitor<'de> for FieldTypeVisitor {
    type Value = RawFieldType;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a type ({TYPES}, `?` for optional) or a map with `type`, `optional`, `description`")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RawFieldType, E> {
        let (text, optional) = match text.trim().strip_suffix('?') {
            Some(text) => (text, true),
            None => (text, false),
        };
        Ok(RawFieldType { ty: FieldType::parse(text).map_err(E::custom)?, optional, description: None })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawFieldType, A::Error> {
        let long = LongField::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(RawFieldType { ty: long.ty.0, optional: long.optional, description: long.description })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a field: a map of type, optional, description")]
pub(super) struct LongField {
    #[serde(rename = "type")]
    ty: StrictType,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    description: Option<String>,
}

/// `type:` of the long form, where optionality is spelled `optional: true`.
pub(super) struct StrictType(FieldType);

impl<'de> Deserialize<'de> for StrictType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_string(deserializer, |text| {
            if text.trim().ends_with('?') {
                return Err(format!(
                    "`type: {text}`: in the long form write `optional: true` instead of `?`"
                ));
            }
            FieldType::parse(&text).map(StrictType).map_err(|err| err.to_string())
        })
    }
}
