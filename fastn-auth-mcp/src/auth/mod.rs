//! Remote MCP clients signing in (the MCP specification's authorization, 2026-07-28): the
//! server is an OAuth 2.1 resource server. It publishes its protected resource metadata
//! (RFC 9728) naming the authorization server, answers a request without a usable bearer
//! token `401` with `WWW-Authenticate: Bearer resource_metadata="…"`, and takes each
//! request's tenant from the verified token — never from anything else the client sends.
//!
//! [`McpAuth`] is the resource's side (what the metadata says), a [`TokenVerifier`] the
//! token's: [`JwtVerifier`] for JWTs signed with a key of the issuer's JWKS, or one of the
//! application's own for other token kinds.

mod jwt;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use fastn_auth_axum::Tenant;
use url::Url;

pub use jwt::{DEFAULT_LEEWAY, JwtVerifier, JwtVerifierBuilder};

/// The largest bearer token looked at, in bytes; a longer `Authorization` header is refused
/// unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Who a verified token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The tenant every call of the request runs for (the verifier's tenant claim).
    pub tenant: String,
    /// The token's `sub`, when it has one.
    pub subject: Option<String>,
    /// The token's scopes (`scope`, space-separated, or `scp`).
    pub scopes: Vec<String>,
}

impl Identity {
    /// An identity of `tenant`, for a verifier of the application's own.
    pub fn new(tenant: impl Into<String>) -> Self {
        Identity { tenant: tenant.into(), subject: None, scopes: Vec::new() }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The token is not good for this server: malformed, signed by no key of the issuer,
    /// another algorithm, another issuer or audience, expired, without a tenant. `401`
    /// with `error="invalid_token"`; the reason is logged, not sent.
    Refused(String),
    /// The token could not be checked now (the issuer's keys could not be read): `503`.
    Unavailable(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Refused(why) => write!(f, "the token is refused: {why}"),
            AuthError::Unavailable(why) => write!(f, "the token cannot be checked now: {why}"),
        }
    }
}

impl std::error::Error for AuthError {}

/// What [`TokenVerifier::verify`] returns.
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<Identity, AuthError>> + Send + 'a>>;

/// Checks a bearer token and says whose it is: [`JwtVerifier`], or the application's own
/// for another kind of token (an opaque one looked up by introspection, say).
pub trait TokenVerifier: Send + Sync + fmt::Debug + 'static {
    /// The identity of `token`, or why it is not accepted.
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;
}

/// The server as an OAuth 2.1 resource server: its canonical URL, the authorization servers
/// that issue tokens for it, and the verifier of those tokens. Given to
/// [`McpHttp::auth`](crate::McpHttp::auth).
#[derive(Debug, Clone)]
pub struct McpAuth {
    resource: Url,
    /// Issuer identifiers, as the issuers write them (compared as strings by clients).
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    verifier: Arc<dyn TokenVerifier>,
}

impl McpAuth {
    /// `resource` is the MCP endpoint's URL as clients reach it
    /// (`https://mcp.example.com/mcp`: the `resource` of the metadata, and the audience
    /// tokens are issued for), `authorization_server` the issuer's identifier exactly as
    /// its metadata and tokens write it (`https://id.example.com`), `verifier` the check of
    /// their tokens.
    pub fn new(resource: Url, authorization_server: impl Into<String>, verifier: impl TokenVerifier) -> Self {
        McpAuth {
            resource,
            authorization_servers: vec![authorization_server.into()],
            scopes_supported: Vec::new(),
            verifier: Arc::new(verifier),
        }
    }

    /// The scopes the metadata lists (`scopes_supported`); default none listed.
    pub fn scopes_supported<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The protected resource metadata (RFC 9728 §2).
    pub fn metadata(&self) -> serde_json::Value {
        let mut metadata = serde_json::json!({
            "resource": self.resource.as_str(),
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": ["header"],
        });
        if !self.scopes_supported.is_empty() {
            metadata["scopes_supported"] = serde_json::json!(self.scopes_supported);
        }
        metadata
    }

