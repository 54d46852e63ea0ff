//! `connectors.yaml`: the schema (version 1) and its validation.
//!
//! Every check runs while serde_yaml reads the document, so each error carries the line and
//! column of the offending node.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::naming;

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

const TYPE_NAMES: [&str; 8] = ["string", "secret", "integer", "number", "boolean", "url", "json", "list<T>"];

/// The candidate `word` was probably meant as: the same but for case, or one or two edits
/// away (one for short words), when exactly one candidate is that near.
pub fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    if let Some(same) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(same);
    }
    let allowed = if word.chars().count() <= 4 { 1 } else { 2 };
    let near: Vec<&str> = candidates.iter().copied().filter(|c| edit_distance(word, c) <= allowed).collect();
    match near[..] {
        [one] => Some(one),
        _ => None,
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), with a
/// did-you-mean when one of the expected words is near; a missing `version` with the fix.
fn teach(message: String) -> String {
    if message.contains("missing field `version`") {
        return format!("{message}: add `version: 1` as the first line");
    }
    let found = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|start| Some(&message[message.find(start)? + start.len()..]));
    let Some(rest) = found else { return message };
    let Some((word, expected)) = rest.split_once('`') else { return message };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match did_you_mean(word, &candidates) {
        Some(near) => format!("{message} (did you mean `{near}`?)"),
        None => message,
    }
}

/// A tab in the indentation, which YAML forbids: its line and column.
fn tab_in_indentation(text: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(index, line)| {
        let indent = &line[..line.len() - line.trim_start().len()];
        indent.find('\t').map(|at| (index + 1, at + 1))
    })
}

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
    Ok(Manifest { connectors: raw.connectors.0 })
}

/// Checks nesting and node count in one pass over the text, before any YAML parsing: a
/// quoted scalar or a comment holds no structure; a line's indentation opens or closes
/// block levels; `{`, `[` open flow levels, `,` and keys add nodes.
fn prescan(text: &str) -> Result<(), ManifestError> {
    let too = |message: String, line: usize, column: usize| ManifestError {
        message,
        position: Some((line, column)),
    };
    let mut blocks: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut nodes = 0usize;
    let mut quote: Option<char> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = &line[indent..];
        if quote.is_none() && flow == 0 && !content.is_empty() && !content.starts_with('#') {
            while blocks.last().is_some_and(|&open| open > indent) {
                blocks.pop();
            }
            if blocks.last() != Some(&indent) {
                blocks.push(indent);
            }
            if blocks.len() > MAX_NESTING {
                return Err(too(format!("nested more than {MAX_NESTING} levels deep"), number, indent + 1));
            }
            nodes += 1;
        }
        let mut previous = ' ';
        let mut chars = content.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match (quote, c) {
                (Some('"'), '\\') => {
                    chars.next();
                }
                (Some('\''), '\'') if chars.peek().is_some_and(|&(_, next)| next == '\'') => {
                    chars.next();
                }
                (Some(open), c) if c == open => quote = None,
                (Some(_), _) => {}
                (None, '#') if previous == ' ' || previous == '\t' => break,
                (None, '"' | '\'') if matches!(previous, ' ' | '\t' | '{' | '[' | ',' | ':') => {
                    quote = Some(c)
                }
                // In block context a bracket opens a collection only where a node starts.
                (None, '{' | '[')
                    if flow > 0 || {
                        let raw = &content[..at];
                        let before = raw.trim_end();
                        before.is_empty()
                            || (before.len() < raw.len() && (before.ends_with(':') || before.ends_with('-')))
                    } =>
                {
                    flow += 1;
                    nodes += 1;
                    if blocks.len() + flow > MAX_NESTING {
                        let column = indent + content[..at].chars().count() + 1;
                        return Err(too(
                            format!("nested more than {MAX_NESTING} levels deep"),
                            number,
                            column,
                        ));
                    }
                }
                (None, '}' | ']') => flow = flow.saturating_sub(1),
                (None, ',' | ':') => nodes += 1,
                _ => {}
            }
            previous = c;
        }
        if nodes > MAX_NODES {
            return Err(too(format!("more than {MAX_NODES} YAML nodes"), number, 1));
        }
    }
    Ok(())
}

