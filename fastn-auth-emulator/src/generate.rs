//! Realistic credentials for a newly approved connection: tokens, expiry, and a value of
//! its type for each field the manifest declares. No catalogue of connectors: what a
//! connector returns is what your manifest says.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use fastn_auth_codegen::manifest::{FieldType, Manifest, TokenPlacement};
use serde_json::{Map, Value, json};

use crate::key::ConnectionKey;

/// What a manifest declares, by connector id: the extra fields, and where API requests
/// carry the token.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    fields: HashMap<String, Vec<(String, FieldType)>>,
    tokens: HashMap<String, TokenPlacement>,
    names: HashMap<String, String>,
}

impl Declared {
    /// Where API requests of `connector_id` carry the token: the manifest's `token:`, or
    /// `Authorization: Bearer {access_token}`.
    pub(crate) fn token(&self, connector_id: &str) -> &TokenPlacement {
        static BEARER: TokenPlacement = TokenPlacement::Bearer;
        self.tokens.get(connector_id).unwrap_or(&BEARER)
    }

    /// The manifest's `description` of `connector_id`, for the consent page.
    pub(crate) fn description(&self, connector_id: &str) -> Option<&str> {
        self.names.get(connector_id).map(String::as_str)
    }
}

pub(crate) fn declared(manifest: &Manifest) -> Declared {
    let fields = manifest
        .connectors
        .iter()
        .map(|spec| (spec.id.clone(), spec.extra.iter().map(|f| (f.key.clone(), f.ty.clone())).collect()))
        .collect();
    let tokens = manifest
        .connectors
        .iter()
        .filter_map(|spec| Some((spec.id.clone(), spec.api.as_ref()?.token.clone())))
        .collect();
    let names = manifest
        .connectors
        .iter()
        .filter_map(|spec| Some((spec.id.clone(), spec.description.clone()?)))
        .collect();
    Declared { fields, tokens, names }
}

/// A value of `ty` for the field `key`, so that a typed flow of any declared connector
/// reads it: a URL for `url`, an integer for `integer`, a list for `list<T>`, …
fn sample(ty: &FieldType, key: &str, tenant: &str) -> Value {
    match ty {
        FieldType::String => json!(format!("mock-{key}-{}", token(8))),
        FieldType::Secret => json!(format!("mock-secret-{}", token(24))),
        FieldType::Integer => json!(fastrand::i64(1..1_000_000)),
        FieldType::Number => json!(fastrand::f64() * 1000.0),
        FieldType::Boolean => json!(true),
        FieldType::Url => json!(format!("https://{tenant}.example.com/{}", slug(key))),
        FieldType::Json => json!({ "mock": true, "field": key }),
        FieldType::List(inner) => json!([sample(inner, key, tenant)]),
    }
}

/// The field of generated credentials that says the emulator knows no fields of the
/// connector; the SDK quotes it when a typed decode misses a required field.
pub(crate) const HINT_KEY: &str = fastn_auth::wire::EMULATOR_HINT;
const NO_MANIFEST: &str = "the emulator was given no manifest declaring connector";

/// Seconds an emulated access token lives.
const EXPIRES_IN: u64 = 3599;

/// Credentials in canonical snake_case form.
pub(crate) fn credentials(key: &ConnectionKey, declared: &Declared) -> Map<String, Value> {
    let expires_at = SystemTime::now() + Duration::from_secs(EXPIRES_IN);
    let mut creds = Map::new();
    creds.insert("access_token".into(), json!(format!("mock-at-{}", token(32))));
    creds.insert("refresh_token".into(), json!(format!("mock-rt-{}", token(32))));
    creds.insert("token_type".into(), json!("Bearer"));
    creds.insert("expires_in".into(), json!(EXPIRES_IN));
    creds.insert("expires_at".into(), json!(humantime::format_rfc3339_seconds(expires_at).to_string()));
    let tenant = slug(&key.tenant_id);
    match declared.fields.get(&key.connector_id) {
        Some(fields) => {
            for (field, ty) in fields {
                creds.insert(field.clone(), sample(ty, field, &tenant));
            }
        }
        // What a typed decode names when a required field is missing: the likely cause.
        None => {
            creds.insert(HINT_KEY.into(), json!(format!("{NO_MANIFEST} `{}`", key.connector_id)));
        }
    }
    creds
}

/// A random lowercase hex string.
pub(crate) fn token(len: usize) -> String {
    std::iter::repeat_with(|| fastrand::digit(16)).take(len).collect()
}

/// The tenant as a DNS-safe label, for realistic URLs.
fn slug(tenant: &str) -> String {
    let slug: String = tenant
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect::<String>()
        .to_ascii_lowercase();
    if slug.is_empty() { "acme".to_owned() } else { slug }
}
