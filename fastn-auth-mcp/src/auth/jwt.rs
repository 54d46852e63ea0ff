//! [`JwtVerifier`]: bearer tokens as JWTs signed with a key of the issuer's JWKS, checked by
//! the `jsonwebtoken` crate (signature, algorithm, issuer, audience, expiry, not-before).
//!
//! The JWKS is found through the issuer's metadata (RFC 8414, else OpenID discovery), whose
//! `issuer` must be the one configured; it is read when first needed and again when a token
//! names a key it does not have (a rotation), at most once per refresh interval, so tokens
//! naming made-up keys cannot make the server fetch on every request. Every document is read
//! with a deadline, a size bound and no redirects, over https (plain http to a loopback host
//! only, for a local issuer).

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;
use url::Url;

use super::{AuthError, Identity, MAX_TOKEN_BYTES, TokenVerifier, VerifyFuture};

/// The clock skew allowed on `exp` and `nbf` unless [`JwtVerifierBuilder::leeway`] says
/// otherwise: 60 s.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// The shortest time between two reads of the JWKS unless
/// [`JwtVerifierBuilder::refresh_interval`] says otherwise.
const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// The deadline of one read of the metadata or the JWKS.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest metadata document or JWKS read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The most keys of a JWKS kept.
const MAX_KEYS: usize = 64;
/// The longest tenant taken from a claim.
const MAX_TENANT_BYTES: usize = 256;

/// Verifies JWT bearer tokens for one issuer and audience: made by
/// [`JwtVerifier::builder`]. Cheap to clone; clones share the keys.
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

/// How a [`JwtVerifier`] checks tokens.
#[derive(Debug, Clone)]
#[must_use = "call .build()"]
pub struct JwtVerifierBuilder {
    issuer: String,
    audiences: Vec<String>,
    tenant_claim: String,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    jwks_uri: Option<Url>,
    refresh_interval: Duration,
}

#[derive(Debug)]
struct Inner {
    issuer: Url,
    validation: Validation,
    tenant_claim: String,
    algorithms: Vec<Algorithm>,
    refresh_interval: Duration,
    http: reqwest::Client,
    /// Given, or found in the issuer's metadata on first use.
    jwks_uri: Mutex<Option<Url>>,
    keys: RwLock<Keys>,
    /// When the JWKS was last read (or tried), and whether that worked: one read at a
    /// time, at most one per interval.
    last_read: Mutex<Option<(Instant, bool)>>,
}

/// The issuer's keys by `kid`; keys without one apart.
#[derive(Debug, Default)]
struct Keys {
    by_id: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    anonymous: Vec<(DecodingKey, Option<Algorithm>)>,
}

impl JwtVerifier {
    /// A verifier of tokens issued by `issuer` (the authorization server's issuer URL, as
    /// its tokens' `iss` and its metadata's `issuer` say).
    pub fn builder(issuer: impl Into<String>) -> JwtVerifierBuilder {
        JwtVerifierBuilder {
            issuer: issuer.into(),
            audiences: Vec::new(),
            tenant_claim: "sub".to_owned(),
            algorithms: vec![Algorithm::RS256, Algorithm::ES256],
            leeway: DEFAULT_LEEWAY,
            jwks_uri: None,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
        }
    }
}

impl JwtVerifierBuilder {
    /// An audience tokens must be issued for (`aud`): the server's resource URL, or the
    /// identifier the issuer gives it. At least one is required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The claim holding the tenant; default `sub`. A token without it, or with one that
    /// is not a short printable string, is refused.
    pub fn tenant_claim(mut self, claim: impl Into<String>) -> Self {
        self.tenant_claim = claim.into();
        self
    }

    /// The signing algorithms accepted (the token's `alg` must be one); default RS256 and
    /// ES256. `none` is never accepted.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The clock skew allowed on `exp` and `nbf`; default [`DEFAULT_LEEWAY`].
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The JWKS's URL, instead of the one the issuer's metadata gives.
    pub fn jwks_uri(mut self, url: Url) -> Self {
        self.jwks_uri = Some(url);
        self
    }