thread_local! {
    /// The map keys a validation error is about, outermost first, set just before the
    /// error is raised.
    static BAD_KEY: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An error about the map key `key`.
fn key_error<E: de::Error>(key: &str, message: String) -> E {
    key_path_error(&[key], message)
}

/// An error about the key at the end of `path` (`["salesforce", "api", "base_url"]`):
/// each key is looked for after the one before it.
fn key_path_error<E: de::Error>(path: &[&str], message: String) -> E {
    BAD_KEY.with(|bad| *bad.borrow_mut() = path.iter().map(|key| (*key).to_owned()).collect());
    E::custom(message)
}

/// The line and column of the last key of `path`, each key searched from where the one
/// before it is, the first from line `from`.
fn locate_path(text: &str, from: usize, path: &[String]) -> Option<(usize, usize)> {
    path.iter().try_fold((from, 1), |(line, _), key| locate_key(text, line, key))
}

/// The line and column of `key:` in block style, searching from line `from`.
fn locate_key(text: &str, from: usize, key: &str) -> Option<(usize, usize)> {
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
#[serde(deny_unknown_fields, expecting = "a manifest: a map of version and connectors")]
struct RawManifest {
    #[allow(dead_code, reason = "read only to be checked")]
    version: Version,
    connectors: Connectors,
}

struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u64::deserialize(deserializer)? {
            1 => Ok(Version),
            other => Err(de::Error::custom(format!("unsupported manifest version {other}, expected 1"))),
        }
    }
}

/// The `connectors:` map, checked for ids that give no or the same Rust names.
struct Connectors(Vec<ConnectorSpec>);

impl<'de> Deserialize<'de> for Connectors {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ConnectorsVisitor)
    }
}

struct ConnectorsVisitor;

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
            connectors.push(ConnectorSpec {
                id,
                name,
                description: raw.description,
                auth: raw.auth,
                org_id: raw.org_id.map(|org| org.0),
                extra: raw.extra.0,
                api,
            });
        }
        Ok(Connectors(connectors))
    }
}

/// Generated type names taken so far, each with the id that took it (empty: the macro's own).
struct Names(HashMap<String, String>);

impl Names {
    fn new(reserved: impl IntoIterator<Item = &'static str>) -> Self {
        Names(reserved.into_iter().map(|name| (name.to_owned(), String::new())).collect())
    }

    /// Which id already owns `name`, `{name}Extra`, or the type whose `Extra` is `name`.
    fn owner(&self, name: &str) -> Option<&str> {
        let base = name.strip_suffix("Extra");
        [Some(name.to_owned()), Some(format!("{name}Extra")), base.map(str::to_owned)]
            .into_iter()
            .flatten()
            .find_map(|taken| self.0.get(&taken))
            .map(String::as_str)
    }

    fn claim(&mut self, name: &str, id: &str) -> Result<(), String> {
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
struct IdSeed;

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
#[serde(deny_unknown_fields, expecting = "a connector: a map of description, auth, org_id, name, extra, api")]
struct RawConnector {
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
}

/// An `api:` block as written; checked against the connector's fields once both are read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an api block: a map of base_url, headers, token")]
struct RawApi {
    base_url: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    token: RawToken,
}

/// `token:` as written: `bearer`, or a map naming a header or a query parameter.
#[derive(Default)]
struct RawToken(TokenPlacement);

impl<'de> Deserialize<'de> for RawToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TokenVisitor)
    }
}

struct TokenVisitor;

