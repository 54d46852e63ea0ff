//! `connectors.yaml`: the schema (version 1) and its validation.
//!
//! Every check runs while serde_yaml reads the document, so each error carries the line and
//! column of the offending node.
//!
//! Here the schema, the limits and the entry point; `prescan` (the limits counted before
//! any YAML is parsed), `de` (the serde visitors that check while reading), `api` (the
//! `api:` block and its checks), `hints` (did-you-mean and teaching messages), `tests`.

mod api;
mod de;
mod hints;
mod prescan;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Deserialize;

pub(crate) use de::locate_path;
use de::{BAD_KEY, RawManifest};
pub use hints::did_you_mean;
use hints::teach;
use prescan::{prescan, tab_in_indentation};

/// The largest manifest read, in bytes (1 MiB): a thousand connectors of twenty fields
/// with descriptions fit in a quarter of it.
pub const MAX_BYTES: usize = 1024 * 1024;
/// The deepest nesting of YAML collections, block or flow (`{`, `[`). A manifest needs 5
/// (document, `connectors`, a connector, `extra`, a long-form field); deeper documents are
/// refused before the YAML parser sees them, which is slow on deep flow nesting.
pub const MAX_NESTING: usize = 10;
/// The most YAML nodes (keys, values, list items) a manifest may hold, counted before
/// parsing.
pub const MAX_NODES: usize = 100_000;
/// The most connectors in one manifest. With [`MAX_TOTAL_FIELDS`] this keeps what a
/// manifest generates within about 2 MB of Rust, which `manifest expand` formats in under
/// a second and 200 MB.
pub const MAX_CONNECTORS: usize = 500;
/// The most `extra` fields of one connector.
pub const MAX_FIELDS: usize = 256;
/// The most `extra` fields of all connectors together.
pub const MAX_TOTAL_FIELDS: usize = 5_000;
/// The deepest `list<…>` nesting of a field type (`list<list<string>>` is 2).
pub const MAX_TYPE_DEPTH: usize = 8;
/// The longest `extra` key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// The most characters of one error message; quoted manifest text in it is escaped.
pub const MAX_MESSAGE_CHARS: usize = 600;

/// A parsed and validated manifest.
#[derive(Debug)]
pub struct Manifest {
    /// The connectors, in manifest order.
    pub connectors: Vec<ConnectorSpec>,
    /// `registry:`, the path of the tool registry (relative to the manifest's directory),
    /// as written.
    pub registry: Option<String>,
}

/// `tools:` of a connector: which of the registry's tools to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolSelection {
    /// `tools: all`.
    All,
    /// `tools: [send_message, …]`: registry keys, in manifest order, each once.
    Named(Vec<String>),
}

/// One connector of the manifest.
#[derive(Debug)]
pub struct ConnectorSpec {
    /// The Fastn connector id, used on the wire.
    pub id: String,
    /// The Rust type name.
    pub name: String,
    /// Documentation.
    pub description: Option<String>,
    /// How the connector authenticates.
    pub auth: Auth,
    /// The org used when a call names none.
    pub org_id: Option<String>,
    /// Connector-specific credential fields, in manifest order.
    pub extra: Vec<FieldSpec>,
    /// The connector's API (`api:`), when declared.
    pub api: Option<ApiSpec>,
    /// The tools to generate (`tools:`), when declared.
    pub tools: Option<ToolSelection>,
    /// Those of them that run only with a person's approval of their arguments
    /// (`approve: [send_message]`, or `approve: all`): marked `requiresApproval` in the
    /// generated `REGISTRY`.
    pub approve: Option<ToolSelection>,
}

/// `api:` of a connector, and its `token:`: the types the runtime takes, so that what the
/// manifest says reaches generated code, the CLI and the emulator unconverted.
pub use fastn_auth_rules::api::{ApiSpec, TokenPlacement};

/// `auth:` of a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// OAuth 2 (the default).
    #[default]
    Oauth2,
    /// An API key the user pastes.
    ApiKey,
    /// User name and password.
    Basic,
    /// Anything else.
    Custom,
}

/// One field under `extra:`.
#[derive(Debug)]
pub struct FieldSpec {
    /// The key on the wire.
    pub key: String,
    /// The Rust field name (raw identifiers are made at generation).
    pub field: String,
    /// The field's type.
    pub ty: FieldType,
    /// Whether the field may be missing.
    pub optional: bool,
    /// Documentation.
    pub description: Option<String>,
}

/// The type of an extra field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// `string`
    String,
    /// `secret`
    Secret,
    /// `integer`
    Integer,
    /// `number`
    Number,
    /// `boolean`
    Boolean,
    /// `url`
    Url,
    /// `json`
    Json,
    /// `list<T>`
    List(Box<FieldType>),
}

