//! The requests about one connection: start a flow, fetch credentials (typed or not: made by
//! the client, `client.connect("slack")`, or a generated connector, `Slack::connect(&client)`),
//! and read its health. Each ends in `.send().await`.

use std::borrow::Cow;
use std::sync::Arc;

use crate::cache::Freshness;
use crate::connector::{Connector, Untyped};
use crate::credentials::Credentials;
use crate::error::Result;
use crate::health::Health;
use crate::inner::ClientInner;
use crate::session::{AuthSession, SessionHandle};
use crate::target::Key;

/// The connection a request is about, before the org default is applied. Its ids are
/// borrowed where the caller lends them: a credentials call the cache answers copies none.
#[derive(Debug, Clone)]
struct Selector<'a, C> {
    connector: C,
    org_id: Option<Cow<'a, str>>,
    tenant_id: Option<Cow<'a, str>>,
    connection_id: Option<Cow<'a, str>>,
}

impl<C: Connector> Selector<'_, C> {
    fn new(connector: C) -> Self {
        Selector { connector, org_id: None, tenant_id: None, connection_id: None }
    }

    fn key(&self) -> Key<'_> {
        let org_id = self.org_id.as_deref().or_else(|| self.connector.default_org());
        Key {
            connector_id: self.connector.id(),
            org_id: org_id.unwrap_or(crate::wire::DEFAULT_ORG_ID),
            tenant_id: self.tenant_id.as_deref(),
            connection_id: self.connection_id.as_deref(),
        }
    }
}

/// The setters both requests share.
macro_rules! selector_setters {
    () => {
        /// The org; the connector's manifest default, else
        /// [`DEFAULT_ORG_ID`](crate::limits::DEFAULT_ORG_ID). Borrowed or owned, as the
        /// caller has it.
        pub fn org_id(mut self, org_id: impl Into<Cow<'a, str>>) -> Self {
            self.selector.org_id = Some(org_id.into());
            self
        }

        /// The tenant (your customer), sent as `x-fastn-space-tenantid`.
        pub fn tenant_id(mut self, tenant_id: impl Into<Cow<'a, str>>) -> Self {
            self.selector.tenant_id = Some(tenant_id.into());
            self
        }

        /// The connection instance, sent as `x-fastn-space-connection-id`.
        pub fn connection_id(mut self, connection_id: impl Into<Cow<'a, str>>) -> Self {
            self.selector.connection_id = Some(connection_id.into());
            self
        }
    };
}

/// Starts a flow: `POST {base}/connect/init/{org}/{connector}`. Made by
/// [`FastnAuth::connect`](crate::FastnAuth::connect) or a generated `Connector::connect`.
#[derive(Debug)]
#[must_use = "call .send().await"]
pub struct ConnectRequest<'a, C: Connector = Untyped> {
    inner: &'a Arc<ClientInner>,
    selector: Selector<'a, C>,
    /// A flow for a broken connection ([`FastnAuth::reconnect`](crate::FastnAuth::reconnect)).
    reconnect: bool,
}

impl<'a, C: Connector> ConnectRequest<'a, C> {
    pub(crate) fn new(inner: &'a Arc<ClientInner>, connector: C) -> Self {
        ConnectRequest { inner, selector: Selector::new(connector), reconnect: false }
    }

    pub(crate) fn reconnect(inner: &'a Arc<ClientInner>, connector: C) -> Self {
        ConnectRequest { inner, selector: Selector::new(connector), reconnect: true }
    }

    selector_setters!();

    /// Starts the flow. Transient failures are retried as the client is configured.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for an id that cannot be sent (nothing is
    /// sent then), [`ErrorKind::Network`](crate::ErrorKind::Network) when the call failed,
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) when the answer has no
    /// usable `state` or an `redirectUrl` that is not http(s). Outside a tokio runtime,
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) saying so (every call of the async client
    /// returns that there; `fastn_auth::blocking` is for such code).
    pub async fn send(self) -> Result<AuthSession<C>> {
        crate::transport::in_runtime()?;
        let target = self.selector.key().to_target();
        let span =
            tracing::info_span!("fastn_auth.connect", connector = %target.connector_id, org = %target.org_id);
        let init = tracing::Instrument::instrument(self.inner.init(&target), span).await?;
        let handle = SessionHandle::started(target, init);
        if self.reconnect {
            self.inner.health.reconnect_started(self.selector.key(), handle.redirect_url().cloned());
        }
        tracing::debug!(connector = handle.connector_id(), state = handle.state(), "flow started");
        Ok(AuthSession::new(self.inner.clone(), handle))
    }
}

