//! What a tool answers in the emulator: an instance of its `outputSchema` when that says
//! more than "an object", with the echo of the call (tool, tenant, parameters) in the fields
//! the schema does not name; the echo alone otherwise.
//!
//! The instance: every property the schema names; a string is the parameter of the same
//! name when the call had one (a message's `channel`), else its `enum`'s or `const`'s first
//! value, else `"example"`; an integer its `minimum` or 1; a number 1.5; a boolean `true`;
//! an array one item; a `$ref` to `$defs` followed; the first of a `oneOf`/`anyOf`.

use serde_json::{Map, Value};

/// How deep an instance is made; a deeper schema (or a `$ref` cycle) ends in `null`.
const MAX_DEPTH: usize = 16;

/// The body of `tool`'s answer: an instance of `output_schema` holding `echo`'s fields where
/// the schema allows others, or `echo` as it is.
pub(crate) fn answer(output_schema: Option<&Value>, echo: Value) -> Value {
    let Some(schema) = output_schema.filter(|schema| described(schema)) else { return echo };
    let parameters = flat_parameters(&echo["parameters"]);
    let mut instance = instance(schema, schema, &parameters, 0);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    if let (Value::Object(map), Value::Object(echo), false) = (&mut instance, echo, closed) {
        for (name, value) in echo {
            map.entry(name).or_insert(value);
        }
    }
    instance
}

fn described(schema: &Value) -> bool {
    schema.get("properties").and_then(Value::as_object).is_some_and(|properties| !properties.is_empty())
}

/// The call's parameters by name, a group's (`body`, `query`) lifted to the top.
fn flat_parameters(parameters: &Value) -> Map<String, Value> {
    let mut flat = Map::new();
    for (name, value) in parameters.as_object().into_iter().flatten() {
        match value {
            Value::Object(group) => flat.extend(group.clone()),
            value => {
                flat.insert(name.clone(), value.clone());
            }
        }
    }
    flat
}

fn instance(schema: &Value, root: &Value, parameters: &Map<String, Value>, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    let Some(map) = schema.as_object() else { return Value::Null };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        let target = reference.strip_prefix('#').and_then(|pointer| root.pointer(pointer));
        return target.map_or(Value::Null, |target| instance(target, root, parameters, depth + 1));
    }
    for union in ["oneOf", "anyOf"] {
        if let Some(first) = map.get(union).and_then(Value::as_array).and_then(|list| list.first()) {
            return instance(first, root, parameters, depth + 1);
        }
    }
    if let Some(value) = map.get("const") {
        return value.clone();
    }
    if let Some(first) = map.get("enum").and_then(Value::as_array).and_then(|values| values.first()) {
        return first.clone();
    }
    let kind = match map.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).find(|kind| *kind != "null"),
        Some(kind) => kind.as_str(),
        None if map.contains_key("properties") => Some("object"),
        None => None,
    };
    match kind {
        Some("object") => {
            let properties = map.get("properties").and_then(Value::as_object).into_iter().flatten();
            let fields = properties.map(|(name, property)| {
                let value = match parameters.get(name) {
                    Some(given @ Value::String(_))
                        if property.get("type") == Some(&Value::from("string")) =>
                    {
                        given.clone()
                    }
                    _ => instance(property, root, parameters, depth + 1),
                };
                (name.clone(), value)
            });
            Value::Object(fields.collect())
        }
        Some("array") => {
            let item =
                map.get("items").map_or(Value::Null, |items| instance(items, root, parameters, depth + 1));
            Value::Array(vec![item])
        }
        Some("string") => Value::from("example"),
        Some("integer") => map.get("minimum").and_then(Value::as_i64).map_or(Value::from(1), Value::from),
        Some("number") => Value::from(1.5),
        Some("boolean") => Value::Bool(true),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_instance_of_the_schema_holds_the_echo_and_the_calls_strings() {
        let schema = json!({"type": "object", "properties": {
            "ok": {"type": "boolean"}, "channel": {"type": "string"}, "count": {"type": "integer", "minimum": 0},
            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
            "kind": {"type": ["string", "null"], "enum": ["a", "b"]}},
            "$defs": {"item": {"type": "object", "properties": {"id": {"type": "string"}}}}});
        let echo = json!({"tool": "t", "parameters": {"body": {"channel": "C1"}}});
        let body = answer(Some(&schema), echo.clone());
        assert_eq!(
            body,
            json!({"ok": true, "channel": "C1", "count": 0, "items": [{"id": "example"}], "kind": "a",
                "tool": "t", "parameters": {"body": {"channel": "C1"}}})
        );
        assert_eq!(answer(Some(&json!({"type": "object"})), echo.clone()), echo);
        let closed = json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "additionalProperties": false});
        assert_eq!(answer(Some(&closed), echo), json!({"ok": true}));
    }

    #[test]
    fn a_reference_cycle_ends() {
        let schema = json!({"type": "object", "properties": {"node": {"$ref": "#/$defs/node"}},
            "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}}});
        let body = answer(Some(&schema), json!({}));
        assert!(body.pointer("/node/next/next").is_some());
    }
}
