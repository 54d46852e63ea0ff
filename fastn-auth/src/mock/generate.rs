//! Realistic credentials for a newly approved connection: tokens, expiry, the extra fields
//! each well-known connector returns, and a value of its type for each field a manifest
//! declares.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use fastn_auth_codegen::manifest::{FieldType, Manifest};
use serde_json::{Map, Value, json};

use super::store::ConnectionKey;

/// The extra fields a manifest declares, by connector id.
pub(crate) type Declared = HashMap<String, Vec<(String, FieldType)>>;

pub(crate) fn declared(manifest: &Manifest) -> Declared {
    manifest
        .connectors
        .iter()
        .map(|spec| (spec.id.clone(), spec.extra.iter().map(|f| (f.key.clone(), f.ty.clone())).collect()))
        .collect()
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
    let extra = match key.connector_id.as_str() {
        "google-sheets" => json!({
            "scope": "https://www.googleapis.com/auth/spreadsheets",
            "id_token": format!("mock-idt-{}", token(24)),
        }),
        "salesforce" => json!({
            "instance_url": format!("https://{tenant}.my.salesforce.com"),
            "id": format!("https://login.salesforce.com/id/00D{}/005{}", token(12), token(12)),
            "issued_at": "1767225600000",
            "scope": "api refresh_token",
        }),
        "slack" => json!({
            "team_id": format!("T{}", upper(9)),
            "team_name": tenant,
            "bot_user_id": format!("U{}", upper(9)),
            "scope": "chat:write,channels:read",
        }),
        "hubspot" => {
            json!({ "hub_id": 40_000_000 + fastrand::i64(0..9_999_999), "hub_domain": format!("{tenant}.hubspot.com") })
        }
        "github" => json!({ "scope": "repo,read:user", "login": tenant }),
        "notion" => json!({
            "workspace_id": format!("{}-{}-{}", token(8), token(4), token(12)),
            "workspace_name": format!("{tenant} workspace"),
            "bot_id": token(32),
        }),
        "microsoft-teams" => json!({
            "scope": "ChannelMessage.Send Team.ReadBasic.All offline_access",
            "ms_tenant_id": format!("{}-{}-{}", token(8), token(4), token(12)),
        }),
        "stripe" => json!({
            "stripe_user_id": format!("acct_{}", token(16)),
            "stripe_publishable_key": format!("pk_test_{}", token(24)),
            "livemode": false,
            "scope": "read_write",
        }),
        _ => json!({ "scope": "default" }),
    };
    if let Value::Object(extra) = extra {
        creds.extend(extra);
    }
    for (field, ty) in declared.get(&key.connector_id).into_iter().flatten() {
        creds.insert(field.clone(), sample(ty, field, &tenant));
    }
    creds
}

/// A random lowercase hex string.
pub(crate) fn token(len: usize) -> String {
    std::iter::repeat_with(|| fastrand::digit(16)).take(len).collect()
}

fn upper(len: usize) -> String {
    std::iter::repeat_with(fastrand::uppercase).take(len).collect()
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