    /// The shortest time between two reads of the JWKS (a token naming a key not yet read
    /// waits for the next); default 30 s.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The verifier. Nothing is fetched yet.
    ///
    /// # Errors
    /// [`fastn_auth::ErrorKind::Config`] for an issuer that is not an https URL (or http to
    /// a loopback host), no audience, or no algorithm.
    pub fn build(self) -> fastn_auth::Result<JwtVerifier> {
        let issuer = Url::parse(&self.issuer)
            .map_err(|err| fastn_auth::Error::config(format!("the issuer is not a URL: {err}")))?;
        for url in std::iter::once(&issuer).chain(&self.jwks_uri) {
            if let Some(problem) = fetchable(url) {
                return Err(fastn_auth::Error::config(format!("{url}: {problem}")));
            }
        }
        if self.audiences.is_empty() {
            return Err(fastn_auth::Error::config(
                "a JWT verifier needs an audience: its tokens must be for this server",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(fastn_auth::Error::config("a JWT verifier needs at least one algorithm"));
        }
        let mut validation = Validation::new(self.algorithms[0]);
        validation.set_audience(&self.audiences);
        // `iss` as written by the issuer, with or without the trailing slash a URL parser adds.
        validation.set_issuer(&[self.issuer.clone(), self.issuer.trim_end_matches('/').to_owned()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| fastn_auth::Error::config(format!("no HTTP client for the issuer: {err}")))?;
        Ok(JwtVerifier {
            inner: Arc::new(Inner {
                issuer,
                validation,
                tenant_claim: self.tenant_claim,
                algorithms: self.algorithms,
                refresh_interval: self.refresh_interval,
                http,
                jwks_uri: Mutex::new(self.jwks_uri),
                keys: RwLock::new(Keys::default()),
                last_read: Mutex::new(None),
            }),
        })
    }
}

impl TokenVerifier for JwtVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.inner.verify(token))
    }
}