    /// Where the metadata is served: `/.well-known/oauth-protected-resource` with the
    /// resource's path after it (RFC 9728 §3.1).
    pub fn metadata_url(&self) -> Url {
        let mut url = self.resource.clone();
        let path = self.resource.path().trim_end_matches('/');
        url.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
        url.set_query(None);
        url.set_fragment(None);
        url
    }

    /// The metadata's routes: the path RFC 9728 gives, and the root one clients fall back to.
    pub(crate) fn routes<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        let metadata = Arc::new(self.metadata());
        let serve = move || {
            let metadata = metadata.clone();
            async move { axum::Json(metadata.as_ref().clone()) }
        };
        let path = self.metadata_url().path().to_owned();
        let mut router = axum::Router::new().route(&path, axum::routing::get(serve.clone()));
        if path != "/.well-known/oauth-protected-resource" {
            router = router.route("/.well-known/oauth-protected-resource", axum::routing::get(serve));
        }
        router
    }

    /// `WWW-Authenticate` of a `401`: where the metadata is, and `invalid_token` when a
    /// token was given.
    fn challenge(&self, token_given: bool) -> HeaderValue {
        let error = if token_given { r#", error="invalid_token""# } else { "" };
        let value = format!(r#"Bearer resource_metadata="{}"{error}"#, self.metadata_url());
        // A URL has no character a header value may not hold.
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

/// The bearer token of `request`: `Ok(None)` without an `Authorization` header, `Err` for
/// one that is no usable bearer token.
fn bearer(request: &Request) -> Result<Option<&str>, ()> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    if value.len() > MAX_TOKEN_BYTES + 7 {
        return Err(());
    }
    let value = value.to_str().map_err(|_| ())?;
    let (scheme, token) = value.split_once(' ').ok_or(())?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(());
    }
    Ok(Some(token))
}

/// The token check in front of the tenant bounds: a verified token's tenant is the
/// request's [`Tenant`], and its [`Identity`] is in the request's extensions.
pub(crate) async fn authenticate(
    State(auth): State<Arc<McpAuth>>,
    mut request: Request,
    next: Next,
) -> Response {
    let unauthorized = |token_given: bool, text: &'static str| {
        let mut response =
            (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text)
                .into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, auth.challenge(token_given));
        response
    };
    let token = match bearer(&request) {
        Ok(Some(token)) => token.to_owned(),
        Ok(None) => return unauthorized(false, "sign in: this server needs a bearer token"),
        Err(()) => return unauthorized(true, "the Authorization header is not a bearer token"),
    };
    match auth.verifier.verify(&token).await {
        Ok(identity) => {
            request.extensions_mut().insert(Tenant(identity.tenant.clone()));
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(AuthError::Refused(why)) => {
            tracing::info!(reason = %why, "an MCP request's bearer token is refused");
            unauthorized(true, "the bearer token is not accepted")
        }
        Err(AuthError::Unavailable(why)) => {
            tracing::warn!(reason = %why, "an MCP request's bearer token cannot be checked");
            let mut response =
                (StatusCode::SERVICE_UNAVAILABLE, "the sign-in cannot be checked now; retry shortly")
                    .into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Nobody;

    impl TokenVerifier for Nobody {
        fn verify<'a>(&'a self, _token: &'a str) -> VerifyFuture<'a> {
            Box::pin(async { Err(AuthError::Refused("no".into())) })
        }
    }

    #[test]
    fn the_metadata_is_served_under_the_resources_path_and_names_the_issuer() {
        let auth = McpAuth::new(
            Url::parse("https://mcp.example.com/mcp").unwrap(),
            "https://id.example.com",
            Nobody,
        )
        .scopes_supported(["tools"]);
        assert_eq!(
            auth.metadata_url().as_str(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let metadata = auth.metadata();
        assert_eq!(metadata["resource"], "https://mcp.example.com/mcp");
        assert_eq!(metadata["authorization_servers"], serde_json::json!(["https://id.example.com"]));
        assert_eq!(metadata["scopes_supported"], serde_json::json!(["tools"]));
        assert_eq!(
            auth.challenge(true),
            r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", error="invalid_token""#
        );
    }
}
