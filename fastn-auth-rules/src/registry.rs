//! The registry of Fastn tools, as Fastn's CLI writes it (`.fastn/registry.json`): which
//! tools each connector has, their ids and input schemas. Read by the `connectors!` macro
//! (a lock file: the types generated from it change only when it is synced again), by the
//! runtime (`ToolSet`, checked untyped calls), by the emulator and by the CLI, all through
//! [`Registry::parse`], so a registry one of them accepts the others accept.
//!
//! Also here: how a tool's parameters are grouped ([`Grouping`]) and the tool names handed to
//! language models ([`model_name`]).

use std::fmt;

use serde_json::{Map, Value};

use crate::{MAX_ID_BYTES, escape, id_problem};

/// The largest registry read, in bytes (64 MiB): 250 connectors of 15 tools with generous
/// schemas take under 10 MiB.
pub const MAX_REGISTRY_BYTES: usize = 64 * 1024 * 1024;
/// The most connectors of one registry.
pub const MAX_REGISTRY_CONNECTORS: usize = 5_000;
/// The most tools of one connector.
pub const MAX_TOOLS_PER_CONNECTOR: usize = 2_000;
/// The most tools of all connectors together.
pub const MAX_REGISTRY_TOOLS: usize = 50_000;
/// The deepest JSON nesting inside one input or output schema; deeper schemas are refused
/// (what a tool's parameters need is a few levels).
pub const MAX_SCHEMA_DEPTH: usize = 32;
/// The longest connector or tool key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// The most characters of a description kept; the rest is cut (it becomes documentation and
/// a model's prompt).
pub const MAX_DESCRIPTION_CHARS: usize = 4_096;
/// The longest tool name handed to a model (the limit of OpenAI, Anthropic, Gemini and
/// Bedrock alike).
pub const MAX_MODEL_NAME: usize = 64;

/// A parsed registry: its connectors, sorted by key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Registry {
    /// The registry format's version, as written (`1.0.0`).
    pub version: String,
    /// The connectors, sorted by key.
    pub connectors: Vec<RegistryConnector>,
}

/// One connector of the registry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegistryConnector {
    /// The registry's key: the connector's name in snake_case (`google_sheets`).
    pub key: String,
    /// Fastn's id of the connector, sent as `connectorId`.
    pub id: String,
    /// The name Fastn shows.
    pub display_name: Option<String>,
    /// Where it comes from: `workspace`, `org` or `community`.
    pub source: Option<String>,
    /// The tools, sorted by key.
    pub tools: Vec<RegistryTool>,
}

/// One tool of a connector.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegistryTool {
    /// The registry's key: the tool's name in snake_case (`send_message`).
    pub key: String,
    /// Fastn's id of the tool, sent as `toolId` (older registries: `actionId`).
    pub id: String,
    /// The tool's name as Fastn writes it (`sendMessage`), cut to [`MAX_KEY_BYTES`] characters.
    pub name: Option<String>,
    /// What the tool does, cut to [`MAX_DESCRIPTION_CHARS`].
    pub description: Option<String>,
    /// The JSON Schema of its parameters; `None` when the registry gives none.
    pub input_schema: Option<Value>,
    /// The JSON Schema of its answer, when given.
    pub output_schema: Option<Value>,
    /// It runs only with a person's approval of its arguments: `"requiresApproval": true`
    /// (what a manifest's `approve:` writes into the `REGISTRY` it generates), or the MCP
    /// hint `"annotations": {"destructiveHint": true}`.
    pub requires_approval: bool,
}

/// Why a registry was refused: the JSON path of the offending value and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    /// Where: `connectors.slack.tools.send_message.toolId`, or empty for the whole document.
    pub path: String,
    /// What was expected and what came; registry text in it is escaped.
    pub message: String,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.as_str() {
            "" => f.write_str(&self.message),
            path => write!(f, "at `{path}`: {}", self.message),
        }
    }
}

impl std::error::Error for RegistryError {}

fn error(path: &str, message: impl Into<String>) -> RegistryError {
    RegistryError { path: path.to_owned(), message: message.into() }
}

/// How a tool's parameters are grouped on the wire, from its input schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping<'a> {
    /// The schema has exactly one property, an object (`body`): its fields are the tool's
    /// parameters, sent inside that group. A model is given the group's schema.
    Unwrapped(&'a str),
    /// Anything else: the parameters are the schema's structure as it is (several groups,
    /// top-level values).
    AsIs,
    /// No schema, or one without properties: any object, sent as `{"body": …}`.
    Untyped,
}

