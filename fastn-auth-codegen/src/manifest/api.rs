//! A connector's `api:` block: read as written, then checked against its fields.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use fastn_auth_rules::api::{self as rules, Part};

use super::{ApiSpec, FieldSpec, FieldType, TokenPlacement, did_you_mean};

/// An `api:` block as written; checked against the connector's fields once both are read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an api block: a map of base_url, headers, token")]
pub(super) struct RawApi {
    base_url: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    token: RawToken,
}

/// `token:` as written: `bearer`, or a map naming a header or a query parameter.
#[derive(Default)]
pub(super) struct RawToken(TokenPlacement);

impl<'de> Deserialize<'de> for RawToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TokenVisitor)
    }
}

pub(super) struct TokenVisitor;

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
pub(super) struct LongToken {
    header: Option<String>,
    query: Option<String>,
    prefix: Option<String>,
    from: Option<String>,
}

impl RawApi {
    /// The block, checked against the connector's `fields`; an error names the key of the
    /// block it is about (`base_url`, `headers`, `token`).
    pub(super) fn check(self, fields: &[FieldSpec]) -> Result<ApiSpec, (&'static str, String)> {
        check_base_url(&self.base_url, fields).map_err(|message| ("base_url", message))?;
        for (name, value) in &self.headers {
            if let Some(problem) =
                rules::header_name_problem(name).or_else(|| rules::header_value_problem(value))
            {
                return Err(("headers", format!("header `{}`: {problem}", fastn_auth_rules::shown_id(name))));
            }
        }
        let token = self.token.0;
        check_token(&token, fields).map_err(|message| ("token", message))?;
        let headers = self.headers.into_iter().map(|(name, value)| (name.into(), value.into())).collect();
        Ok(ApiSpec { base_url: self.base_url.into(), headers, token })
    }
}

/// What to say about `name`, given as `what`, that is not one of `fields`.
fn unknown_field(fields: &[FieldSpec], name: &str, what: &str) -> String {
    let keys: Vec<&str> = fields.iter().map(|field| field.key.as_str()).collect();
    let hint = did_you_mean(name, &keys).map(|near| format!(" (did you mean `{near}`?)")).unwrap_or_default();
    let declared = if keys.is_empty() { "none".to_owned() } else { keys.join(", ") };
    format!("{what} `{name}` is not an extra field of this connector{hint}; declared: {declared}")
}

/// `base_url`: a template whose placeholders are required string or url fields, and whose
/// literal start fixes the scheme (https, or http to a loopback host) unless a placeholder
/// holds the whole origin.
fn check_base_url(base_url: &str, fields: &[FieldSpec]) -> Result<(), String> {
    let parts = rules::parse_template(base_url).map_err(|problem| format!("`{base_url}`: {problem}"))?;
    let mut has_field = false;
    for part in &parts {
        let Part::Field(name) = part else { continue };
        has_field = true;
        let field = fields
            .iter()
            .find(|field| field.key == *name)
            .ok_or_else(|| unknown_field(fields, name, "the placeholder"))?;
        if field.optional {
            return Err(format!(
                "the placeholder `{name}` names an optional field: a base URL needs a value every time; make it required"
            ));
        }
        if !matches!(field.ty, FieldType::String | FieldType::Url) {
            return Err(format!("the placeholder `{name}` is of type {}, expected string or url", field.ty));
        }
    }
    let literal_start = match parts.first() {
        Some(Part::Literal(text)) => *text,
        _ => "",
    };
    if !has_field {
        if let Some(problem) = rules::base_url_problem(base_url) {
            return Err(format!("`{base_url}`: {problem}"));
        }
    } else if !literal_start.is_empty() {
        let lower = literal_start.to_ascii_lowercase();
        let host_is_literal = lower.strip_prefix("http://").is_some_and(|rest| rest.contains('/'));
        if !(lower.starts_with("https://")
            || host_is_literal && rules::base_url_problem(literal_start).is_none())
        {
            return Err(format!(
                "`{base_url}`: it must start with https:// (or http:// to a loopback host), or with a placeholder \
                 holding the whole origin"
            ));
        }
    }
    Ok(())
}

/// `token`: a usable header or query parameter name, and a `from:` that is a required
/// secret or string field.
fn check_token(token: &TokenPlacement, fields: &[FieldSpec]) -> Result<(), String> {
    let from = match token {
        TokenPlacement::Bearer => return Ok(()),
        TokenPlacement::Header { name, prefix, from } => {
            if let Some(problem) = rules::header_name_problem(name) {
                return Err(problem);
            }
            if let Some(problem) = rules::header_value_problem(&format!("{prefix}x")) {
                return Err(format!("prefix: {problem}"));
            }
            from
        }
        TokenPlacement::Query { name, from } => {
            if name.is_empty()
                || name.chars().any(|c| c.is_control() || c.is_whitespace() || "&=#?".contains(c))
            {
                return Err(format!(
                    "`query: {}` is not a query parameter name",
                    fastn_auth_rules::shown_id(name)
                ));
            }
            from
        }
    };
    if from == TokenPlacement::DEFAULT_FIELD {
        return Ok(());
    }
    let field = fields
        .iter()
        .find(|field| field.key == *from)
        .ok_or_else(|| unknown_field(fields, from, "`from:`"))?;
    if !matches!(field.ty, FieldType::Secret | FieldType::String) || field.optional {
        return Err(format!(
            "`from: {from}` is of type {}{}, expected a required secret or string field",
            field.ty,
            if field.optional { "?" } else { "" }
        ));
    }
    Ok(())
}
