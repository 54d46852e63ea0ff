//! A connector's `api:` block: read as written, then checked against its fields.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

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
