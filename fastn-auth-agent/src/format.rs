//! The tool lists model providers take ([`ModelFormat`]), each in the form its own SDK
//! validates, and OpenAI's strict mode: a schema made strict on the way out, a model's
//! `null` for an optional field dropped on the way back.

use fastn_auth::{Error, Result};
use fastn_auth_rules::shown_id as shown;
use serde_json::{Map, Value, json};

/// A model provider's tool-list format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModelFormat {
    /// OpenAI Chat Completions: `[{"type": "function", "function": {"name", "description",
    /// "parameters"}}]`.
    OpenAi,
    /// Anthropic Messages: `[{"name", "description", "input_schema"}]`.
    Anthropic,
    /// Gemini: `{"function_declarations": [{"name", "description", "parametersJsonSchema"}]}`.
    /// The schema goes as `parametersJsonSchema`, which Gemini takes as JSON Schema, not as
    /// `parameters`, whose OpenAPI subset refuses type arrays, `$ref`, `oneOf`, `const` and
    /// integer enums (google-genai's `types.Tool` rejects the whole list over one of them).
    Gemini,
    /// Bedrock Converse: `[{"toolSpec": {"name", "description", "inputSchema": {"json"}}}]`,
    /// the description never empty.
    Bedrock,
    /// OpenAI Responses: `[{"type": "function", "name", "description", "parameters",
    /// "strict": false}]` (flat: the Responses API refuses the Chat Completions shape).
    OpenAiResponses,
    /// [`OpenAi`](Self::OpenAi) in strict mode ([`strict_schema`]).
    OpenAiStrict,
    /// [`OpenAiResponses`](Self::OpenAiResponses) in strict mode ([`strict_schema`]).
    OpenAiResponsesStrict,
}

impl ModelFormat {
    /// Every format.
    pub const ALL: [ModelFormat; 7] = [
        ModelFormat::OpenAi,
        ModelFormat::Anthropic,
        ModelFormat::Gemini,
        ModelFormat::Bedrock,
        ModelFormat::OpenAiResponses,
        ModelFormat::OpenAiStrict,
        ModelFormat::OpenAiResponsesStrict,
    ];

    /// The format's name on the command line: `openai`, `anthropic`, `gemini`, `bedrock`,
    /// `openai-responses`, `openai-strict`, `openai-responses-strict`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ModelFormat::OpenAi => "openai",
            ModelFormat::Anthropic => "anthropic",
            ModelFormat::Gemini => "gemini",
            ModelFormat::Bedrock => "bedrock",
            ModelFormat::OpenAiResponses => "openai-responses",
            ModelFormat::OpenAiStrict => "openai-strict",
            ModelFormat::OpenAiResponsesStrict => "openai-responses-strict",
        }
    }

    /// The same format in OpenAI's strict mode (itself for a format without one).
    pub const fn strict(self) -> ModelFormat {
        match self {
            ModelFormat::OpenAi => ModelFormat::OpenAiStrict,
            ModelFormat::OpenAiResponses => ModelFormat::OpenAiResponsesStrict,
            other => other,
        }
    }

    /// One tool in this format.
    pub(crate) fn tool(self, name: &str, description: &str, schema: &Value) -> Value {
        match self {
            ModelFormat::OpenAi => json!({"type": "function", "function":
                {"name": name, "description": description, "parameters": schema}}),
            ModelFormat::OpenAiStrict => json!({"type": "function", "function":
                {"name": name, "description": description, "parameters": strict_schema(schema), "strict": true}}),
            ModelFormat::OpenAiResponses => json!({"type": "function", "name": name,
                "description": description, "parameters": schema, "strict": false}),
            ModelFormat::OpenAiResponsesStrict => json!({"type": "function", "name": name,
                "description": description, "parameters": strict_schema(schema), "strict": true}),
            ModelFormat::Anthropic => {
                json!({"name": name, "description": description, "input_schema": schema})
            }
            ModelFormat::Gemini => {
                json!({"name": name, "description": description, "parametersJsonSchema": schema})
            }
            ModelFormat::Bedrock => {
                // Bedrock's validator refuses an empty description.
                let description = if description.trim().is_empty() { name } else { description };
                json!({"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}})
            }
        }
    }

    /// The tool list of `tools` in this format.
    pub(crate) fn list(self, tools: Vec<Value>) -> Value {
        match self {
            ModelFormat::Gemini => json!({ "function_declarations": tools }),
            _ => Value::Array(tools),
        }
    }
}

impl std::str::FromStr for ModelFormat {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        ModelFormat::ALL.into_iter().find(|format| format.as_str() == text).ok_or_else(|| {
            let names: Vec<&str> = ModelFormat::ALL.iter().map(|format| format.as_str()).collect();
            Error::config(format!("unknown format `{}`, expected one of {}", shown(text), names.join(", ")))
        })
    }
}

/// `schema` in OpenAI's strict mode: every object closed (`additionalProperties: false`),
/// every property required, the optional ones made nullable (so a model says `null` for
/// what it leaves out, which [`drop_optional_nulls`] removes before the call is checked),
/// `oneOf` as `anyOf`. The tool's own schema (and its check) is unchanged.
pub fn strict_schema(schema: &Value) -> Value {
    let mut strict = schema.clone();
    make_strict(&mut strict);
    strict
}