impl<'de> Visitor<'de> for TokenVisitor {
    type Value = RawToken;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "`bearer`, `{ header: NAME, prefix: STR, from: FIELD }` or `{ query: NAME, from: FIELD }`",
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RawToken, E> {
        match text {
            "bearer" => Ok(RawToken(TokenPlacement::Bearer)),
            other => Err(E::custom(format!(
                "`token: {}` is not a token placement, expected `bearer`, `{{ header: NAME }}` or `{{ query: NAME }}`",
                fastn_auth_rules::shown_id(other)
            ))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawToken, A::Error> {
        let long = LongToken::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let from = long.from.unwrap_or_else(|| TokenPlacement::DEFAULT_FIELD.to_owned()).into();
        match (long.header, long.query, long.prefix) {
            (Some(name), None, prefix) => Ok(RawToken(TokenPlacement::Header {
                name: name.into(),
                prefix: prefix.unwrap_or_default().into(),
                from,
            })),
            (None, Some(name), None) => Ok(RawToken(TokenPlacement::Query { name: name.into(), from })),
            (None, Some(_), Some(_)) => {
                Err(de::Error::custom("`prefix` goes with `header`, not with `query`"))
            }
            (Some(_), Some(_), _) => Err(de::Error::custom("give `header` or `query`, not both")),
            (None, None, _) => Err(de::Error::custom("a token map needs `header: NAME` or `query: NAME`")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a token map of header, prefix, query, from")]
struct LongToken {
    header: Option<String>,
    query: Option<String>,
    prefix: Option<String>,
    from: Option<String>,
}

impl RawApi {
    /// The block, checked against the connector's `fields`; an error names the key of the
    /// block it is about (`base_url`, `headers`, `token`).
    fn check(self, fields: &[FieldSpec]) -> Result<ApiSpec, (&'static str, String)> {
        use fastn_auth_rules::api::{self as rules, Part};
        let keys: Vec<&str> = fields.iter().map(|field| field.key.as_str()).collect();
        let unknown = |name: &str, what: &str| {
            let hint = did_you_mean(name, &keys)
                .map(|near| format!(" (did you mean `{near}`?)"))
                .unwrap_or_default();
            let declared = if keys.is_empty() { "none".to_owned() } else { keys.join(", ") };
            format!("{what} `{name}` is not an extra field of this connector{hint}; declared: {declared}")
        };
        let base = |message: String| ("base_url", message);
        let parts = rules::parse_template(&self.base_url)
            .map_err(|problem| base(format!("`{}`: {problem}", self.base_url)))?;
        let mut has_field = false;
        for part in &parts {
            let Part::Field(name) = part else { continue };
            has_field = true;
            let field = fields
                .iter()
                .find(|field| field.key == *name)
                .ok_or_else(|| base(unknown(name, "the placeholder")))?;
            if field.optional {
                return Err(base(format!(
                    "the placeholder `{name}` names an optional field: a base URL needs a value every time; make it required"
                )));
            }
            if !matches!(field.ty, FieldType::String | FieldType::Url) {
                return Err(base(format!(
                    "the placeholder `{name}` is of type {}, expected string or url",
                    field.ty
                )));
            }
        }
        let literal_start = match parts.first() {
            Some(Part::Literal(text)) => *text,
            _ => "",
        };
        if !has_field {
            if let Some(problem) = rules::base_url_problem(&self.base_url) {
                return Err(base(format!("`{}`: {problem}", self.base_url)));
            }
        } else if !literal_start.is_empty() {
            let lower = literal_start.to_ascii_lowercase();
            let host_is_literal = lower.strip_prefix("http://").is_some_and(|rest| rest.contains('/'));
            if !(lower.starts_with("https://")
                || host_is_literal && rules::base_url_problem(literal_start).is_none())
            {
                return Err(base(format!(
                    "`{}`: it must start with https:// (or http:// to a loopback host), or with a placeholder \
                     holding the whole origin",
                    self.base_url
                )));
            }
        }
        for (name, value) in &self.headers {
            if let Some(problem) =
                rules::header_name_problem(name).or_else(|| rules::header_value_problem(value))
            {
                return Err(("headers", format!("header `{}`: {problem}", fastn_auth_rules::shown_id(name))));
            }
        }
        let token = self.token.0;
        let check_from = |from: &str| -> Result<(), (&'static str, String)> {
            if from == TokenPlacement::DEFAULT_FIELD {
                return Ok(());
            }
            let field = fields
                .iter()
                .find(|field| field.key == from)
                .ok_or_else(|| ("token", unknown(from, "`from:`")))?;
            if !matches!(field.ty, FieldType::Secret | FieldType::String) || field.optional {
                return Err((
                    "token",
                    format!(
                        "`from: {from}` is of type {}{}, expected a required secret or string field",
                        field.ty,
                        if field.optional { "?" } else { "" }
                    ),
                ));
            }
            Ok(())
        };
        match &token {
            TokenPlacement::Bearer => {}
            TokenPlacement::Header { name, prefix, from } => {
                if let Some(problem) = rules::header_name_problem(name) {
                    return Err(("token", problem));
                }
                if let Some(problem) = rules::header_value_problem(&format!("{prefix}x")) {
                    return Err(("token", format!("prefix: {problem}")));
                }
                check_from(from)?;
            }
            TokenPlacement::Query { name, from } => {
                if name.is_empty()
                    || name.chars().any(|c| c.is_control() || c.is_whitespace() || "&=#?".contains(c))
                {
                    return Err((
                        "token",
                        format!(
                            "`query: {}` is not a query parameter name",
                            fastn_auth_rules::shown_id(name)
                        ),
                    ));
                }
                check_from(from)?;
            }
        }
        let headers = self.headers.into_iter().map(|(name, value)| (name.into(), value.into())).collect();
        Ok(ApiSpec { base_url: self.base_url.into(), headers, token })
    }
}

/// An `org_id:`, by the rules the runtime applies before sending it.
struct OrgId(String);

impl<'de> Deserialize<'de> for OrgId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let org = String::deserialize(deserializer)?;
        match fastn_auth_rules::id_problem(&org, true) {
            None => Ok(OrgId(org)),
            Some(problem) => Err(de::Error::custom(format!(
                "`org_id: \"{}\"` cannot be sent: {problem}",
                fastn_auth_rules::shown_id(&org)
            ))),
        }
    }
}

/// A `name:` override: an UpperCamelCase-able Rust identifier.
struct TypeName(String);

impl<'de> Deserialize<'de> for TypeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if !naming::is_identifier(&name) || naming::is_unrawable_keyword(&name) || name.starts_with("r#") {
            return Err(de::Error::custom(format!(
                "`name: {}` is not a Rust identifier, expected e.g. `GoogleSheets`",
                fastn_auth_rules::shown_id(&name)
            )));
        }
        Ok(TypeName(name))
    }
}

/// The `extra:` map of one connector.
#[derive(Default)]
struct Fields(Vec<FieldSpec>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

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
struct FieldKeySeed<'a>(&'a HashSet<String>);

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
struct RawFieldType {
    ty: FieldType,
    optional: bool,
    description: Option<String>,
}

impl<'de> Deserialize<'de> for RawFieldType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldTypeVisitor)
    }
}

