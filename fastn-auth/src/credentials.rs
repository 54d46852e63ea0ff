//! Credentials, the generic decoding of connector-specific fields that generated connector
//! types build on, and the redaction of untyped fields in `Debug`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::wire::{self, DecodeError, json_kind};

/// A connection's credentials.
///
/// Tokens are [`Token`]s, shared [`SecretString`]s: `Debug` shows `[REDACTED]` and reading
/// one takes `expose_secret()`. `E` holds the connector-specific fields: a JSON map by default, or
/// the struct [`connectors!`](crate::connectors) generates (Salesforce's `instance_url` as a
/// [`Url`](crate::Url), …).
#[derive(Clone)]
#[non_exhaustive]
pub struct Credentials<E = ExtraMap> {
    /// The access token (`access_token` or `accessToken` on the wire).
    pub access_token: Option<Token>,
    /// The refresh token (`refresh_token` or `refreshToken`).
    pub refresh_token: Option<Token>,
    /// Every other field of the credentials.
    pub extra: E,
    expires_at: Option<SystemTime>,
}

impl<E> Credentials<E> {
    /// When the access token expires: the wire's `expires_at` (RFC 3339, or epoch seconds
    /// or milliseconds), or `expires_in` counted from when the answer arrived; the earlier
    /// of the two when both came. `None` when the server said neither.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Whether the access token expires within `margin` from now (or has expired). `false`
    /// when the expiry is unknown.
    pub fn expires_within(&self, margin: Duration) -> bool {
        self.expires_at
            .is_some_and(|at| SystemTime::now().checked_add(margin).is_none_or(|horizon| horizon >= at))
    }

    /// Whether the access token has expired (known expiry only).
    pub fn is_expired(&self) -> bool {
        self.expires_within(Duration::ZERO)
    }
}

impl<E: Extra> Credentials<E> {
    /// Decodes a credentials answer of `connector` in any wire shape.
    pub(crate) fn from_answer(connector: &str, body: &[u8]) -> Result<Self, DecodeError> {
        let (common, rest) = wire::decode_credentials(connector, body)?;
        let expires_at =
            common.lifetime.map(|left| SystemTime::now().checked_add(left).unwrap_or(far_future()));
        Ok(Credentials {
            access_token: common.access_token.map(token),
            refresh_token: common.refresh_token.map(token),
            extra: E::from_fields(&mut Fields::new(connector, rest))?,
            expires_at,
        })
    }
}

/// A token of [`Credentials`]: a [`SecretString`] shared by every copy of the credentials —
/// a cache hit hands out the same token, not a copy, and it is zeroed when the last copy
/// drops. `Debug` shows `[REDACTED]`; `token.expose_secret()` reads it.
pub type Token = Arc<SecretString>;

/// A [`Token`] of `text`.
pub(crate) fn token(text: String) -> Token {
    Arc::new(SecretString::from(text))
}

/// The `extra` of untyped credentials: every field of the answer but the common ones,
/// shared and immutable — a cache hit hands out the same map, not a copy. Read it as the
/// map it derefs to (`credentials.extra["team_id"]`, `.get(..)`, `.iter()`); to change it,
/// take a copy (`(*credentials.extra).clone()`).
pub type ExtraMap = Arc<Map<String, Value>>;

impl Credentials<ExtraMap> {
    /// The credentials as JSON for people to read, by the same rule as `Debug`: tokens
    /// `"[REDACTED]"`, `extra` strings shown only under [`SHOWN_KEYS`] when they do not look
    /// like credentials themselves. For tools that print credentials (the `fastn-auth` CLI).
    pub fn to_redacted_json(&self) -> Value {
        let token = |token: &Option<Token>| token.as_ref().map_or(Value::Null, |_| Value::from("[REDACTED]"));
        serde_json::json!({
            "access_token": token(&self.access_token),
            "refresh_token": token(&self.refresh_token),
            "expires_at": self.expires_at.and_then(|at| jiff::Timestamp::try_from(at).ok()).map(|at| at.to_string()),
            "extra": redact_map(&self.extra),
        })
    }
}

impl Credentials<Map<String, Value>> {
    /// Credentials read back from a shared store.
    pub(crate) fn from_parts(
        access_token: Option<Token>,
        refresh_token: Option<Token>,
        expires_at: Option<SystemTime>,
        extra: Map<String, Value>,
    ) -> Self {
        Credentials { access_token, refresh_token, extra, expires_at }
    }