fn make_strict(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    if let Some(one_of) = map.remove("oneOf") {
        map.insert("anyOf".to_owned(), one_of);
    }
    for keyword in ["anyOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(items)) = map.get_mut(keyword) {
            items.iter_mut().for_each(make_strict);
        }
    }
    for keyword in ["items", "not"] {
        if let Some(item) = map.get_mut(keyword) {
            make_strict(item);
        }
    }
    for keyword in ["$defs", "definitions"] {
        if let Some(Value::Object(defs)) = map.get_mut(keyword) {
            defs.values_mut().for_each(make_strict);
        }
    }
    let is_object = map.get("type").is_some_and(|kind| kind == "object")
        || map.get("properties").is_some_and(Value::is_object);
    if !is_object {
        return;
    }
    let required: Vec<String> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let properties = map.entry("properties").or_insert_with(|| Value::Object(Map::new()));
    let mut names = Vec::new();
    if let Value::Object(properties) = properties {
        for (name, property) in properties.iter_mut() {
            make_strict(property);
            if !required.contains(name) {
                nullable(property);
            }
            names.push(Value::from(name.as_str()));
        }
    }
    map.insert("required".to_owned(), Value::Array(names));
    map.insert("additionalProperties".to_owned(), Value::Bool(false));
}

/// `schema` also accepting `null`.
fn nullable(schema: &mut Value) {
    if accepts_null(schema) {
        return;
    }
    let Value::Object(map) = schema else {
        *schema = json!({"anyOf": [schema.clone(), {"type": "null"}]});
        return;
    };
    if let Some(Value::Array(all)) = map.get_mut("anyOf") {
        all.push(json!({"type": "null"}));
        return;
    }
    match map.get_mut("type") {
        Some(Value::String(kind)) => {
            let kind = std::mem::take(kind);
            map.insert("type".to_owned(), json!([kind, "null"]));
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                values.push(Value::Null);
            }
        }
        Some(Value::Array(kinds)) => kinds.push(Value::from("null")),
        _ => {
            let inner = std::mem::take(map);
            *schema = json!({"anyOf": [Value::Object(inner), {"type": "null"}]});
        }
    }
}

/// Whether `schema` lets `null` through at its top.
fn accepts_null(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(kind)) => kind == "null",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "null"),
        _ => schema.get("anyOf").and_then(Value::as_array).is_some_and(|all| all.iter().any(accepts_null)),
    }
}

/// A model's arguments as the tool's own schema reads them: a `null` given for an optional
/// property whose schema does not take `null` is dropped (a strict-mode model says `null`
/// for what it leaves out), in nested objects too. Anything else is left for the check.
pub fn drop_optional_nulls(schema: &Value, arguments: &mut Value) {
    let (Some(properties), Value::Object(given)) =
        (schema.get("properties").and_then(Value::as_object), arguments)
    else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    given.retain(|name, value| {
        !(value.is_null()
            && !required.contains(&name.as_str())
            && properties.get(name).is_some_and(|property| !accepts_null(property)))
    });
    for (name, value) in given.iter_mut() {
        if let Some(property) = properties.get(name) {
            drop_optional_nulls(property, value);
            if let (Some(items), Value::Array(values)) = (property.get("items"), value) {
                values.iter_mut().for_each(|value| drop_optional_nulls(items, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_closes_every_object_and_makes_optional_fields_nullable() {
        let schema = json!({"type": "object", "required": ["channel"], "properties": {
            "channel": {"type": "string"},
            "limit": {"type": "integer", "enum": [10, 20]},
            "blocks": {"type": "array", "items": {"type": "object", "properties": {"text": {"type": "string"}}}},
            "target": {"oneOf": [{"type": "string"}, {"$ref": "#/$defs/user"}]},
        }, "$defs": {"user": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}}});
        let strict = strict_schema(&schema);
        assert_eq!(strict["additionalProperties"], false);
        let mut required: Vec<&str> =
            strict["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        required.sort_unstable();
        assert_eq!(required, ["blocks", "channel", "limit", "target"]);
        assert_eq!(strict["properties"]["channel"]["type"], "string", "required: not nullable");
        assert_eq!(
            strict["properties"]["limit"],
            json!({"type": ["integer", "null"], "enum": [10, 20, null]})
        );
        let item = &strict["properties"]["blocks"]["items"];
        assert_eq!((&item["additionalProperties"], &item["required"]), (&json!(false), &json!(["text"])));
        assert_eq!(item["properties"]["text"]["type"], json!(["string", "null"]));
        let target = &strict["properties"]["target"];
        assert!(target.get("oneOf").is_none() && target["anyOf"].as_array().unwrap().len() == 3, "{target}");
        assert_eq!(strict["$defs"]["user"]["additionalProperties"], false);
    }

    #[test]
    fn a_strict_models_nulls_for_optional_fields_are_dropped_and_nothing_else() {
        let schema = json!({"type": "object", "required": ["channel"], "properties": {
            "channel": {"type": "string"},
            "thread_ts": {"type": "string"},
            "note": {"type": ["string", "null"]},
            "nested": {"type": "object", "properties": {"a": {"type": "string"}}},
        }});
        let mut arguments = json!({"channel": null, "thread_ts": null, "note": null, "nested": {"a": null}});
        drop_optional_nulls(&schema, &mut arguments);
        assert_eq!(
            arguments,
            json!({"channel": null, "note": null, "nested": {}}),
            "the check still sees a null channel"
        );
    }
}