struct FieldTypeVisitor;

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
struct LongField {
    #[serde(rename = "type")]
    ty: StrictType,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    description: Option<String>,
}

/// `type:` of the long form, where optionality is spelled `optional: true`.
struct StrictType(FieldType);

impl<'de> Deserialize<'de> for StrictType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().ends_with('?') {
            return Err(de::Error::custom(format!(
                "`type: {text}`: in the long form write `optional: true` instead of `?`"
            )));
        }
        FieldType::parse(&text).map(StrictType).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(yaml: &str) -> (String, Option<(usize, usize)>) {
        let err = parse(yaml).unwrap_err();
        (err.message, err.position)
    }

    #[test]
    fn a_full_manifest_in_order() {
        let manifest = parse(
            "version: 1\nconnectors:\n  salesforce:\n    extra:\n      instanceUrl: url\n      tags: list<string>?\n      \
             team:\n        type: string\n        optional: true\n        description: Team\n  google-sheets:\n    auth: api_key\n    \
             org_id: acme\n    name: Sheets\n",
        )
        .unwrap();
        let [salesforce, sheets] = &manifest.connectors[..] else { panic!("two connectors") };
        assert_eq!((salesforce.id.as_str(), salesforce.name.as_str()), ("salesforce", "Salesforce"));
        let fields: Vec<_> = salesforce
            .extra
            .iter()
            .map(|f| (f.key.as_str(), f.field.as_str(), f.ty.to_string(), f.optional))
            .collect();
        assert_eq!(
            fields,
            [
                ("instanceUrl", "instance_url", "url".to_owned(), false),
                ("tags", "tags", "list<string>".to_owned(), true),
                ("team", "team", "string".to_owned(), true)
            ]
        );
        assert_eq!(salesforce.extra[2].description.as_deref(), Some("Team"));
        assert_eq!(
            (sheets.name.as_str(), sheets.auth, sheets.org_id.as_deref()),
            ("Sheets", Auth::ApiKey, Some("acme"))
        );
    }

    #[test]
    fn unknown_keys_name_the_allowed_ones_at_their_position() {
        let (message, position) = error("version: 1\nconnectors:\n  slack:\n    descripton: x\n");
        assert!(
            message.contains("unknown field `descripton`, expected one of `description`, `auth`"),
            "{message}"
        );
        assert_eq!(position, Some((4, 5)));
        let (message, _) = error("version: 1\nconnectors: {}\nextra: 1\n");
        assert!(message.contains("unknown field `extra`"), "{message}");
    }

    #[test]
    fn api_blocks_are_checked_against_the_fields_at_their_position() {
        let manifest = |extra: &str, api: &str| {
            format!("version: 1\nconnectors:\n  acme:\n    extra:\n{extra}    api:\n{api}")
        };
        let ok = parse(&manifest(
            "      instance_url: url\n      key: secret\n",
            "      base_url: \"{instance_url}/v1\"\n      headers: { Accept: application/json }\n      token: { header: X-Key, prefix: \"Key \", from: key }\n",
        ))
        .unwrap();
        let api = ok.connectors[0].api.clone().unwrap();
        assert_eq!(api.headers, [("Accept".into(), "application/json".into())]);
        assert_eq!(api.token, TokenPlacement::header("X-Key", "Key ", "key"));
        for (extra, api, expected, line) in [
            (
                "      instance_url: url\n",
                "      base_url: \"{instance_ur}/v1\"\n",
                "did you mean `instance_url`",
                7,
            ),
            ("      n: integer\n", "      base_url: \"https://{n}.example\"\n", "of type integer", 7),
            ("      n: string\n", "      base_url: \"http://{n}.example\"\n", "must start with https://", 7),
            (
                "      n: string\n",
                "      base_url: https://a.example\n      token: { query: k, prefix: x }\n",
                "goes with `header`",
                8,
            ),
            (
                "      n: string\n",
                "      base_url: https://a.example\n      token: bearr\n",
                "not a token placement",
                8,
            ),
            (
                "      n: string?\n",
                "      base_url: https://a.example\n      token: { header: K, from: n }\n",
                "of type string?",
                8,
            ),
            (
                "      n: string\n",
                "      base_url: https://a.example\n      token: { header: \"K:\" }\n",
                "not an HTTP header name",
                8,
            ),
        ] {
            let (message, position) = error(&manifest(extra, api));
            assert!(message.contains(expected) && message.contains("acme.api."), "{message}");
            assert_eq!(position.map(|(line, _)| line), Some(line), "{message}");
        }
    }

    #[test]
    fn unknown_types_list_the_types() {
        let (message, position) = error("version: 1\nconnectors:\n  slack:\n    extra:\n      team: strng\n");
        assert!(
            message
                .contains("unknown type `strng` (did you mean `string`?), expected one of: string, secret"),
            "{message}"
        );
        assert_eq!(position, Some((5, 13)));
        let (message, _) = error("version: 1\nconnectors:\n  a:\n    extra:\n      t: list<strng>?\n");
        assert!(message.contains("unknown type `strng`"), "{message}");
        let (message, _) = error("version: 1\nconnectors:\n  a:\n    extra:\n      t:\n        type: url?\n");
        assert!(message.contains("optional: true"), "{message}");
    }

    #[test]
    fn ids_that_give_no_or_the_same_name() {
        let (message, position) =
            error("version: 1\nconnectors:\n  google-sheets: {}\n  google_sheets: {}\n");
        assert!(
            message.contains("`google-sheets` and `google_sheets` both give the Rust name `GoogleSheets`"),
            "{message}"
        );
        assert_eq!(position, Some((4, 3)));
        let (message, _) = error("version: 1\nconnectors:\n  '---': {}\n");
        assert!(message.contains("gives no Rust identifier"), "{message}");
        let (message, _) = error("version: 1\nconnectors:\n  '': {}\n");
        assert!(message.contains("it is empty"), "{message}");
        let (message, position) = error("version: 1\nconnectors:\n  a: {name: B}\n  b: {}\n");
        assert!(message.contains("`a` and `b` both give the Rust name `B`"), "{message}");
        assert_eq!(position, Some((4, 3)));
        let (message, _) = error("version: 1\nconnectors:\n  connector-id: {}\n");
        assert!(message.contains("a name the macro itself uses"), "{message}");
        let (message, _) = error("version: 1\nconnectors:\n  a: {}\n  a-extra: {}\n");
        assert!(message.contains("`a` and `a-extra` both give the Rust name `AExtra`"), "{message}");
    }

    #[test]
    fn field_keys_that_collide_or_shadow_common_fields() {
        let (message, position) = error(
            "version: 1\nconnectors:\n  a:\n    extra:\n      instanceUrl: url\n      instance_url: url\n",
        );
        assert!(
            message.contains("`instance_url` gives the field name `instance_url`, which another key"),
            "{message}"
        );
        assert_eq!(position, Some((6, 7)));
        let (message, _) = error("version: 1\nconnectors:\n  a:\n    extra:\n      accessToken: secret\n");
        assert!(message.contains("common credential field"), "{message}");
    }

    #[test]
    fn a_clash_resolved_by_name_is_accepted_whichever_side_sets_it() {
        for yaml in [
            "version: 1\nconnectors:\n  google-sheets: {name: Sheets}\n  google_sheets: {}\n",
            "version: 1\nconnectors:\n  google-sheets: {}\n  google_sheets: {name: Sheets}\n",
            "version: 1\nconnectors:\n  google-sheets: {name: Sheets}\n  google_sheets: {name: Sheets2}\n",
        ] {
            let manifest = parse(yaml).unwrap_or_else(|err| panic!("{yaml}: {err:?}"));
            let names: Vec<&str> = manifest.connectors.iter().map(|c| c.name.as_str()).collect();
            assert!(names.contains(&"Sheets") && names.len() == 2, "{names:?}");
        }
    }

    #[test]
    fn near_misses_are_named() {
        let (message, _) = error("version: 1\nconnectors:\n  slack:\n    extra:\n      team: strng\n");
        assert!(message.contains("unknown type `strng` (did you mean `string`?)"), "{message}");
        let (message, _) = error("version: 1\nconnectors:\n  slack:\n    extra:\n      team: String\n");
        assert!(message.contains("(did you mean `string`?)"), "{message}");
        let (message, position) = error("version: 1\nconnectors:\n  slack:\n    extr:\n      team: string\n");
        assert!(
            message.contains("unknown field `extr`") && message.contains("(did you mean `extra`?)"),
            "{message}"
        );
        assert_eq!(position, Some((4, 5)));
        let (message, _) = error("version: 1\nconnectors:\n  slack:\n    auth: oauth\n");
        assert!(message.contains("(did you mean `oauth2`?)"), "{message}");
        let (message, _) = error("version: 1\nconnectors:\n  slack:\n    zzzzzz: 1\n");
        assert!(!message.contains("did you mean"), "nothing near: {message}");
        let (message, position) = error("version: 1\nconnectors:\n  slack:\n\textra: {}\n");
        assert_eq!(
            (message.as_str(), position),
            ("a tab in the indentation: YAML indents with spaces only", Some((4, 1)))
        );
        let (message, _) = error("connectors: {}\n");
        assert!(message.ends_with("add `version: 1` as the first line"), "{message}");
    }

    /// What a manifest from an untrusted source cannot do: hang the parser, overflow the
    /// stack, grow without bound, or print text a terminal would obey.
    #[test]
    fn hostile_manifests_get_positioned_bounded_errors() {
        type Case = (String, &'static str, Option<(usize, usize)>);
        let cases: Vec<Case> = vec![
            (
                format!("version: 1\nconnectors: {}", "{".repeat(100_000)),
                "nested more than 10 levels",
                Some((2, 22)),
            ),
            (
                format!("version: 1\nconnectors: {}", "[".repeat(100_000)),
                "nested more than 10 levels",
                Some((2, 22)),
            ),
            (
                (0..12).fold(String::from("version: 1\n"), |mut yaml, level| {
                    yaml.push_str(&format!("{}k{level}:\n", " ".repeat(level * 2)));
                    yaml
                }),
                "nested more than 10 levels",
                Some((12, 21)),
            ),
            (
                format!(
                    "version: 1\nconnectors:\n  a:\n    extra:\n      t: {}string{}\n",
                    "list<".repeat(100_000),
                    ">".repeat(100_000)
                ),
                "`list<…>` nested more than 8 deep",
                Some((5, 10)),
            ),
            (
                format!(
                    "version: 1\nconnectors:\n  a:\n    extra:\n      t: {}string{}\n",
                    "list<".repeat(9),
                    ">".repeat(9)
                ),
                "nested more than 8 deep",
                Some((5, 10)),
            ),
            (
                "version: 1\nconnectors:\n  \"a\\nb\": {}\n".into(),
                "connector id \"a\\nb\" cannot be used: it contains a control character",
                Some((3, 3)),
            ),
            (
                "version: 1\nconnectors:\n  \"a\\0b\": {}\n".into(),
                "cannot be used: it contains a control character",
                Some((3, 3)),
            ),
            (
                "version: 1\nconnectors:\n  \"evil\\u202Etxt\": {}\n".into(),
                "\"evil\\u{202e}txt\" cannot be used: it contains a bidirectional",
                Some((3, 3)),
            ),
            (
                "version: 1\nconnectors:\n  a: {org_id: \"\"}\n".into(),
                "`org_id: \"\"` cannot be sent: it is empty",
                Some((3, 6)),
            ),
            (
                "version: 1\nconnectors:\n  a: {org_id: \"..\"}\n".into(),
                "is not a usable path segment",
                Some((3, 6)),
            ),
            (
                format!("version: 1\nconnectors:\n  {}: {{}}\n", "x".repeat(600)),
                "600 bytes long, more than 512",
                Some((3, 3)),
            ),
            (
                (0..=MAX_CONNECTORS).fold(String::from("version: 1\nconnectors:\n"), |mut yaml, i| {
                    yaml.push_str(&format!("  c{i}: {{}}\n"));
                    yaml
                }),
                "more than 500 connectors",
                Some((503, 3)),
            ),
            (
                (0..=MAX_FIELDS).fold(
                    String::from("version: 1\nconnectors:\n  a:\n    extra:\n"),
                    |mut yaml, i| {
                        yaml.push_str(&format!("      f{i}: string\n"));
                        yaml
                    },
                ),
                "more than 256 extra fields",
                Some((261, 7)),
            ),
            (
                format!("version: 1\nconnectors: [{}]\n", "1,".repeat(MAX_NODES)),
                "more than 100000 YAML nodes",
                Some((2, 1)),
            ),
        ];
        for (yaml, expected, position) in cases {
            let (message, at) = error(&yaml);
            let head: String = yaml.chars().take(60).collect();
            assert!(message.contains(expected), "{head:?}: {message}");
            assert_eq!(at, position, "{head:?}: {message}");
            assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1, "{head:?}: {} chars", message.len());
            assert!(
                !message.chars().any(|c| c.is_control() || fastn_auth_rules::is_bidi_control(c)),
                "{message:?}"
            );
        }
        // Brackets inside text are text: a description may hold any number of them.
        let text = format!("{} and '{}'", "x[{,:[{,:y".repeat(100), "{".repeat(100));
        let yaml = format!("version: 1\nconnectors:\n  a:\n    description: {text}\n");
        assert_eq!(parse(&yaml).unwrap().connectors[0].description.as_deref(), Some(text.as_str()));
        // Many connectors of few fields, or few of many: the total is bounded too.
        let yaml =
            (0..=MAX_TOTAL_FIELDS / 100).fold(String::from("version: 1\nconnectors:\n"), |mut yaml, i| {
                yaml.push_str(&format!("  c{i}:\n    extra:\n"));
                (0..100).for_each(|j| yaml.push_str(&format!("      f{j}: string\n")));
                yaml
            });
        assert!(error(&yaml).0.contains("more than 5000 extra fields in all"));
    }

    #[test]
    fn versions_syntax_and_hostile_documents() {
        let (message, _) = error("version: 2\nconnectors: {}\n");
        assert!(message.contains("unsupported manifest version 2, expected 1"), "{message}");
        let (message, _) = error("connectors: {}\n");
        assert!(message.contains("missing field `version`"), "{message}");
        let (_, position) = error("version: 1\nconnectors:\n  a: [\n");
        assert!(position.is_some());
        let nested = format!("version: 1\nconnectors: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&nested).is_err());
        let mut laughs =
            String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for level in 1..9 {
            let prev = (b'a' + level - 1) as char;
            let name = (b'a' + level) as char;
            laughs.push_str(&format!(
                "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        laughs.push_str("version: 1\nconnectors: {}\n");
        // Expanded, these aliases would take minutes and gigabytes; refused, milliseconds.
        // Ten seconds of margin keeps a busy machine from failing it.
        let started = std::time::Instant::now();
        assert!(parse(&laughs).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}
