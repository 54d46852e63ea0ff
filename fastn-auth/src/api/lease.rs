//! What the bridges (`fastn_auth::bridge`, features `reqwest-middleware`, `tower`,
//! `google-apis`) take of an [`ApiClient`]: its credentials cache, base URL, token placement
//! and 401 rule, for requests another crate builds.

use url::Url;

use super::ApiClient;
use crate::cache::Freshness;
use crate::credentials::{Credentials, ExtraMap};
use crate::error::Result;
#[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
use crate::provider::Template;

/// The credentials a bridge sends a request with: their cache generation (for the refresh
/// after a 401) and the base URL they resolve.
pub(crate) struct Lease {
    pub(crate) credentials: Credentials<ExtraMap>,
    pub(crate) generation: u64,
    /// Not read by `GoogleToken`: a hub sends the token to its own base URL.
    #[cfg_attr(not(any(feature = "reqwest-middleware", feature = "tower")), allow(dead_code))]
    pub(crate) base: Url,
}

/// What the bridges (`fastn_auth::bridge`) take of an `ApiClient`: its cache, base URL,
/// token placement and 401 rule, for requests another crate builds.
impl ApiClient {
    /// The base URL when it is known without the credentials (no `{field}` in it, or the
    /// client routes the connector elsewhere).
    ///
    /// # Errors
    /// As `send`: no base URL, or a setting that cannot work.
    #[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
    pub(crate) fn known_base(&self) -> Result<Option<&Url>> {
        let template = self.template()?;
        Ok(self.routed.as_ref().or_else(|| template.and_then(Template::fixed)))
    }

    /// The current credentials, through the cache (`freshness` as for API calls).
    pub(crate) async fn lease(&self, freshness: Freshness) -> Result<Lease> {
        crate::transport::in_runtime()?;
        let template = self.template()?;
        let deadline = self.calls.transport.call_deadline(None);
        let (credentials, generation) =
            self.calls.cached::<ExtraMap>(self.target.key(), deadline, freshness).await?;
        let base = self.resolve_base(template, &credentials)?.into_owned();
        Ok(Lease { credentials, generation, base })
    }

    #[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
    /// After the provider refused `rejected`'s token: newer credentials, shared with every
    /// caller refreshing the same generation; `None` when sending again is pointless (the
    /// refusals are final for a while, or Fastn gave the same token back).
    pub(crate) async fn refreshed(&self, rejected: &Lease) -> Result<Option<Lease>> {
        if self.unauthorized_is_final(rejected.generation) {
            return Ok(None);
        }
        tracing::debug!(connector = %self.target.connector_id, "the provider refused the token; refreshing it");
        let lease = self.lease(Freshness::NewerThan(rejected.generation)).await?;
        let token = |credentials| self.placement.token(credentials).ok();
        if token(&rejected.credentials).is_some() && token(&rejected.credentials) == token(&lease.credentials)
        {
            self.calls.cache.reject(&self.target, lease.generation);
            return Ok(None);
        }
        Ok(Some(lease))
    }

    #[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
    /// The refreshed token was refused too: no more refreshes for a while.
    pub(crate) fn refused_again(&self, lease: &Lease) {
        self.refused_generation(lease.generation);
    }

    /// [`refused_again`](Self::refused_again) by generation.
    pub(crate) fn refused_generation(&self, generation: u64) {
        self.calls.cache.reject(&self.target, generation);
    }

    /// Whether a 401 for `generation` is not worth a refresh now.
    pub(crate) fn unauthorized_is_final(&self, generation: u64) -> bool {
        self.calls.cache.unauthorized_is_final(&self.target, generation)
    }

    #[cfg(feature = "google-apis")]
    /// The token of `lease`, as the manifest's placement reads it.
    pub(crate) fn token_of<'l>(&self, lease: &'l Lease) -> Result<&'l str> {
        self.placement.token(&lease.credentials)
    }

    #[cfg(feature = "tower")]
    /// Where `lease`'s token goes.
    pub(crate) fn placed<'l>(&'l self, lease: &'l Lease) -> Result<crate::provider::Placed<'l>> {
        self.placement.placed(&lease.credentials)
    }

    #[cfg(feature = "reqwest-middleware")]
    /// `lease`'s token on `request`, where the manifest says.
    pub(crate) fn attach(&self, lease: &Lease, request: &mut reqwest::Request) -> Result<()> {
        self.placement.attach(&lease.credentials, request)
    }

    /// The connector, for logs.
    pub(crate) fn connector_id(&self) -> &str {
        &self.target.connector_id
    }
}