/// Fetches a connection's credentials: `GET {base}/connect/credentials/{org}/{connector}`.
/// Made by [`FastnAuth::credentials`](crate::FastnAuth::credentials) or a generated
/// `Connector::credentials`.
#[derive(Debug)]
#[must_use = "call .send().await"]
pub struct CredentialsRequest<'a, C: Connector = Untyped> {
    inner: &'a Arc<ClientInner>,
    selector: Selector<'a, C>,
    freshness: Freshness,
}

impl<'a, C: Connector> CredentialsRequest<'a, C> {
    pub(crate) fn new(inner: &'a Arc<ClientInner>, connector: C) -> Self {
        CredentialsRequest { inner, selector: Selector::new(connector), freshness: Freshness::Any }
    }

    selector_setters!();

    /// Asks for credentials newer than the cache holds now: for a caller whose token the
    /// third party just rejected. Concurrent `fresh()` calls for one connection share one
    /// fetch, and so do they with a fetch already in flight. Without a cache every request
    /// is fresh and this changes nothing.
    pub fn fresh(mut self) -> Self {
        self.freshness = Freshness::Newer;
        self
    }

    /// Fetches the credentials, from the client's cache when it has one and they are valid.
    /// Transient failures are retried as the client is configured.
    ///
    /// # Errors
    /// [`ErrorKind::Network`](crate::ErrorKind::Network) with
    /// [`is_not_found()`](crate::Error::is_not_found) when the tenant has no connection of
    /// this connector; otherwise as [`ConnectRequest::send`].
    pub async fn send(self) -> Result<Credentials<C::Extra>> {
        let key = self.selector.key();
        // A hit awaits nothing: no runtime needed, no timer, no span.
        if let Some(hit) = self.inner.hit(key, self.freshness) {
            return hit;
        }
        crate::transport::in_runtime()?;
        let span =
            tracing::info_span!("fastn_auth.credentials", connector = %key.connector_id, org = %key.org_id);
        tracing::Instrument::instrument(self.inner.credentials(key, None, self.freshness), span).await
    }
}

/// A connection's health: `client.health("slack").tenant_id(t).send().await`. Made by
/// [`FastnAuth::health`](crate::FastnAuth::health).
#[derive(Debug)]
#[must_use = "call .send().await"]
pub struct HealthRequest<'a> {
    inner: &'a Arc<ClientInner>,
    connector_id: String,
    org_id: Option<Cow<'a, str>>,
    tenant_id: Option<Cow<'a, str>>,
    connection_id: Option<Cow<'a, str>>,
    probe: bool,
}

impl<'a> HealthRequest<'a> {
    pub(crate) fn new(inner: &'a Arc<ClientInner>, connector_id: String) -> Self {
        HealthRequest {
            inner,
            connector_id,
            org_id: None,
            tenant_id: None,
            connection_id: None,
            probe: false,
        }
    }

    /// The org ([`DEFAULT_ORG_ID`](crate::limits::DEFAULT_ORG_ID) when not given).
    pub fn org_id(mut self, org_id: impl Into<Cow<'a, str>>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    /// The tenant.
    pub fn tenant_id(mut self, tenant_id: impl Into<Cow<'a, str>>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The connection id.
    pub fn connection_id(mut self, connection_id: impl Into<Cow<'a, str>>) -> Self {
        self.connection_id = Some(connection_id.into());
        self
    }

    /// Asks Fastn now (a fresh credentials request, let through even while the
    /// connection is broken) instead of telling what calls learned.
    pub fn probe(mut self) -> Self {
        self.probe = true;
        self
    }

    fn key(&self) -> Key<'_> {
        Key {
            connector_id: &self.connector_id,
            org_id: self.org_id.as_deref().unwrap_or(crate::wire::DEFAULT_ORG_ID),
            tenant_id: self.tenant_id.as_deref(),
            connection_id: self.connection_id.as_deref(),
        }
    }

    /// The health; with [`probe`](Self::probe), after asking Fastn (whose answer sets it:
    /// a failure that tells nothing of the connection — the network, a 5xx — leaves it as
    /// it was).
    pub async fn send(self) -> Health {
        let key = self.key();
        if self.probe {
            self.inner.health.probe_now(key);
            let probed = self.inner.cached::<crate::credentials::ExtraMap>(key, None, Freshness::Newer).await;
            if let Err(err) = probed {
                tracing::debug!(error = %err, connector = key.connector_id, "the health probe failed");
            }
        }
        self.inner.health.health(key)
    }
}