impl RegistryTool {
    /// How this tool's parameters are grouped.
    pub fn grouping(&self) -> Grouping<'_> {
        let Some(properties) = self.input_schema.as_ref().and_then(|schema| schema.get("properties")) else {
            return Grouping::Untyped;
        };
        let Some(properties) = properties.as_object().filter(|map| !map.is_empty()) else {
            return Grouping::Untyped;
        };
        match properties.iter().next() {
            Some((name, schema)) if properties.len() == 1 && is_object_schema(schema) => {
                Grouping::Unwrapped(name)
            }
            _ => Grouping::AsIs,
        }
    }

    /// The schema of the arguments a caller (or a model) gives: the group's schema when the
    /// tool has one group, the input schema otherwise, an open object when there is none.
    /// An unwrapped group keeps the root's `$defs` (and `definitions`), so its references
    /// resolve. Always an object schema: `"type": "object"` is added where a group or the input
    /// schema leaves it out (MCP clients and model providers refuse a tool list with one
    /// untyped entry).
    ///
    /// # Errors
    /// [`RegistryError`] naming the tool when its input schema is typed as something other
    /// than an object (`"type": "string"`): no arguments object could match it.
    pub fn arguments_schema(&self) -> Result<Value, RegistryError> {
        if let Some(kind) = self.input_schema.as_ref().and_then(|schema| schema.get("type"))
            && kind.as_str() != Some("object")
        {
            return Err(self.not_an_object(&format!("typed {}", escape(&kind.to_string(), 40))));
        }
        let mut schema = match (self.grouping(), &self.input_schema) {
            (Grouping::Unwrapped(group), Some(schema)) => {
                let mut unwrapped = schema["properties"][group].clone();
                // The root's definitions come along: the group's `$ref: "#/$defs/…"` resolve
                // against the schema the model and the check are given.
                for keyword in ["$defs", "definitions"] {
                    if let (Some(defs), Value::Object(map)) = (schema.get(keyword), &mut unwrapped) {
                        map.entry(keyword).or_insert_with(|| defs.clone());
                    }
                }
                unwrapped
            }
            (Grouping::AsIs, Some(schema)) => schema.clone(),
            _ => serde_json::json!({"type": "object", "properties": {}, "additionalProperties": true}),
        };
        let Some(map) = schema.as_object_mut() else {
            return Err(self.not_an_object("not a JSON object"));
        };
        match map.get("type") {
            None => {
                map.insert("type".to_owned(), Value::from("object"));
            }
            Some(Value::String(kind)) if kind == "object" => {}
            Some(other) => {
                let other = escape(&other.to_string(), 40);
                return Err(self.not_an_object(&format!("typed {other}")));
            }
        }
        // A group beside others, untyped, is typed too.
        if let Some(Value::Object(properties)) = map.get_mut("properties") {
            for group in properties.values_mut() {
                if let Value::Object(group) = group
                    && group.get("properties").is_some_and(Value::is_object)
                    && !group.contains_key("type")
                {
                    group.insert("type".to_owned(), Value::from("object"));
                }
            }
        }
        Ok(schema)
    }

    fn not_an_object(&self, what: &str) -> RegistryError {
        error(
            &format!("tools.{}.inputSchema", shown_key(&self.key)),
            format!("the tool's arguments schema is {what}, not an object schema: the tool is not served"),
        )
    }

    /// The `parameters` sent for `arguments` given in the form of
    /// [`arguments_schema`](Self::arguments_schema): wrapped in the group when there is one.
    pub fn parameters(&self, arguments: Value) -> Value {
        match self.grouping() {
            Grouping::Unwrapped(group) => Value::Object(Map::from_iter([(group.to_owned(), arguments)])),
            Grouping::AsIs => arguments,
            Grouping::Untyped => Value::Object(Map::from_iter([("body".to_owned(), arguments)])),
        }
    }
}

/// Whether `schema` describes an object with properties (a parameter group).
pub fn is_object_schema(schema: &Value) -> bool {
    let typed_object = schema.get("type").and_then(Value::as_str) == Some("object");
    let has_properties = schema.get("properties").is_some_and(Value::is_object);
    has_properties && (typed_object || schema.get("type").is_none())
}