/// The types as the manifest spells them, for error messages.
pub const TYPES: &str = "string, secret, integer, number, boolean, url, json, list<T>";

pub(super) const TYPE_NAMES: [&str; 8] =
    ["string", "secret", "integer", "number", "boolean", "url", "json", "list<T>"];

impl FieldType {
    fn parse(text: &str) -> Result<FieldType, String> {
        FieldType::parse_at(text, 0)
    }

    fn parse_at(text: &str, depth: usize) -> Result<FieldType, String> {
        let text = text.trim();
        Ok(match text {
            "string" => FieldType::String,
            "secret" => FieldType::Secret,
            "integer" => FieldType::Integer,
            "number" => FieldType::Number,
            "boolean" => FieldType::Boolean,
            "url" => FieldType::Url,
            "json" => FieldType::Json,
            _ => match text.strip_prefix("list<").and_then(|rest| rest.strip_suffix('>')) {
                Some(_) if depth == MAX_TYPE_DEPTH => {
                    return Err(format!("`list<…>` nested more than {MAX_TYPE_DEPTH} deep"));
                }
                Some(inner) => FieldType::List(Box::new(FieldType::parse_at(inner, depth + 1)?)),
                None => {
                    let hint = did_you_mean(text, &TYPE_NAMES)
                        .map(|near| format!(" (did you mean `{near}`?)"))
                        .unwrap_or_default();
                    return Err(format!(
                        "unknown type `{}`{hint}, expected one of: {TYPES} (append `?` for optional)",
                        fastn_auth_rules::shown_id(text)
                    ));
                }
            },
        })
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldType::String => f.write_str("string"),
            FieldType::Secret => f.write_str("secret"),
            FieldType::Integer => f.write_str("integer"),
            FieldType::Number => f.write_str("number"),
            FieldType::Boolean => f.write_str("boolean"),
            FieldType::Url => f.write_str("url"),
            FieldType::Json => f.write_str("json"),
            FieldType::List(inner) => write!(f, "list<{inner}>"),
        }
    }
}

/// A manifest error: the message and, when known, the 1-based line and column.
#[derive(Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// What is wrong, what was expected.
    pub message: String,
    /// Line and column of the offending node.
    pub position: Option<(usize, usize)>,
}

/// Parses and validates a manifest.
///
/// The limits above are checked first ([`MAX_BYTES`], [`MAX_NESTING`], [`MAX_NODES`]) or
/// while reading ([`MAX_CONNECTORS`], [`MAX_FIELDS`], [`MAX_TYPE_DEPTH`], id lengths), so
/// any text up to the size limit is answered in well under a second; every error has a
/// bounded message with manifest text escaped.
pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
    parse_unbounded(text).map_err(|err| ManifestError {
        message: fastn_auth_rules::escape(&err.message, MAX_MESSAGE_CHARS),
        position: err.position,
    })
}

fn parse_unbounded(text: &str) -> Result<Manifest, ManifestError> {
    if text.len() > MAX_BYTES {
        return Err(ManifestError {
            message: format!(
                "it is {} bytes, more than the {MAX_BYTES} bytes a manifest may have",
                text.len()
            ),
            position: None,
        });
    }
    if let Some(position) = tab_in_indentation(text) {
        return Err(ManifestError {
            message: "a tab in the indentation: YAML indents with spaces only".to_owned(),
            position: Some(position),
        });
    }
    prescan(text)?;
    BAD_KEY.with(|bad| bad.borrow_mut().clear());
    let raw: RawManifest = serde_yaml::from_str(text).map_err(|err| {
        let mut position = err.location().map(|at| (at.line(), at.column()));
        // serde_yaml places errors about a key at the start of its mapping: find the key.
        let path = BAD_KEY.with(|bad| std::mem::take(&mut *bad.borrow_mut()));
        if let (false, Some((line, _))) = (path.is_empty(), position) {
            position = locate_path(text, line, &path).or(position);
        }
        let mut message = err.to_string();
        // serde_yaml appends the position, which the caller prints its own way.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        ManifestError { message: teach(message), position }
    })?;
    if raw.registry.is_none()
        && let Some(spec) = raw.connectors.0.iter().find(|spec| spec.tools.is_some())
    {
        let id = &spec.id;
        return Err(ManifestError {
            message: format!(
                "connectors.{id}.tools: tools come from a registry: add `registry: .fastn/registry.json` (the file \
                 `fastn-auth tools sync` writes) at the top level"
            ),
            position: locate_path(text, 1, &[id.clone(), "tools".to_owned()]),
        });
    }
    Ok(Manifest { connectors: raw.connectors.0, registry: raw.registry.map(|path| path.0) })
}
