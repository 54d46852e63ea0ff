//! The [`Connector`] trait that `connectors!` implements, and [`Untyped`], the connector
//! chosen at run time.

use crate::credentials::Extra;

/// A Fastn connector: its wire id and the type of its connector-specific credential
/// fields. [`connectors!`](crate::connectors) implements it for a unit type per manifest
/// entry; [`Untyped`] is any connector, named at run time.
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

/// A connector's API as the manifest's `api:` block declares it, and where its token goes:
/// the rules crate's types, which the manifest reader, the generated code (with
/// [`ApiSpec::from_static`]), the command line and the emulator share. Checked when the
/// manifest is; a hand-written [`Connector`] whose spec cannot work makes every request an
/// [`ErrorKind::Config`](crate::ErrorKind::Config).
pub use fastn_auth_rules::api::{ApiSpec, TokenPlacement};

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
pub struct Untyped {
    id: String,
}

impl Untyped {
    /// The connector `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Untyped { id: id.into() }
    }
}

impl Connector for Untyped {
    type Extra = crate::credentials::ExtraMap;

    fn id(&self) -> &str {
        &self.id
    }
}
