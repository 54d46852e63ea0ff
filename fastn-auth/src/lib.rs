//! Rust SDK for [Fastn](https://fastn.ai) connector authentication.
//!
//! Start a connector authentication flow for a tenant, send the user to the redirect URL,
//! wait until the connection is `ACTIVE`, and get its credentials — or fetch the credentials
//! of a connection made earlier. Wire-compatible with the official Python client
//! `fastn-auth` (the protocol is described in `docs/PROTOCOL.md` of the repository), with
//! pooled connections, bounded retries of transient faults, exact deadlines, redacted
//! secrets and injection-safe requests.
//!
//! ```
//! use fastn_auth::{FastnAuth, PollOptions};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mock = fastn_auth_emulator::MockServer::builder().auto_approve_after_polls(1).start().await?;
//! # let client = mock.client();
//! # /*
//! let client = FastnAuth::from_env()?; // FASTN_SPACE_ID, FASTN_API_KEY, … (see `env`)
//! # */
//!
//! let session = client.connect("google-sheets").tenant_id("acme").send().await?;
//! if let Some(url) = session.redirect_url() {
//!     println!("send the user to {url}");
//! }
//! let credentials = session.wait_for_completion(PollOptions::default()).await?;
//! assert!(credentials.access_token.is_some());
//! # Ok(())
//! # }
//! ```
//!
//! Typed connectors come from a manifest with `connectors!` (feature `macros`, on by
//! default). The emulator of the Fastn
//! API, for your tests and local runs, is the crate `fastn-auth-emulator` (a
//! dev-dependency). The tenant's token inside other crates' clients (reqwest-middleware,
//! tower and octocrab, google-apis-rs hubs) is `bridge`, behind features of those names.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod api;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
#[cfg(any(feature = "reqwest-middleware", feature = "tower", feature = "google-apis"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "reqwest-middleware", feature = "tower", feature = "google-apis"))))]
pub mod bridge;
mod cache;
mod client;
pub mod connections;
pub mod connector;
pub mod credentials;
pub mod env;
pub mod error;
pub mod health;
mod inner;
mod jitter;
pub mod limits;
mod provider;
mod request;
mod response;
mod session;
pub mod store;
mod target;
mod telemetry;
pub mod tools;
mod transport;
pub mod wire;

// The root: what a user names in ordinary code. The rest is in the modules above: the
// connector trait's kit (`connector`, `credentials`), error details (`error`), limits and
// defaults (`limits`), the shared-store kit (`store`), the protocol (`wire`).
pub use api::{ApiClient, ApiRequest};
pub use cache::{CacheOptions, CacheStats};
pub use client::{ApiKeyHeader, FastnAuth, FastnAuthBuilder};
pub use connector::Connector;
pub use credentials::{Credentials, Extra, Token};
pub use error::{Error, ErrorCode, ErrorKind, Result, ToolRefusal};
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use fastn_auth_macros::connectors;
pub use request::{ConnectRequest, CredentialsRequest, HealthRequest};
/// The HTTP method of an [`ApiClient::request`], and the status, headers and version of an
/// [`ApiResponse`] (reqwest's, which are the `http` crate's).
pub use reqwest::{Method, StatusCode, Version, header};
pub use response::ApiResponse;
pub use secrecy::{ExposeSecret, SecretString};
/// The JSON types of untyped credentials (`extra` is a `serde_json::Map`) and of `json`
/// manifest fields.
pub use serde_json;
pub use session::{AuthSession, PollOptions, SessionHandle, StatusPoller, StatusResponse};
pub use tools::{ToolClient, ToolOutput};
pub use transport::RateLimit;
pub use url::Url;
pub use wire::{AuthStatus, Endpoint};

/// Every public type that crosses tasks is `Send + Sync`; this fails to compile otherwise.
const _: () = {
    const fn crosses_tasks<T: Send + Sync>() {}
    crosses_tasks::<FastnAuth>();
    crosses_tasks::<FastnAuthBuilder>();
    crosses_tasks::<AuthSession>();
    crosses_tasks::<ConnectRequest<'static>>();
    crosses_tasks::<CredentialsRequest<'static>>();
    crosses_tasks::<Credentials>();
    crosses_tasks::<SessionHandle>();
    crosses_tasks::<Error>();
    crosses_tasks::<wire::DecodeError>();
    crosses_tasks::<ApiClient>();
    crosses_tasks::<ApiRequest<'static>>();
    crosses_tasks::<ApiResponse>();
};

/// Every future the API returns is `Send`, so it can be spawned on a multi-threaded runtime
/// (and holds no lock across an `.await`); this fails to compile otherwise.
#[allow(dead_code, clippy::let_underscore_future)]
fn futures_are_send(client: &FastnAuth, session: &AuthSession) {
    fn send<T: Send>(_: T) {}
    send(client.connect("c").send());
    send(client.credentials("c").send());
    send(client.credentials("c").fresh().send());
    send(session.get_status());
    send(session.get_credentials());
    send(session.wait_for_completion(PollOptions::default()));
    let api = client.api("c");
    send(api.get("/").send());
    let connections = client.connections();
    send(connections.initiate("c").tenant_id("t").redirect_url("https://x/").send());
    send(connections.wait_until_authorized("id", PollOptions::default()));
}

/// Entry points for the fuzz targets in `fuzz/`: decode raw response bodies exactly as the
/// client does. Not a public API: compiled only under `cfg(fuzzing)`, which `cargo fuzz`
/// sets.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzz {
    /// Decodes an init answer.
    pub fn decode_init(body: &[u8]) -> bool {
        crate::wire::decode_init(body).is_ok()
    }

    /// Decodes a status answer.
    pub fn decode_status(body: &[u8]) -> bool {
        crate::wire::decode_status(body).is_ok()
    }

    /// Decodes a credentials answer, untyped, and formats it for `Debug`.
    pub fn decode_credentials(body: &[u8]) -> bool {
        crate::Credentials::<serde_json::Map<String, serde_json::Value>>::from_answer("fuzz", body)
            .map(|creds| format!("{creds:?}"))
            .is_ok()
    }
}

/// What code generated by `connectors!` calls: public so that the code the macro writes in
/// your crate reaches it; hand-written code has the typed API for all of it.
pub mod generated {
    /// serde, for the `Serialize` and `Deserialize` impls generated tool inputs have.
    pub use serde;

    /// `FromStr` of a generated `ConnectorId`: finds `id` among `all` by wire id.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the ids there are.
    pub fn parse_connector_id<T: Copy>(
        id: &str,
        all: &[T],
        as_str: fn(T) -> &'static str,
    ) -> crate::Result<T> {
        all.iter().copied().find(|known| as_str(*known) == id).ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|known| as_str(*known)).collect();
            let shown: String = id.chars().take(64).collect();
            crate::Error::config(format!(
                "unknown connector id {shown:?}, expected one of: {}",
                known.join(", ")
            ))
        })
    }
}
