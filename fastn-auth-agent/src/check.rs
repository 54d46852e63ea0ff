//! Arguments checked against a tool's schema before anything is sent, with the `jsonschema`
//! crate (a well-kept validator of every draft Fastn's schemas may use; remote `$ref`s are
//! never fetched: its network and file features are off).
//!
//! What a check costs is bounded by the arguments' size: a schema's `pattern`s run on the
//! linear-time `regex` engine (a registry pattern it cannot take — a backreference, a
//! lookaround — is refused when the registry is loaded, never backtracked through at call
//! time), and the check stops at the errors it lists.

use std::sync::OnceLock;

use serde_json::Value;

use fastn_auth::{Error, Result};

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

    /// The validator, compiled now when the schema has a pattern (so that one the linear
    /// engine cannot take refuses the tool at load, saying why); else on first use.
    pub(crate) fn compiled_if_patterned(self) -> std::result::Result<Self, String> {
        if has_pattern(&self.schema) {
            self.validator().map_err(|err| format!("its arguments schema cannot be used: {err}"))?;
        }
        Ok(self)
    }

    fn validator(&self) -> std::result::Result<&jsonschema::Validator, &String> {
        self.validator
            .get_or_init(|| {
                jsonschema::options()
                    .with_pattern_options(jsonschema::PatternOptions::regex())
                    .build(&self.schema)
                    .map_err(|err| err.masked().to_string())
            })
            .as_ref()
    }

    /// `Ok` when `arguments` match the schema; else [`ErrorKind::InvalidArguments`](fastn_auth::ErrorKind::InvalidArguments) naming the
    /// first offending value's JSON pointer and listing up to five problems, values not
    /// quoted. A schema the validator cannot compile is [`ErrorKind::Config`](fastn_auth::ErrorKind::Config).
    pub(crate) fn check(&self, tool: &str, arguments: &Value) -> Result<()> {
        let validator = self.validator().map_err(|err| {
            Error::config(format!("the input schema of tool `{tool}` cannot be used: {err}"))
        })?;
        let mut errors = validator.iter_errors(arguments).peekable();
        let Some(first) = errors.peek() else { return Ok(()) };
        let pointer = first.instance_path().to_string();
        let mut problems = Vec::new();
        // No error past the one after those listed is looked for: the rest of the
        // arguments are not checked once the answer is known.
        for err in errors.by_ref().take(MAX_LISTED) {
            let at = err.instance_path().to_string();
            let at = if at.is_empty() { "the arguments".to_owned() } else { format!("`{at}`") };
            problems.push(format!("{at}: {}", fastn_auth_rules::escape(&err.masked().to_string(), 200)));
        }
        let mut message = problems.join("; ");
        if errors.next().is_some() {
            message.push_str("; and more");
        }
        Err(Error::invalid_arguments(tool, pointer, message))
    }
}

/// Whether `schema` has a `pattern` or `patternProperties` anywhere.
fn has_pattern(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => {
            map.contains_key("pattern")
                || map.contains_key("patternProperties")
                || map.values().any(has_pattern)
        }
        Value::Array(items) => items.iter().any(has_pattern),
        _ => false,
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
        let fastn_auth::ErrorKind::InvalidArguments { pointer, message, .. } = err.kind() else {
            panic!("{err:?}")
        };
        assert!(pointer == "/channel" || pointer == "/count", "{pointer}");
        assert!(message.contains("`/channel`") && message.contains("`/count`"), "{message}");
        assert!(!err.to_string().contains("secret-value"), "{err}");
        let missing = checked.check("t", &json!({})).unwrap_err();
        assert!(missing.to_string().contains("channel"), "{missing}");
    }

    #[test]
    fn patterns_run_in_linear_time_and_one_that_cannot_is_refused_up_front() {
        let backreference = Checked::new(json!({"type": "string", "pattern": "^(a+)\\1$"}));
        let err = backreference.compiled_if_patterned().unwrap_err();
        assert!(err.contains("cannot be used"), "{err}");
        let nested =
            Checked::new(json!({"type": "array", "items": {"type": "string", "pattern": "^(a|aa)+$"}}));
        let checked = nested.compiled_if_patterned().unwrap();
        let hostile: Vec<String> = (0..300).map(|_| format!("{}b", "a".repeat(30))).collect();
        let err = checked.check("t", &json!(hostile)).unwrap_err();
        let fastn_auth::ErrorKind::InvalidArguments { message, .. } = err.kind() else { panic!("{err:?}") };
        assert_eq!(message.matches("does not match").count(), MAX_LISTED, "{message}");
        assert!(message.ends_with("; and more"), "{message}");
    }

    #[test]
    fn an_unusable_schema_is_a_config_error() {
        let checked = Checked::new(json!({"type": 5}));
        let err = checked.check("t", &json!({})).unwrap_err();
        assert_eq!(err.code(), fastn_auth::ErrorCode::ConfigError, "{err}");
    }
}
