//! The workspace's app crate: the typed connectors of `connectors.yaml` and the setup the
//! examples share, used by the examples and the cross-crate tests.
#![warn(missing_docs)]

use fastn_auth::FastnAuth;
use fastn_auth::mock::{MockServer, MockServerBuilder};

fastn_auth::connectors!("connectors.yaml");

/// The README's Rust examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Where an example's client points.
pub enum Backend {
    /// The live Fastn API, from `FASTN_*` environment variables.
    Live,
    /// A local emulator, kept alive as long as this value.
    Emulator(MockServer),
}

/// A client for the live API when `FASTN_SPACE_ID` and `FASTN_API_KEY` (or
/// `FASTN_AUTH_TOKEN`; `FASTN_BASE_URL` optional) are set, else for an emulator started from
/// `emulator`.
///
/// # Errors
/// The emulator could not start, or the environment's settings are invalid.
pub async fn client_from_env(
    emulator: MockServerBuilder,
) -> Result<(FastnAuth, Backend), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    if let Some(space) = var("FASTN_SPACE_ID") {
        let mut builder = FastnAuth::builder(space);
        match (var("FASTN_API_KEY"), var("FASTN_AUTH_TOKEN")) {
            (Some(key), _) => builder = builder.api_key(key),
            (None, Some(token)) => builder = builder.auth_token(token),
            (None, None) => {
                return Err("FASTN_SPACE_ID is set: set FASTN_API_KEY or FASTN_AUTH_TOKEN too".into());
            }
        }
        if let Some(base_url) = var("FASTN_BASE_URL") {
            builder = builder.base_url(base_url);
        }
        return Ok((builder.build()?, Backend::Live));
    }
    let mock = emulator.start().await?;
    let client =
        FastnAuth::builder("demo-space").api_key(MockServer::API_KEY).base_url(mock.base_url()).build()?;
    Ok((client, Backend::Emulator(mock)))
}