    /// These credentials with `extra` read as `E`, for a typed view of an untyped answer.
    pub(crate) fn to_typed<E: Extra>(&self, connector: &str) -> Result<Credentials<E>, DecodeError> {
        Ok(Credentials {
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            extra: E::from_fields(&mut Fields::new(connector, self.extra.clone()))?,
            expires_at: self.expires_at,
        })
    }
}

/// A time no token reaches; `SystemTime` has no `MAX`.
fn far_future() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40)
}

impl<E: Extra> fmt::Debug for Credentials<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct DebugExtra<'a, E>(&'a E);
        impl<E: Extra> fmt::Debug for DebugExtra<'_, E> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_redacted(f)
            }
        }
        /// An instant as RFC 3339 (`2026-11-30T10:00:00Z`), or as `SystemTime` prints it
        /// when it is out of that range.
        struct Instant(SystemTime);
        impl fmt::Debug for Instant {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match jiff::Timestamp::try_from(self.0) {
                    Ok(at) => write!(f, "{at}"),
                    Err(_) => write!(f, "{:?}", self.0),
                }
            }
        }
        f.debug_struct("Credentials")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("expires_at", &self.expires_at.map(Instant))
            .field("extra", &DebugExtra(&self.extra))
            .finish()
    }
}

/// The connector-specific part of [`Credentials`]: a JSON map, or a struct generated by
/// [`connectors!`](crate::connectors). `Clone`, because a cache hit hands out a copy.
pub trait Extra: Clone + Send + Sync + 'static {
    /// Builds the value from the fields left after the common ones were taken.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the connector and the field, when a required field is
    /// missing or a field has the wrong type.
    fn from_fields(fields: &mut Fields) -> Result<Self, DecodeError>;

    /// Formats the value for `Debug` with every secret redacted.
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl Extra for ExtraMap {
    fn from_fields(fields: &mut Fields) -> Result<Self, DecodeError> {
        Ok(Arc::new(std::mem::take(&mut fields.map)))
    }

    /// As for a plain map, below.
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_map(self, f)
    }
}

impl Extra for Map<String, Value> {
    fn from_fields(fields: &mut Fields) -> Result<Self, DecodeError> {
        Ok(std::mem::take(&mut fields.map))
    }

    /// An untyped map cannot know which of its values are secret, so it shows a string
    /// only under a key on a short list of harmless ones (see [`SHOWN_KEYS`]) and only when
    /// the string does not look like a credential itself; numbers, booleans and null are
    /// shown; objects and arrays are walked the same way at every depth.
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_map(self, f)
    }
}

/// The keys whose string values untyped credentials show in `Debug`, compared without
/// case, `_` or `-` (`teamId` = `team_id`). Every other string prints `[REDACTED]`.
///
/// An allow list rather than a list of secret-looking keys: a provider can name a secret
/// anything (`xoxp` tokens under `authed_user`, a webhook `url`, `sig`, `code`), and a
/// deny list that misses one prints it. A harmless field that is hidden costs a look at
/// the typed field or `expose`; a secret that is shown cannot be taken back. Declare the
/// fields you want to see in the manifest: typed fields print normally (`secret` ones
/// redacted).
pub const SHOWN_KEYS: &[&str] = &[
    "scope",
    "scopes",
    "tokentype",
    "teamid",
    "teamname",
    "team",
    "id",
    "instanceurl",
    "issuedat",
    "hubid",
    "hubdomain",
    "login",
    "workspaceid",
    "workspacename",
    "botuserid",
    "botid",
    "userid",
    "appid",
    "enterpriseid",
    "mstenantid",
    "stripeuserid",
    "livemode",
    "region",
    "domain",
    "accountid",
    "organizationid",
    "channel",
    "channelid",
    "expiresin",
    "expiresat",
    "type",
];

fn is_shown_key(key: &str) -> bool {
    let normal: String =
        key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    SHOWN_KEYS.contains(&normal.as_str())
}

/// Values that are credentials whatever their key: HTTP auth headers, JWTs, Slack tokens,
/// URLs with user info.
fn looks_like_credential(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    let jwt = text.starts_with("eyJ") && text.split('.').count() == 3;
    let user_info = text
        .split_once("://")
        .is_some_and(|(_, rest)| rest.split('/').next().is_some_and(|a| a.contains('@')));
    lower.starts_with("bearer ")
        || lower.starts_with("basic ")
        || lower.starts_with("xox")
        || jwt
        || user_info
}

struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A value under a key: shown per the rules of [`SHOWN_KEYS`].
struct Shown<'a> {
    key_shown: bool,
    value: &'a Value,
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Value::String(text) if self.key_shown && !looks_like_credential(text) => text.fmt(f),
            Value::String(_) => Redacted.fmt(f),
            Value::Object(map) => fmt_map(map, f),
            Value::Array(items) => f
                .debug_list()
                .entries(items.iter().map(|value| Shown { key_shown: self.key_shown, value }))
                .finish(),
            scalar => scalar.fmt(f),
        }
    }
}

/// `value` under a key, as [`Shown`] prints it, as JSON.
fn redact_value(key_shown: bool, value: &Value) -> Value {
    match value {
        Value::String(text) if key_shown && !looks_like_credential(text) => value.clone(),
        Value::String(_) => Value::from("[REDACTED]"),
        Value::Object(map) => redact_map(map),
        Value::Array(items) => items.iter().map(|item| redact_value(key_shown, item)).collect(),
        scalar => scalar.clone(),
    }
}

fn redact_map(map: &Map<String, Value>) -> Value {
    map.iter()
        .map(|(key, value)| (key.clone(), redact_value(is_shown_key(key), value)))
        .collect::<Map<_, _>>()
        .into()
}

fn fmt_map(map: &Map<String, Value>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_map()
        .entries(map.iter().map(|(key, value)| (key, Shown { key_shown: is_shown_key(key), value })))
        .finish()
}

/// The fields of a credentials object, taken one by one by generic runtime code.
///
/// Generated connector code calls [`required`](Self::required) and
/// [`optional`](Self::optional) once per manifest field; keys it does not take are ignored.
#[derive(Debug)]
pub struct Fields {
    connector: String,
    map: Map<String, Value>,
}

impl Fields {
    /// Wraps the fields of `connector`'s credentials.
    pub fn new(connector: impl Into<String>, map: Map<String, Value>) -> Self {
        Fields { connector: connector.into(), map }
    }

    /// Takes the field `key`, which must be present and not null.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the connector and the field, when it is missing or not of
    /// type `T`.
    pub fn required<T: FieldValue>(&mut self, key: &str) -> Result<T, DecodeError> {
        self.optional(key)?.ok_or_else(|| {
            let hint = match self.map.get(wire::EMULATOR_HINT).and_then(Value::as_str) {
                Some(hint) => format!(
                    " ({}: give the emulator your manifest, `MockServer::builder().connectors(MANIFEST)`)",
                    wire::sanitize(hint)
                ),
                None => String::new(),
            };
            self.error(format!("the required field `{key}` ({}) is missing{hint}", T::EXPECTED))
        })
    }

    /// Takes the field `key` if present and not null.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the connector and the field, when it is not of type `T`.
    pub fn optional<T: FieldValue>(&mut self, key: &str) -> Result<Option<T>, DecodeError> {
        match self.map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                let kind = json_kind(&value);
                // serde's own message can quote the value, which may be a secret: say the kind.
                serde_json::from_value::<T>(value)
                    .map(Some)
                    .map_err(|_| self.error(format!("the field `{key}` must be {}, got {kind}", T::EXPECTED)))
            }
        }
    }

    /// The fields not taken yet.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }

    fn error(&self, message: String) -> DecodeError {
        DecodeError::new(format!("credentials of connector `{}`: {message}", self.connector))
    }
}

/// A type a credentials field can be read as; see [`Fields::required`].
pub trait FieldValue: DeserializeOwned {
    /// What the wire value must be, for error messages (`"a string"`, `"an integer"`, …).
    const EXPECTED: &'static str;
}

