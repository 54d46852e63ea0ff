//! Arguments checked against a tool's schema before anything is sent, with the `jsonschema`
//! crate (a well-kept validator of every draft Fastn's schemas may use; remote `$ref`s are
//! never fetched: its network and file features are off).

use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{Error, Result};

/// The most offending values one error lists.
const MAX_LISTED: usize = 5;

/// A schema and its validator, compiled on first use.
#[derive(Debug)]
pub(crate) struct Checked {
    schema: Value,
    validator: OnceLock<std::result::Result<jsonschema::Validator, String>>,
}

impl Clone for Checked {
    fn clone(&self) -> Self {
        Checked::new(self.schema.clone())
    }
}

impl Checked {
    pub(crate) fn new(schema: Value) -> Self {
        Checked { schema, validator: OnceLock::new() }
    }

    pub(crate) fn schema(&self) -> &Value {
        &self.schema
    }

    /// `Ok` when `arguments` match the schema; else [`Error::InvalidArguments`] naming the
    /// first offending value's JSON pointer and listing up to five problems, values not
    /// quoted. A schema the validator cannot compile is [`Error::Config`].
    pub(crate) fn check(&self, tool: &str, arguments: &Value) -> Result<()> {
        let validator = self
            .validator
            .get_or_init(|| jsonschema::validator_for(&self.schema).map_err(|err| err.masked().to_string()))
            .as_ref()
            .map_err(|err| {
                Error::config(format!("the input schema of tool `{tool}` cannot be used: {err}"))
            })?;
        let mut errors = validator.iter_errors(arguments).peekable();
        let Some(first) = errors.peek() else { return Ok(()) };
        let pointer = first.instance_path().to_string();
        let mut problems = Vec::new();
        let mut more = 0;
        for err in errors {
            if problems.len() == MAX_LISTED {
                more += 1;
                continue;
            }
            let at = err.instance_path().to_string();
            let at = if at.is_empty() { "the arguments".to_owned() } else { format!("`{at}`") };
            problems.push(format!("{at}: {}", fastn_auth_rules::escape(&err.masked().to_string(), 200)));
        }
        let mut message = problems.join("; ");
        if more > 0 {
            message.push_str(&format!("; and {more} more"));
        }
        Err(Error::InvalidArguments { tool: tool.to_owned(), pointer, message })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn errors_name_the_field_and_never_quote_the_value() {
        let checked = Checked::new(json!({"type": "object", "properties": {
            "channel": {"type": "string"}, "count": {"type": "integer"}}, "required": ["channel"]}));
        assert!(checked.check("t", &json!({"channel": "C1"})).is_ok());
        let err = checked.check("t", &json!({"channel": 5, "count": "secret-value"})).unwrap_err();
        let Error::InvalidArguments { pointer, message, .. } = &err else { panic!("{err:?}") };
        assert!(pointer == "/channel" || pointer == "/count", "{pointer}");
        assert!(message.contains("`/channel`") && message.contains("`/count`"), "{message}");
        assert!(!err.to_string().contains("secret-value"), "{err}");
        let missing = checked.check("t", &json!({})).unwrap_err();
        assert!(missing.to_string().contains("channel"), "{missing}");
    }

    #[test]
    fn an_unusable_schema_is_a_config_error() {
        let checked = Checked::new(json!({"type": 5}));
        let err = checked.check("t", &json!({})).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::ConfigError, "{err}");
    }
}