impl Registry {
    /// Reads a registry in the format Fastn's CLI writes.
    ///
    /// Unknown keys are ignored (the format grows); what the SDK uses is checked: ids are
    /// sendable ([`id_problem`]), keys non-empty and at most [`MAX_KEY_BYTES`], schemas JSON
    /// objects no deeper than [`MAX_SCHEMA_DEPTH`], counts within the limits above.
    ///
    /// # Errors
    /// [`RegistryError`] naming the JSON path of the first problem.
    pub fn parse(text: &str) -> Result<Registry, RegistryError> {
        if text.len() > MAX_REGISTRY_BYTES {
            return Err(error(
                "",
                format!(
                    "it is {} bytes, more than the {MAX_REGISTRY_BYTES} bytes a registry may have",
                    text.len()
                ),
            ));
        }
        let document: Value = serde_json::from_str(text).map_err(|err| {
            error(
                "",
                format!("not JSON: {} (line {}, column {})", strip_position(&err), err.line(), err.column()),
            )
        })?;
        Registry::from_value(&document)
    }

    /// As [`parse`](Self::parse), from JSON already parsed.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_value(document: &Value) -> Result<Registry, RegistryError> {
        let root =
            document.as_object().ok_or_else(|| error("", "expected a JSON object with `connectors`"))?;
        let version = match root.get("version") {
            None => String::new(),
            Some(Value::String(version)) => version.clone(),
            Some(_) => return Err(error("version", "expected a string")),
        };
        let connectors = root
            .get("connectors")
            .ok_or_else(|| error("", "missing `connectors`, the map of connector key to connector"))?
            .as_object()
            .ok_or_else(|| error("connectors", "expected an object from connector key to connector"))?;
        if connectors.len() > MAX_REGISTRY_CONNECTORS {
            return Err(error("connectors", format!("more than {MAX_REGISTRY_CONNECTORS} connectors")));
        }
        let mut total = 0;
        let mut parsed = Vec::with_capacity(connectors.len());
        for (key, connector) in connectors {
            let path = format!("connectors.{}", shown_key(key));
            let connector = read_connector(key, connector, &path)?;
            total += connector.tools.len();
            if total > MAX_REGISTRY_TOOLS {
                return Err(error(&path, format!("more than {MAX_REGISTRY_TOOLS} tools in all")));
            }
            parsed.push(connector);
        }
        Ok(Registry { version, connectors: parsed })
    }

    /// The connector of registry key `key`.
    pub fn connector(&self, key: &str) -> Option<&RegistryConnector> {
        self.connectors.binary_search_by(|c| c.key.as_str().cmp(key)).ok().map(|at| &self.connectors[at])
    }

    /// The connector whose Fastn id is `id`.
    pub fn connector_by_id(&self, id: &str) -> Option<&RegistryConnector> {
        self.connectors.iter().find(|c| c.id == id)
    }

    /// The registry as Fastn's CLI writes it (`tools sync` writes this; the macro embeds
    /// the selected part of it).
    pub fn to_json(&self) -> Value {
        let connectors = self.connectors.iter().map(|c| {
            let tools = c.tools.iter().map(|t| {
                let mut tool = Map::new();
                tool.insert("toolId".into(), t.id.clone().into());
                put(&mut tool, "name", t.name.clone().map(Value::from));
                put(&mut tool, "description", t.description.clone().map(Value::from));
                put(&mut tool, "inputSchema", t.input_schema.clone());
                put(&mut tool, "outputSchema", t.output_schema.clone());
                put(&mut tool, "requiresApproval", t.requires_approval.then_some(Value::Bool(true)));
                (t.key.clone(), Value::Object(tool))
            });
            let mut connector = Map::new();
            connector.insert("id".into(), c.id.clone().into());
            put(&mut connector, "display_name", c.display_name.clone().map(Value::from));
            put(&mut connector, "source", c.source.clone().map(Value::from));
            connector.insert("connector_type".into(), "connector".into());
            connector.insert("tools".into(), Value::Object(tools.collect()));
            connector.insert("tool_count".into(), c.tools.len().into());
            (c.key.clone(), Value::Object(connector))
        });
        let version = if self.version.is_empty() { "1.0.0" } else { self.version.as_str() };
        serde_json::json!({"version": version, "connectors": Value::Object(connectors.collect())})
    }
}