macro_rules! field_values {
    ($($ty:ty => $expected:literal),* $(,)?) => {
        $(impl FieldValue for $ty { const EXPECTED: &'static str = $expected; })*
    };
}

field_values! {
    String => "a string",
    SecretString => "a string",
    i64 => "an integer",
    u64 => "a non-negative integer",
    f64 => "a number",
    bool => "a boolean",
    url::Url => "an absolute URL",
    Value => "any JSON value",
}

impl<T: FieldValue> FieldValue for Vec<T> {
    const EXPECTED: &'static str = "a list";
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn decode(json: &str) -> Result<Credentials, DecodeError> {
        Credentials::from_answer("salesforce", json.as_bytes())
    }

    #[test]
    fn envelope_snake_case_and_an_absolute_expiry() {
        let creds = decode(
            r#"{"success":true,"credentials":{"access_token":"at","expires_in":3599,"instance_url":"https://x"}}"#,
        )
        .unwrap();
        assert_eq!(creds.access_token.as_ref().unwrap().expose_secret(), "at");
        let left = creds.expires_at().unwrap().duration_since(SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(3590) && left <= Duration::from_secs(3599), "{left:?}");
        assert!(
            creds.expires_within(Duration::from_secs(3600)) && !creds.expires_within(Duration::from_secs(60))
        );
        assert!(!creds.is_expired());
        assert_eq!(creds.extra.keys().collect::<Vec<_>>(), ["instance_url"]);
    }

    #[test]
    fn bare_camel_case_and_no_expiry() {
        let creds = decode(r#"{"accessToken":"at","refreshToken":"rt","team":"t"}"#).unwrap();
        assert_eq!(creds.refresh_token.as_ref().unwrap().expose_secret(), "rt");
        assert_eq!(creds.expires_at(), None);
        assert!(!creds.expires_within(Duration::MAX), "an unknown expiry is not an expiry");
        assert_eq!(creds.extra["team"], "t");
    }

    #[test]
    fn debug_shows_the_expiry_once_as_a_timestamp() {
        let creds = decode(r#"{"access_token":"at","expires_at":"2030-01-01T00:00:00Z"}"#).unwrap();
        let shown = format!("{creds:?}");
        assert!(
            shown.contains("expires_at: Some(2030-01-01T00:00:00") && !shown.contains("Some(Some("),
            "{shown}"
        );
        let none = format!("{:?}", decode(r#"{"access_token":"at"}"#).unwrap());
        assert!(none.contains("expires_at: None"), "{none}");
    }

    #[test]
    fn a_negative_lifetime_is_already_expired() {
        assert!(decode(r#"{"access_token":"at","expires_in":-1}"#).unwrap().is_expired());
    }

    #[test]
    fn debug_redacts_at_every_depth() {
        let slack = r##"{"access_token":"xoxb-1","team":{"id":"T1","name":"Acme"},"scope":"chat:write",
            "authed_user":{"id":"U1","scope":"identify","access_token":"xoxp-SECRET","token_type":"user"},
            "incoming_webhook":{"channel":"#general","url":"https://hooks.slack.com/services/T/B/SECRET2"},
            "headers":{"Authorization":"Bearer SECRET3"},"cookie":"sid=SECRET4","jwt":"eyJa.eyJb.SECRET5",
            "passwd":"SECRET6","pwd":"SECRET7","session":"SECRET8","private":"SECRET9","code":"SECRET10",
            "signature":"SECRET11","id_token":"eyJhbGciOi.eyJzdWIi.SECRET12","client_secret":"SECRET13",
            "list":[{"token":"SECRET14"},"SECRET15"],"scopes":["a","Bearer SECRET16"],"id":"https://u:SECRET17@x/y",
            "hub_id":42,"livemode":false}"##;
        let creds = decode(slack).unwrap();
        let shown = format!("{creds:?}");
        for n in ["xoxb", "xoxp"].into_iter().map(str::to_owned).chain((2..=17).map(|n| format!("SECRET{n}")))
        {
            assert!(!shown.contains(n.as_str()), "{n} leaked: {shown}");
        }
        for visible in
            ["\"T1\"", "\"U1\"", "\"chat:write\"", "\"identify\"", "\"#general\"", "42", "false", "\"a\""]
        {
            assert!(shown.contains(visible), "{visible} missing: {shown}");
        }
    }

    #[test]
    fn redacted_json_follows_the_debug_rule() {
        let creds = decode(
            r#"{"access_token":"AT-1","team":{"id":"T1","secret":"S-1"},"scope":"Bearer B-1","hub_id":4}"#,
        )
        .unwrap();
        let json = creds.to_redacted_json();
        let text = json.to_string();
        for secret in ["AT-1", "S-1", "B-1"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(
            (json["extra"]["team"]["id"].as_str(), json["extra"]["hub_id"].as_i64()),
            (Some("T1"), Some(4))
        );
        assert_eq!(json["access_token"], "[REDACTED]");
        assert!(json["refresh_token"].is_null());
    }

    #[test]
    fn typed_fields_name_connector_and_field() {
        let map = serde_json::from_str(r#"{"instance_url":"not a url","n":1}"#).unwrap();
        let mut fields = Fields::new("salesforce", map);
        let err = fields.required::<url::Url>("instance_url").unwrap_err().to_string();
        assert!(
            err.contains("connector `salesforce`") && err.contains("`instance_url` must be an absolute URL"),
            "{err}"
        );
        let err = fields.required::<String>("team_id").unwrap_err().to_string();
        assert!(err.contains("required field `team_id` (a string) is missing"), "{err}");
        assert_eq!(fields.optional::<i64>("n").unwrap(), Some(1));
        assert_eq!(fields.optional::<Vec<String>>("absent").unwrap(), None);
    }
}