impl Inner {
    async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Refused(format!("the token is over {MAX_TOKEN_BYTES} bytes")));
        }
        // `alg: none` (and any name jsonwebtoken does not know) fails here.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| AuthError::Refused(format!("not a signed JWT: {err}")))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(AuthError::Refused(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let key = self.key(header.kid.as_deref(), header.alg).await?;
        let mut validation = self.validation.clone();
        validation.algorithms = vec![header.alg];
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|err| AuthError::Refused(format!("{:?}", err.kind())))?
            .claims;
        let tenant = claims.get(&self.tenant_claim).and_then(Value::as_str).unwrap_or_default();
        if tenant.is_empty() || tenant.len() > MAX_TENANT_BYTES || tenant.chars().any(char::is_control) {
            return Err(AuthError::Refused(format!(
                "claim `{}` is not a tenant (a string of 1 to {MAX_TENANT_BYTES} printable bytes)",
                fastn_auth_rules::escape(&self.tenant_claim, 64)
            )));
        }
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(scopes)), _) => scopes.split_whitespace().map(str::to_owned).collect(),
            (_, Some(Value::Array(scopes))) => {
                scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect()
            }
            _ => Vec::new(),
        };
        let subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
        Ok(Identity { tenant: tenant.to_owned(), subject, scopes })
    }

    /// The key `kid` names for `alg`, the JWKS read again when it is not known and the
    /// interval allows.
    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, AuthError> {
        if let Some(key) = self.keys.read().await.find(kid, alg) {
            return Ok(key);
        }
        {
            let mut last_read = self.last_read.lock().await;
            // Another request may have read the keys while this one waited.
            if let Some(key) = self.keys.read().await.find(kid, alg) {
                return Ok(key);
            }
            match *last_read {
                Some((at, true)) if at.elapsed() < self.refresh_interval => {
                    return Err(AuthError::Refused("signed by no key of the issuer".into()));
                }
                Some((at, false)) if at.elapsed() < self.refresh_interval => {
                    return Err(AuthError::Unavailable(
                        "the issuer's keys could not be read; retrying soon".into(),
                    ));
                }
                _ => {}
            }
            let read = self.read_keys().await;
            *last_read = Some((Instant::now(), read.is_ok()));
            *self.keys.write().await = read?;
        }
        self.keys
            .read()
            .await
            .find(kid, alg)
            .ok_or_else(|| AuthError::Refused("signed by no key of the issuer".into()))
    }

    async fn read_keys(&self) -> Result<Keys, AuthError> {
        let uri = self.jwks_uri().await?;
        let set: JwkSet = serde_json::from_value(self.fetch(&uri).await?)
            .map_err(|err| AuthError::Unavailable(format!("the issuer's JWKS cannot be read: {err}")))?;
        let mut keys = Keys::default();
        for jwk in set.keys.iter().take(MAX_KEYS) {
            // A key of a kind jsonwebtoken cannot use is skipped, not fatal: others may sign.
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            let alg = key_algorithm(jwk);
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.by_id.insert(kid.clone(), (key, alg));
                }
                None => keys.anonymous.push((key, alg)),
            }
        }
        Ok(keys)
    }

    /// The JWKS's URL: given, or the `jwks_uri` of the issuer's metadata (whose `issuer`
    /// must be this one).
    async fn jwks_uri(&self) -> Result<Url, AuthError> {
        let mut known = self.jwks_uri.lock().await;
        if let Some(uri) = known.as_ref() {
            return Ok(uri.clone());
        }
        let path = self.issuer.path().trim_end_matches('/');
        let mut candidates = Vec::new();
        for well_known in [
            format!("/.well-known/oauth-authorization-server{path}"),
            format!("{path}/.well-known/openid-configuration"),
        ] {
            let mut url = self.issuer.clone();
            url.set_path(&well_known);
            candidates.push(url);
        }
        let mut failures = Vec::new();
        for candidate in candidates {
            let metadata = match self.fetch(&candidate).await {
                Ok(metadata) => metadata,
                Err(err) => {
                    failures.push(err.to_string());
                    continue;
                }
            };
            let issuer = metadata.get("issuer").and_then(Value::as_str).unwrap_or_default();
            if issuer.trim_end_matches('/') != self.issuer.as_str().trim_end_matches('/') {
                return Err(AuthError::Unavailable(format!(
                    "the metadata at {candidate} is of issuer `{}`, not this one",
                    fastn_auth_rules::escape(issuer, 120)
                )));
            }
            let uri = metadata
                .get("jwks_uri")
                .and_then(Value::as_str)
                .and_then(|uri| Url::parse(uri).ok())
                .filter(|uri| fetchable(uri).is_none())
                .ok_or_else(|| {
                    AuthError::Unavailable(format!("the metadata at {candidate} has no usable jwks_uri"))
                })?;
            *known = Some(uri.clone());
            return Ok(uri);
        }
        Err(AuthError::Unavailable(format!("the issuer's metadata cannot be read: {}", failures.join("; "))))
    }

    /// A JSON document, read with the deadline and size bound.
    async fn fetch(&self, url: &Url) -> Result<Value, AuthError> {
        let unavailable = |why: String| AuthError::Unavailable(format!("{url}: {why}"));
        let mut response =
            self.http.get(url.clone()).send().await.map_err(|err| unavailable(err.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("answered {}", response.status())));
        }
        if response.content_length().is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64) {
            return Err(unavailable(format!("larger than {MAX_DOCUMENT_BYTES} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| unavailable(err.to_string()))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(unavailable(format!("larger than {MAX_DOCUMENT_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|err| unavailable(format!("not JSON: {err}")))
    }
}

impl Keys {
    /// The key `kid` names (without one: the only key), if its own algorithm, when it says
    /// one, is `alg`.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let (key, key_alg) = match kid {
            Some(kid) => self.by_id.get(kid)?,
            None if self.anonymous.len() + self.by_id.len() == 1 => {
                self.anonymous.first().or_else(|| self.by_id.values().next())?
            }
            None => return None,
        };
        key_alg.is_none_or(|key_alg| key_alg == alg).then(|| key.clone())
    }
}

/// The algorithm a JWK says it is for (`alg`), when it says one jsonwebtoken knows.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    jwk.common.key_algorithm.and_then(|alg| Algorithm::from_str(&alg.to_string()).ok())
}

/// Why `url` is not fetched: anything but https, or http to a loopback host.
fn fetchable(url: &Url) -> Option<&'static str> {
    let loopback = url.host_str().is_some_and(|host| {
        fastn_auth_rules::api::is_loopback_host(host.trim_start_matches('[').trim_end_matches(']'))
    });
    match url.scheme() {
        "https" => None,
        "http" if loopback => None,
        _ => Some("must be an https URL (plain http only to a loopback host)"),
    }
}