impl RegistryConnector {
    /// The tool of key `key`.
    pub fn tool(&self, key: &str) -> Option<&RegistryTool> {
        self.tools.binary_search_by(|t| t.key.as_str().cmp(key)).ok().map(|at| &self.tools[at])
    }

    /// The tool whose Fastn id is `id`.
    pub fn tool_by_id(&self, id: &str) -> Option<&RegistryTool> {
        self.tools.iter().find(|t| t.id == id)
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value);
    }
}

/// serde_json's message without its ` at line L column C`, which is given apart.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// A key as shown in a path: escaped and bounded.
fn shown_key(key: &str) -> String {
    escape(key, 80)
}

fn read_connector(key: &str, value: &Value, path: &str) -> Result<RegistryConnector, RegistryError> {
    check_key(key, path)?;
    let map = value.as_object().ok_or_else(|| error(path, "expected an object (id, tools, …)"))?;
    let id = required_id(map, &["id"], path)?;
    let tools_path = format!("{path}.tools");
    let tools = match map.get("tools") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(tools)) => tools.clone(),
        Some(_) => return Err(error(&tools_path, "expected an object from tool key to tool")),
    };
    if tools.len() > MAX_TOOLS_PER_CONNECTOR {
        return Err(error(&tools_path, format!("more than {MAX_TOOLS_PER_CONNECTOR} tools")));
    }
    let tools = tools
        .iter()
        .map(|(tool_key, tool)| read_tool(tool_key, tool, &format!("{tools_path}.{}", shown_key(tool_key))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RegistryConnector {
        key: key.to_owned(),
        id,
        display_name: optional_text(map, "display_name", path)?,
        source: optional_text(map, "source", path)?,
        tools,
    })
}

fn read_tool(key: &str, value: &Value, path: &str) -> Result<RegistryTool, RegistryError> {
    check_key(key, path)?;
    let map = value.as_object().ok_or_else(|| error(path, "expected an object (toolId, inputSchema, …)"))?;
    let id = required_id(map, &["toolId", "actionId"], path)?;
    let schema = |name: &str| -> Result<Option<Value>, RegistryError> {
        let schema_path = format!("{path}.{name}");
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(schema @ Value::Object(_)) => {
                if depth(schema) > MAX_SCHEMA_DEPTH {
                    return Err(error(&schema_path, format!("nested deeper than {MAX_SCHEMA_DEPTH} levels")));
                }
                Ok(Some(schema.clone()))
            }
            Some(_) => Err(error(&schema_path, "expected a JSON Schema object")),
        }
    };
    Ok(RegistryTool {
        key: key.to_owned(),
        id,
        name: optional_text(map, "name", path)?.map(|name| name.chars().take(MAX_KEY_BYTES).collect()),
        description: optional_text(map, "description", path)?
            .map(|text| text.chars().take(MAX_DESCRIPTION_CHARS).collect()),
        input_schema: schema("inputSchema")?,
        output_schema: schema("outputSchema")?,
        requires_approval: requires_approval(map, path)?,
    })
}

/// `requiresApproval`, or the MCP annotation `destructiveHint`, each a boolean when given.
fn requires_approval(map: &Map<String, Value>, path: &str) -> Result<bool, RegistryError> {
    let flag = |value: Option<&Value>, at: &str| match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(_) => Err(error(&format!("{path}.{at}"), "expected true or false")),
    };
    let explicit = flag(map.get("requiresApproval"), "requiresApproval")?;
    let destructive = match map.get("annotations") {
        Some(Value::Object(annotations)) => {
            flag(annotations.get("destructiveHint"), "annotations.destructiveHint")?
        }
        _ => false,
    };
    Ok(explicit || destructive)
}

fn check_key(key: &str, path: &str) -> Result<(), RegistryError> {
    if key.is_empty() {
        return Err(error(path, "an empty key"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(error(path, format!("a key longer than {MAX_KEY_BYTES} bytes")));
    }
    if key.chars().any(crate::is_unprintable) {
        return Err(error(path, "a key with a control or bidirectional character"));
    }
    Ok(())
}

/// The first of `names` present, a sendable id.
fn required_id(map: &Map<String, Value>, names: &[&str], path: &str) -> Result<String, RegistryError> {
    let Some((name, value)) = names.iter().find_map(|name| Some((*name, map.get(*name)?))) else {
        return Err(error(path, format!("missing `{}`, the Fastn id", names.join("` or `"))));
    };
    let id_path = format!("{path}.{name}");
    let id = value.as_str().ok_or_else(|| error(&id_path, "expected a string"))?;
    match id_problem(id, true) {
        Some(problem) => {
            Err(error(&id_path, format!("unusable id: {problem} (at most {MAX_ID_BYTES} bytes)")))
        }
        None => Ok(id.to_owned()),
    }
}

fn optional_text(map: &Map<String, Value>, name: &str, path: &str) -> Result<Option<String>, RegistryError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(error(&format!("{path}.{name}"), "expected a string")),
    }
}

