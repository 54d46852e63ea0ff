//! `executeTool` on the wire, as Fastn's `fastn-ai` client speaks it: the request's body and
//! headers, the envelope of its answer, and which error answers are Fastn refusing the tool.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::DecodeError;

/// The header naming the realm of a tool call; always [`REALM_FASTN`].
pub const REALM: &str = "realm";
/// The value of [`REALM`].
pub const REALM_FASTN: &str = "fastn";
/// The header naming the deployment stage a tool call runs in (`LIVE` by default).
pub const STAGE: &str = "stage";

/// Why Fastn refused to run a tool ([`ErrorKind::ToolRefused`](crate::ErrorKind::ToolRefused)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolRefusal {
    /// No such tool (or connector) in the space.
    ToolNotFound,
    /// The tool exists but is not enabled (or is disabled, or not authorized) for the space.
    NotEnabled,
    /// The tenant has no connection of the tool's connector: connect it first.
    NotConnected,
}

/// The body of a call: `{"input": {"toolId", "connectorId", "agentId", "parameters",
/// "connectionId"?}}`.
pub(crate) fn request_body(
    tool_id: String,
    connector_id: String,
    agent_id: &str,
    parameters: Value,
    connection_id: Option<&str>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut input = Map::with_capacity(5);
    input.insert("toolId".into(), tool_id.into());
    input.insert("connectorId".into(), connector_id.into());
    input.insert("agentId".into(), agent_id.into());
    input.insert("parameters".into(), parameters);
    if let Some(connection) = connection_id {
        input.insert("connectionId".into(), connection.into());
    }
    serde_json::to_vec(&serde_json::json!({ "input": input }))
}

/// The most tools a `getTools` answer may list.
pub const MAX_FOUND_TOOLS: usize = 500;

/// A tool Fastn's `getTools` ranked for a prompt ([`FastnAuth::find_tools`](crate::FastnAuth::find_tools)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FoundTool {
    /// Fastn's id of the tool (`toolId`, or an older answer's `actionId`).
    pub tool_id: String,
    /// Its name as the answer gives it (`function.name`, else `name`), sanitised; empty when
    /// it gives none.
    pub name: String,
}

