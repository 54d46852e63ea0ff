//! The tenant's refreshing token inside other crates' HTTP clients: a
//! [`reqwest_middleware`] middleware ([`TokenMiddleware`], feature `reqwest-middleware`), a
//! `tower` layer ([`TokenLayer`], feature `tower`: hyper clients, octocrab), and
//! google-apis-rs's `GetToken` ([`GoogleToken`], feature `google-apis`).
//!
//! Each is built from an [`ApiClient`](crate::ApiClient) (connector, tenant, base URL,
//! token placement) and keeps its rules:
//! - **The host pin.** A request under the client's resolved base URL (same scheme, host and
//!   port, its path under the base's path) gets the token where the manifest says, at send
//!   time; any other request passes through untouched, with no token.
//! - **The cache.** The token comes from the client's credentials cache: refreshed ahead of
//!   expiry, one fetch for every concurrent caller.
//! - **401.** The provider refusing the token is one refresh, shared with every other caller
//!   refusing the same token (as [`ApiClient`](crate::ApiClient) does it), then one retry
//!   when the request can be sent again; a request that cannot be gets its 401 back, with a
//!   `tracing` warning.
//! - **Secrets.** The token is never in a `Debug`, a log line or an error of a bridge.

#[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
use url::Url;

#[cfg(feature = "google-apis")]
mod google;
#[cfg(feature = "tower")]
mod layer;
#[cfg(feature = "reqwest-middleware")]
mod middleware;

#[cfg(feature = "google-apis")]
pub use google::{GoogleRefresh, GoogleToken};
#[cfg(feature = "tower")]
pub use layer::{TokenLayer, TokenService};
#[cfg(feature = "reqwest-middleware")]
pub use middleware::TokenMiddleware;

/// Why a bridge could not give a request its token: a missing connection
/// ([`is_not_found`](crate::Error::is_not_found)), Fastn unreachable, a setting that cannot
/// work. The SDK's [`Error`](crate::Error) is its [`source`](std::error::Error::source), so
/// it is reachable through the provider crate's own error.
#[derive(Debug)]
pub struct TokenError(pub(crate) crate::Error);

impl TokenError {
    /// The SDK's error.
    pub fn error(&self) -> &crate::Error {
        &self.0
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fastn-auth gave no token for the request: {}", self.0)
    }
}

impl std::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// After the provider answered 401 to a request sent with `grant`'s token: the copy to send
/// again (`again`, made before the token was set) with the newer credentials, or `None` to
/// hand the 401 back (the API client's one 401 rule, [`ApiClient::after_401`](crate::ApiClient)).
#[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
pub(crate) async fn retry_after_401<'a, R>(
    api: &'a crate::api::ApiClient,
    grant: &crate::api::grant::Grant<'_>,
    again: Option<R>,
) -> crate::Result<Option<(R, crate::api::grant::Grant<'a>)>> {
    let fresh = api.after_401(grant, again.is_some(), api.call_deadline()).await?;
    Ok(again.zip(fresh))
}

/// Whether `url` is under `base`: the API client's pin ([`crate::provider::is_under`]:
/// the same origin, a path below the base's, segments that stay segments once decoded).
#[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
pub(crate) fn covers(base: &Url, url: &Url) -> bool {
    crate::provider::is_under(base, url)
}

#[cfg(all(test, any(feature = "reqwest-middleware", feature = "tower")))]
mod tests {
    use super::*;

    #[test]
    fn only_the_bases_origin_and_paths_under_it_are_covered() {
        let base = Url::parse("https://api.example.com/v4/").unwrap();
        let url = |text: &str| Url::parse(text).unwrap();
        for covered in [
            "https://api.example.com/v4",
            "https://api.example.com/v4/x?q=1",
            "https://API.example.com:443/v4/a/b",
        ] {
            assert!(covers(&base, &url(covered)), "{covered}");
        }
        for other in [
            "https://api.example.com/v4x",
            "https://api.example.com/v5/x",
            "http://api.example.com/v4/x",
            "https://api.example.com:8443/v4/x",
            "https://api.example.com.evil.example/v4/x",
            "https://evil.example/v4/x",
            "https://api.example.com/v4/../v5",
            "https://api.example.com/v4/..%2Fadmin",
            "https://api.example.com/v4/%2e%2e%2Fadmin",
        ] {
            assert!(!covers(&base, &url(other)), "{other}");
        }
        let root = Url::parse("https://api.example.com").unwrap();
        assert!(covers(&root, &url("https://api.example.com/anything")));
    }
}