/// The nesting depth of `value` (a scalar is 0).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The registry's key of a connector named `name`, as Fastn's CLI makes it: lowercased,
/// spaces and hyphens to `_` (`google-sheets` → `google_sheets`).
pub fn registry_key(name: &str) -> String {
    name.chars().map(|c| if c == '-' || c == ' ' { '_' } else { c.to_ascii_lowercase() }).collect()
}

/// The most distinct words of a prompt [`relevance`] looks at.
pub const MAX_PROMPT_WORDS: usize = 64;

/// English words too common to say which tool is meant.
const STOP_WORDS: [&str; 32] = [
    "about", "all", "and", "any", "are", "can", "could", "for", "from", "have", "how", "into", "its", "our",
    "please", "should", "that", "the", "their", "them", "then", "this", "using", "was", "what", "when",
    "where", "which", "who", "will", "with", "you",
];

/// The words of `prompt` a tool ranking looks for: its runs of letters and digits of three
/// characters or more, lowercased, common English words (`the`, `with`, …) left out, the
/// first [`MAX_PROMPT_WORDS`] distinct ones in sorted order (a prompt of a megabyte is still
/// a handful of comparisons per tool).
pub fn prompt_words(prompt: &str) -> Vec<String> {
    let mut words: Vec<String> = prompt
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
        .collect();
    words.sort_unstable();
    words.dedup();
    words.truncate(MAX_PROMPT_WORDS);
    words
}

/// How relevant `tool` of the connector `connector` (its registry key) is to a prompt of
/// `words` ([`prompt_words`]): how many of them occur in the connector's key and the tool's
/// key, name and description (lowercased, `_` read as a space), each counted once. The
/// ranking of the emulator's `getTools` and of `fastn-auth-agent`'s `ToolSet::search`: a
/// documented, predictable one, not Fastn's own.
///
/// ```
/// use fastn_auth_rules::registry::{Registry, prompt_words, relevance};
/// let registry = Registry::parse(r#"{"connectors": {"slack": {"id": "c1", "tools": {"send_message":
///     {"toolId": "t1", "description": "Posts a message to a channel."}}}}}"#).unwrap();
/// let tool = &registry.connectors[0].tools[0];
/// assert_eq!(relevance(&prompt_words("Send a Slack message to #general"), "slack", tool), 3);
/// assert_eq!(relevance(&prompt_words("create a HubSpot contact"), "slack", tool), 0);
/// ```
pub fn relevance(words: &[String], connector: &str, tool: &RegistryTool) -> usize {
    let haystack = format!(
        "{connector} {} {} {}",
        tool.key,
        tool.name.as_deref().unwrap_or_default(),
        tool.description.as_deref().unwrap_or_default()
    )
    .to_lowercase()
    .replace('_', " ");
    words.iter().filter(|word| haystack.contains(word.as_str())).count()
}