/// `getTools`' answer: a list of tools, bare or as `tools`/`data` (under a `body` too), each
/// with a sendable `toolId` or `actionId`; best first, as Fastn ranked them.
pub(crate) fn decode_found(body: &[u8]) -> Result<Vec<FoundTool>, DecodeError> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|err| DecodeError::new(format!("the answer is not JSON: {err}")))?;
    let answer = match answer {
        Value::Object(mut wrapped) if wrapped.contains_key("body") => {
            wrapped.remove("body").unwrap_or_default()
        }
        other => other,
    };
    let list = match answer {
        Value::Array(list) => list,
        Value::Object(mut answer) => match answer.remove("tools").or_else(|| answer.remove("data")) {
            Some(Value::Array(list)) => list,
            _ => return Err(DecodeError::new("expected a list of tools (or `tools`/`data` holding one)")),
        },
        _ => return Err(DecodeError::new("expected a list of tools (or `tools`/`data` holding one)")),
    };
    if list.len() > MAX_FOUND_TOOLS {
        return Err(DecodeError::new(format!(
            "{} tools, more than the {MAX_FOUND_TOOLS} an answer may list",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(at, tool)| {
            let text = |value: &Value| value.as_str().map(str::to_owned);
            let id = tool.get("toolId").or_else(|| tool.get("actionId")).and_then(text).unwrap_or_default();
            if let Some(problem) = fastn_auth_rules::id_problem(&id, false) {
                return Err(DecodeError::new(format!("tool {at}: its `toolId` is not usable: {problem}")));
            }
            let name = tool
                .pointer("/function/name")
                .or_else(|| tool.get("name"))
                .and_then(text)
                .unwrap_or_default();
            Ok(FoundTool { tool_id: id, name: super::sanitize(&name) })
        })
        .collect()
}

/// What Fastn's envelope of an answer carries: the provider's status, its body (a tree, or
/// the JSON text), and the raw body Fastn received.
pub(crate) struct Answer<B> {
    pub(crate) status: Option<u16>,
    pub(crate) body: B,
    pub(crate) raw_body: Option<String>,
}

/// Which refusal an error answer of `executeTool` is, from Fastn's code (its status when it
/// sent none); `None` for an answer that is no refusal (a 401 for the space's key, a 5xx).
pub(crate) fn refusal(code: Option<&str>, status: u16) -> Option<ToolRefusal> {
    match (code, status) {
        (Some("CONNECTION_NOT_FOUND"), _) => Some(ToolRefusal::NotConnected),
        (Some("TOOL_NOT_FOUND"), _) | (None, 404) => Some(ToolRefusal::ToolNotFound),
        (Some("FORBIDDEN" | "TOOL_NOT_ENABLED"), _) => Some(ToolRefusal::NotEnabled),
        _ => None,
    }
}

/// Fastn's envelope, each value as its JSON text.
type Envelope<'a> = std::collections::HashMap<&'a str, &'a RawValue>;

/// Reads Fastn's envelope: the provider's status, body and raw body. Every key is
/// optional; what is there must have its type, and the status must be an HTTP status.
pub(crate) fn decode_answer(body: &[u8]) -> Result<Answer<Value>, DecodeError> {
    let envelope: Value = serde_json::from_slice(body)
        .map_err(|err| DecodeError::new(format!("the answer is not JSON: {err}")))?;
    let Value::Object(mut envelope) = envelope else {
        return Err(DecodeError::new("expected a JSON object (statusCode, body, rawBody)"));
    };
    let status = status(envelope.get("statusCode"))?;
    let raw_body = raw_body(envelope.remove("rawBody"))?;
    let body = envelope.remove("body").unwrap_or(Value::Null);
    Ok(Answer { status, body, raw_body })
}

/// As [`decode_answer`], the body kept as its JSON text.
pub(crate) fn decode_answer_raw(body: &[u8]) -> Result<Answer<Box<RawValue>>, DecodeError> {
    let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => {
            DecodeError::new("expected a JSON object (statusCode, body, rawBody)")
        }
        _ => DecodeError::new(format!("the answer is not JSON: {err}")),
    })?;
    let small = |key: &str| -> Result<Option<Value>, DecodeError> {
        envelope
            .get(key)
            .map(|raw| serde_json::from_str(raw.get()))
            .transpose()
            .map_err(|err| DecodeError::new(format!("`{key}` cannot be read: {err}")))
    };
    let status = status(small("statusCode")?.as_ref())?;
    let raw_body = raw_body(small("rawBody")?)?;
    let body = envelope
        .get("body")
        .map_or_else(|| RawValue::from_string("null".to_owned()), |raw| Ok((*raw).to_owned()));
    let body = body.map_err(|err| DecodeError::new(format!("`body` cannot be kept: {err}")))?;
    Ok(Answer { status, body, raw_body })
}

/// The envelope's `statusCode`: absent, `null` or an HTTP status.
fn status(value: Option<&Value>) -> Result<Option<u16>, DecodeError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64().filter(|code| (100..=599).contains(code)) {
            Some(code) => Ok(Some(code as u16)),
            None => Err(DecodeError::new(format!("`statusCode` is {n}, not an HTTP status (100 to 599)"))),
        },
        Some(_) => Err(DecodeError::new("`statusCode` is not a number")),
    }
}

/// The envelope's `rawBody`: absent, `null` or a string.
fn raw_body(value: Option<Value>) -> Result<Option<String>, DecodeError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => Ok(Some(raw)),
        Some(_) => Err(DecodeError::new("`rawBody` is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_tools_answers_are_read_in_every_shape_and_bounded() {
        let one = r#"{"toolId": "t1", "type": "function", "function": {"name": "send_message"}}"#;
        for body in [
            format!("[{one}]"),
            format!(r#"{{"tools": [{one}]}}"#),
            format!(r#"{{"body": {{"data": [{one}]}}}}"#),
        ] {
            let found = decode_found(body.as_bytes()).unwrap();
            assert_eq!((found[0].tool_id.as_str(), found[0].name.as_str()), ("t1", "send_message"), "{body}");
        }
        let older = decode_found(br#"[{"actionId": "a1", "name": "listChannels"}]"#).unwrap();
        assert_eq!((older[0].tool_id.as_str(), older[0].name.as_str()), ("a1", "listChannels"));
        let err = decode_found(br#"[{"name": "x"}]"#).unwrap_err();
        assert!(err.message().contains("tool 0"), "{err:?}");
        let many = format!("[{}]", vec![r#"{"toolId": "t"}"#; MAX_FOUND_TOOLS + 1].join(","));
        assert!(decode_found(many.as_bytes()).unwrap_err().message().contains("more than"));
        assert!(decode_found(b"{}").is_err() && decode_found(b"<html>").is_err());
    }
}
