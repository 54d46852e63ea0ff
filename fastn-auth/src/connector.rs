//! The [`Connector`] trait that `connectors!` implements, and [`Dynamic`], the connector
//! chosen at run time.

use crate::credentials::Extra;
use crate::error::{Error, Result};

/// A Fastn connector: its wire id and the type of its connector-specific credential
/// fields. [`connectors!`](crate::connectors) implements it for a unit type per manifest
/// entry; [`Dynamic`] is any connector, named at run time.
pub trait Connector: Clone + Send + Sync + 'static {
    /// The connector-specific credential fields.
    type Extra: Extra;

    /// The connector id used on the wire (`"google-sheets"`).
    fn id(&self) -> &str;

    /// How the connector authenticates (from the manifest's `auth:`).
    fn auth(&self) -> AuthKind {
        AuthKind::OAuth2
    }

    /// The org used when a call names none; `None` means
    /// [`DEFAULT_ORG_ID`](crate::limits::DEFAULT_ORG_ID).
    fn default_org(&self) -> Option<&str> {
        None
    }

    /// The connector's API, from the manifest's `api:` block: where it is and how the token
    /// is sent. `None` when the manifest declares none.
    fn api_spec(&self) -> Option<ApiSpec> {
        None
    }
}

/// A connector's API as the manifest's `api:` block declares it; checked when the manifest
/// is, so generated code builds it with [`ApiSpec::new`] and never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSpec {
    /// The base URL, perhaps with `{field}` placeholders filled from the credentials.
    pub base_url: &'static str,
    /// Headers sent with every request, as `(name, value)`.
    pub headers: &'static [(&'static str, &'static str)],
    /// Where the token goes.
    pub token: TokenPlacement,
}

impl ApiSpec {
    /// A spec of `base_url`, `headers` and `token`.
    pub const fn new(
        base_url: &'static str,
        headers: &'static [(&'static str, &'static str)],
        token: TokenPlacement,
    ) -> Self {
        ApiSpec { base_url, headers, token }
    }
}

/// Where an API request carries the connection's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenPlacement {
    /// `Authorization: Bearer {access_token}`, the default.
    #[default]
    Bearer,
    /// The header `name`, valued `{prefix}{from}`, `from` a credential field.
    Header {
        /// The header name.
        name: &'static str,
        /// Text before the token (`""` for none).
        prefix: &'static str,
        /// The credential field holding the token: `access_token` or an extra key.
        from: &'static str,
    },
    /// The query parameter `name`, valued with the credential field `from`.
    Query {
        /// The parameter name.
        name: &'static str,
        /// The credential field holding the token: `access_token` or an extra key.
        from: &'static str,
    },
}

/// How a connector authenticates its users, as declared in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthKind {
    /// An OAuth 2 consent flow.
    OAuth2,
    /// An API key the user provides.
    ApiKey,
    /// A user name and password.
    Basic,
    /// Anything else.
    Custom,
}

/// The untyped connector: its id is chosen at run time and `extra` is a JSON map. What
/// [`FastnAuth::connect`](crate::FastnAuth::connect) and
/// [`FastnAuth::credentials`](crate::FastnAuth::credentials) use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dynamic {
    id: String,
}

impl Dynamic {
    /// The connector `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Dynamic { id: id.into() }
    }
}

impl Connector for Dynamic {
    type Extra = crate::credentials::ExtraMap;

    fn id(&self) -> &str {
        &self.id
    }
}

/// `FromStr` of a generated `ConnectorId`: finds `id` among `all` by wire id.
#[doc(hidden)]
#[doc(hidden)]
pub fn parse_connector_id<T: Copy>(id: &str, all: &[T], as_str: fn(T) -> &'static str) -> Result<T> {
    all.iter().copied().find(|known| as_str(*known) == id).ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|known| as_str(*known)).collect();
        let shown: String = id.chars().take(64).collect();
        Error::config(format!("unknown connector id {shown:?}, expected one of: {}", known.join(", ")))
    })
}