/// The name a language model is given for tool `tool` of connector `connector` (registry
/// keys): `slack_send_message`. Unique across connectors, the same for the same pair
/// whatever else a tool set holds, and within every provider's rules (ASCII letters, digits
/// and `_`, starting with a letter, at most [`MAX_MODEL_NAME`] characters). Pairs whose
/// plain name would break a rule, or could be another pair's (a key with `_` runs,
/// characters outside the set, too long), end in a hash of the pair instead.
///
/// ```
/// use fastn_auth_rules::registry::model_name;
/// assert_eq!(model_name("slack", "send_message"), "slack_send_message");
/// assert_ne!(model_name("a_b", "c"), model_name("a", "b_c"));
/// assert!(model_name("x", &"long".repeat(40)).len() <= 64);
/// ```
pub fn model_name(connector: &str, tool: &str) -> String {
    let plain = |key: &str| {
        !key.is_empty()
            && !key.contains("__")
            && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    // `__` separates connector and tool, so it may not occur inside a plain key; a key
    // with `_` at either end could also make `__`.
    let unambiguous = |key: &str| plain(key) && !key.starts_with('_') && !key.ends_with('_');
    let name = format!("{connector}__{tool}");
    let simple = format!("{connector}_{tool}");
    // The short form `connector_tool` is unambiguous only when the connector has no `_`.
    if unambiguous(connector)
        && unambiguous(tool)
        && simple.len() <= MAX_MODEL_NAME
        && starts_with_letter(&simple)
    {
        return if connector.contains('_') { name_or_hashed(&name, connector, tool) } else { simple };
    }
    hashed(connector, tool)
}

fn name_or_hashed(name: &str, connector: &str, tool: &str) -> String {
    if name.len() <= MAX_MODEL_NAME { name.to_owned() } else { hashed(connector, tool) }
}

fn starts_with_letter(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// `prefix_hash`: the pair's characters within the rules, cut, then a 64-bit FNV-1a hash
/// of the pair in hex (stable across builds and platforms).
fn hashed(connector: &str, tool: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in connector.bytes().chain([0]).chain(tool.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut prefix: String = format!("{connector}_{tool}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    if !starts_with_letter(&prefix) {
        prefix.insert(0, 't');
    }
    prefix.truncate(MAX_MODEL_NAME - 17);
    format!("{prefix}_{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"version": "1.0.0", "connectors": {
        "slack": {"id": "c-slack", "display_name": "Slack", "source": "community", "tools": {
            "send_message": {"toolId": "t-1", "name": "sendMessage", "description": "Send.",
                "inputSchema": {"type": "object", "properties": {"body": {"type": "object",
                    "properties": {"channel": {"type": "string"}}, "required": ["channel"]}}}},
            "old": {"actionId": "t-2"}}},
        "hubspot": {"id": "c-hub", "tools": {}}}}"#;

    #[test]
    fn reads_fastns_format_sorted_with_either_id_key() {
        let registry = Registry::parse(SAMPLE).unwrap();
        let keys: Vec<_> = registry.connectors.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["hubspot", "slack"]);
        let slack = registry.connector("slack").unwrap();
        assert_eq!(slack.tool("old").unwrap().id, "t-2");
        let send = slack.tool("send_message").unwrap();
        assert_eq!((send.id.as_str(), send.grouping()), ("t-1", Grouping::Unwrapped("body")));
        assert_eq!(send.arguments_schema().unwrap()["required"][0], "channel");
        assert_eq!(
            send.parameters(serde_json::json!({"channel": "C"})),
            serde_json::json!({"body": {"channel": "C"}})
        );
        assert_eq!(slack.tool("old").unwrap().grouping(), Grouping::Untyped);
        // What `tools sync` writes reads back the same.
        assert_eq!(Registry::from_value(&registry.to_json()).unwrap(), registry);
    }

    #[test]
    fn an_unwrapped_group_keeps_the_definitions_its_references_name() {
        let json = r##"{"connectors": {"crm": {"id": "c", "tools": {"create": {"toolId": "t",
            "inputSchema": {"type": "object", "properties": {"body": {"type": "object",
                "properties": {"owner": {"$ref": "#/$defs/user"}}}},
                "$defs": {"user": {"type": "object", "properties": {"id": {"type": "string"}}}}}}}}}}"##;
        let registry = Registry::parse(json).unwrap();
        let schema = registry.connector("crm").unwrap().tool("create").unwrap().arguments_schema().unwrap();
        assert_eq!(schema["properties"]["owner"]["$ref"], "#/$defs/user");
        assert_eq!(schema["$defs"]["user"]["properties"]["id"]["type"], "string", "the reference resolves");
    }

    #[test]
    fn every_arguments_schema_is_an_object_schema_or_the_tool_is_refused_by_name() {
        let tool = |schema: serde_json::Value| RegistryTool {
            key: "t".into(),
            id: "i".into(),
            input_schema: Some(schema),
            ..RegistryTool::default()
        };
        let group = tool(serde_json::json!({"properties": {"body": {"properties": {"a": {}}}}}));
        assert_eq!(group.arguments_schema().unwrap()["type"], "object", "an untyped single group");
        let groups = tool(serde_json::json!({"properties": {
            "body": {"properties": {"a": {}}}, "query": {"type": "object", "properties": {}}}}));
        let schema = groups.arguments_schema().unwrap();
        assert_eq!(
            (&schema["type"], &schema["properties"]["body"]["type"]),
            (&"object".into(), &"object".into())
        );
        for bad in [
            serde_json::json!({"type": "string"}),
            serde_json::json!({"type": ["object", "null"], "properties": {"a": {}}}),
        ] {
            let err = tool(bad).arguments_schema().unwrap_err();
            assert_eq!(err.path, "tools.t.inputSchema");
            assert!(err.message.contains("not an object schema"), "{err}");
        }
    }

    #[test]
    fn errors_name_the_json_path() {
        let cases = [
            ("[]", "", "expected a JSON object"),
            ("{\"connectors\": {\"slack\": {}}}", "connectors.slack", "missing `id`"),
            ("{\"connectors\": {\"slack\": {\"id\": \"..\"}}}", "connectors.slack.id", "unusable id"),
            (
                "{\"connectors\": {\"slack\": {\"id\": \"c\", \"tools\": {\"x\": {\"toolId\": 5}}}}}",
                "connectors.slack.tools.x.toolId",
                "expected a string",
            ),
            (
                "{\"connectors\": {\"slack\": {\"id\": \"c\", \"tools\": {\"x\": {\"toolId\": \"t\", \"inputSchema\": []}}}}}",
                "connectors.slack.tools.x.inputSchema",
                "JSON Schema object",
            ),
            ("{\"connectors\": {\"\": {\"id\": \"c\"}}}", "connectors.", "empty key"),
        ];
        for (text, path, message) in cases {
            let err = Registry::parse(text).unwrap_err();
            assert_eq!(err.path, path, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
        let err = Registry::parse("{\"connectors\": {,}}").unwrap_err();
        assert!(err.to_string().contains("line 1, column 17"), "{err}");
    }

    #[test]
    fn limits_are_enforced() {
        let deep = format!("{}1{}", "[".repeat(MAX_SCHEMA_DEPTH), "]".repeat(MAX_SCHEMA_DEPTH));
        let text = format!(
            "{{\"connectors\": {{\"s\": {{\"id\": \"c\", \"tools\": {{\"t\": {{\"toolId\": \"t\", \"inputSchema\": {{\"x\": {deep}}}}}}}}}}}}}"
        );
        let err = Registry::parse(&text).unwrap_err();
        assert!(err.message.contains("deeper than 32"), "{err}");
        let many: Vec<String> =
            (0..=MAX_TOOLS_PER_CONNECTOR).map(|i| format!("\"t{i}\": {{\"toolId\": \"i{i}\"}}")).collect();
        let text =
            format!("{{\"connectors\": {{\"s\": {{\"id\": \"c\", \"tools\": {{{}}}}}}}}}", many.join(","));
        assert!(Registry::parse(&text).unwrap_err().message.contains("more than 2000 tools"));
    }

    #[test]
    fn grouping_follows_the_schemas_top_level() {
        let tool = |schema: Value| RegistryTool { input_schema: Some(schema), ..RegistryTool::default() };
        let two = tool(serde_json::json!({"properties": {"body": {"type": "object", "properties": {}},
            "query": {"type": "object", "properties": {"q": {}}}}}));
        assert_eq!(two.grouping(), Grouping::AsIs);
        let scalar = tool(serde_json::json!({"properties": {"text": {"type": "string"}}}));
        assert_eq!(scalar.grouping(), Grouping::AsIs);
        assert_eq!(scalar.parameters(serde_json::json!({"text": "a"})), serde_json::json!({"text": "a"}));
        assert_eq!(tool(serde_json::json!({"type": "object"})).grouping(), Grouping::Untyped);
    }

    #[test]
    fn model_names_are_unique_stable_and_within_every_providers_rules() {
        let pairs = [
            ("slack", "send_message"),
            ("google_sheets", "append"),
            ("google", "sheets_append"),
            ("a_b", "c"),
            ("a", "b_c"),
            ("1password", "get"),
            ("x", "Upper-Case"),
            ("x", "upper_case"),
            ("x", &"y".repeat(100)),
            ("x", &"y".repeat(101)),
        ];
        let names: Vec<String> = pairs.iter().map(|(c, t)| model_name(c, t)).collect();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for name in &names {
            assert!(name.len() <= MAX_MODEL_NAME && starts_with_letter(name), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
        }
        assert_eq!(names[0], "slack_send_message");
        assert_eq!(names[1], "google_sheets__append");
        assert_eq!(model_name("1password", "get"), names[5]);
    }
}
