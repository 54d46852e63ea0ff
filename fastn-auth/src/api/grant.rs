//! The one 401 rule of provider calls, for [`ApiClient::send`](super::ApiRequest::send)
//! and the bridges (`fastn_auth::bridge`) alike: the credentials a request goes with (a
//! [`Grant`]), and after the provider's 401 one coalesced refresh, or none when the refusals
//! are final for a while or Fastn hands back the refused token.

use std::borrow::Cow;

use tokio::time::Instant;
use url::Url;

use super::ApiClient;
use crate::cache::Freshness;
use crate::credentials::{Credentials, ExtraMap};
use crate::error::Result;
use crate::health::Learned;
#[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
use crate::provider::Template;

/// The credentials a request is sent with: their cache generation (for the refresh after
/// a 401) and the base URL they resolve.
pub(crate) struct Grant<'c> {
    pub(crate) credentials: Credentials<ExtraMap>,
    pub(crate) generation: u64,
    /// The client's own route, borrowed, or the template filled in with the credentials.
    pub(crate) base: Cow<'c, Url>,
}

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

    /// The current credentials, through the cache (`freshness` as for API calls), within a
    /// call's deadline of their own.
    #[cfg(any(feature = "reqwest-middleware", feature = "tower", feature = "google-apis"))]
    pub(crate) async fn grant(&self, freshness: Freshness) -> Result<Grant<'_>> {
        crate::transport::in_runtime()?;
        self.grant_within(freshness, self.call_deadline()).await
    }

    /// The deadline of a call starting now (the client's call timeout).
    #[cfg(any(feature = "reqwest-middleware", feature = "tower", feature = "google-apis"))]
    pub(crate) fn call_deadline(&self) -> Option<Instant> {
        self.inner.transport.call_deadline(None)
    }

    /// The current credentials, through the cache, by `deadline`.
    pub(crate) async fn grant_within(
        &self,
        freshness: Freshness,
        deadline: Option<Instant>,
    ) -> Result<Grant<'_>> {
        let template = self.template()?;
        let (credentials, generation) =
            self.inner.cached::<ExtraMap>(self.target.key(), deadline, freshness).await?;
        let base = self.resolve_base(template, &credentials)?;
        Ok(Grant { credentials, generation, base })
    }

    /// After the provider answered 401 to a request sent with `rejected`'s token: the newer
    /// credentials to send it again with, shared with every caller refreshing the same
    /// generation; `None` to hand the 401 back — the refusals are final for a while, Fastn
    /// gave the same token back, or the request cannot be sent again (`can_resend` false: a
    /// streamed body). Without a resend the token is refreshed all the same (one refresh for
    /// a storm of such 401s), so the next request carries the new one; that refresh's own
    /// failure is logged, and the 401 is what the caller gets.
    pub(crate) async fn after_401(
        &self,
        rejected: &Grant<'_>,
        can_resend: bool,
        deadline: Option<Instant>,
    ) -> Result<Option<Grant<'_>>> {
        if !can_resend {
            tracing::warn!(
                connector = %self.target.connector_id,
                "the provider answered 401 to a request whose body cannot be sent again; \
                 returning the 401, the next request carries the refreshed token"
            );
            if let Err(err) = self.refreshed(rejected, deadline).await {
                tracing::warn!(error = %err, connector = %self.target.connector_id, "the refresh after a 401 failed");
            }
            return Ok(None);
        }
        self.refreshed(rejected, deadline).await
    }

    /// Newer credentials than `rejected`'s, or `None` when asking is pointless.
    async fn refreshed(&self, rejected: &Grant<'_>, deadline: Option<Instant>) -> Result<Option<Grant<'_>>> {
        if self.unauthorized_is_final(rejected.generation) {
            return Ok(None);
        }
        tracing::debug!(connector = %self.target.connector_id, "the provider refused the token; refreshing it");
        let grant = self.grant_within(Freshness::NewerThan(rejected.generation), deadline).await?;
        let token = |credentials| self.placement.token(credentials).ok();
        if token(&rejected.credentials).is_some() && token(&rejected.credentials) == token(&grant.credentials)
        {
            // Fastn gave back the token just refused: sending it again is pointless, and so
            // is asking Fastn again soon.
            self.refused_generation(grant.generation);
            return Ok(None);
        }
        Ok(Some(grant))
    }

    /// The refreshed token was refused too: no more refreshes for a while.
    pub(crate) fn refused_again(&self, grant: &Grant<'_>) {
        self.refused_generation(grant.generation);
    }

    /// [`refused_again`](Self::refused_again) by generation: the provider refuses the
    /// connection's token even after a refresh, so its access was revoked there (the
    /// connection is broken until a reconnect, or the provider accepts it again).
    pub(crate) fn refused_generation(&self, generation: u64) {
        self.inner.cache.reject(&self.target, generation);
        let revoked = Learned::Broken(crate::health::BreakReason::Revoked, None);
        self.inner.learn(self.target.key(), revoked);
    }

    /// The provider answered a request with something other than 401: its token works.
    pub(crate) fn accepted(&self) {
        self.inner.accepted(self.target.key());
    }

    /// Whether a 401 for `generation` is not worth a refresh now.
    pub(crate) fn unauthorized_is_final(&self, generation: u64) -> bool {
        self.inner.cache.unauthorized_is_final(&self.target, generation)
    }

    #[cfg(feature = "google-apis")]
    /// The token of `grant`, as the manifest's placement reads it.
    pub(crate) fn token_of<'l>(&self, grant: &'l Grant<'_>) -> Result<&'l str> {
        self.placement.token(&grant.credentials)
    }

    #[cfg(feature = "tower")]
    /// Where `grant`'s token goes.
    pub(crate) fn placed<'l>(&'l self, grant: &'l Grant<'_>) -> Result<crate::provider::Placed<'l>> {
        self.placement.placed(&grant.credentials)
    }

    #[cfg(feature = "reqwest-middleware")]
    /// `grant`'s token on `request`, where the manifest says.
    pub(crate) fn attach(&self, grant: &Grant<'_>, request: &mut reqwest::Request) -> Result<()> {
        self.placement.attach(&grant.credentials, request)
    }

    /// The connector, for logs.
    #[cfg(feature = "google-apis")]
    pub(crate) fn connector_id(&self) -> &str {
        &self.target.connector_id
    }
}
