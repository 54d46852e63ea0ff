//! Fastn's connections API, as its newer client speaks it: a flow whose user comes back to
//! the app's own page (`redirect_url`) instead of closing a popup, and a connection's status
//! by id or by connector and tenant. The wire format is `wire::connections`.
//!
//! ```
//! # use std::time::Duration;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mock = fastn_auth_emulator::MockServer::builder().auto_approve_after_polls(1).start().await?;
//! # let client = mock.client();
//! let started = client
//!     .connections()
//!     .initiate("hubspot")
//!     .tenant_id("acme")
//!     .redirect_url("https://app.example.com/settings/integrations")
//!     .send()
//!     .await?;
//! println!("send the user to {}", started.auth_url); // they come back to the redirect URL
//! let options = fastn_auth::PollOptions::new(Duration::from_millis(20), Duration::from_secs(5));
//! let connected = client.connections().wait_until_authorized(&started.connection_id, options).await?;
//! assert_eq!(connected.status, fastn_auth::AuthStatus::Active);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::inner::ClientInner;
use crate::session::{Pacing, PollOptions, by_deadline};
use crate::transport::{check_id, shown};
use crate::wire::connections::{ConnectionAnswer, InitiatedAnswer, decode_connection, decode_initiated};
use crate::wire::{AuthStatus, Endpoint};

/// The connections API of a client: made by [`FastnAuth::connections`](crate::FastnAuth::connections).
#[derive(Debug, Clone)]
pub struct Connections {
    inner: Arc<ClientInner>,
}

/// What `initiate` answered: where to send the user, and the connection to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Initiated {
    /// The connection's id, for [`Connections::status`] and
    /// [`wait_until_authorized`](Connections::wait_until_authorized).
    pub connection_id: String,
    /// Where the user authorizes (an `http(s)` URL); they come back to the redirect URL.
    pub auth_url: Url,
    /// `pending` until the user authorizes ([`AuthStatus::Inactive`]).
    pub status: AuthStatus,
    /// How long the user has to authorize, when Fastn says (at most a day is taken).
    pub expires_in: Option<Duration>,
}

/// A connection as the connections API describes it; the ids and the time as Fastn sent them,
/// sanitised.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStatus {
    /// The connection's id, when given.
    pub connection_id: Option<String>,
    /// The connector, when given.
    pub connector: Option<String>,
    /// `pending`, `authorized`, `expired` (or the connect API's names), as [`AuthStatus`].
    pub status: AuthStatus,
    /// The tenant, when given.
    pub tenant_id: Option<String>,
    /// When the connection was made, as Fastn wrote it.
    pub created_at: Option<String>,
}

impl From<ConnectionAnswer> for ConnectionStatus {
    fn from(answer: ConnectionAnswer) -> Self {
        let ConnectionAnswer { connection_id, connector, status, tenant_id, created_at } = answer;
        ConnectionStatus { connection_id, connector, status, tenant_id, created_at }
    }
}

impl Connections {
    pub(crate) fn new(inner: Arc<ClientInner>) -> Self {
        Connections { inner }
    }

    /// Starts a flow for `connector`: set the tenant and the page the user comes back to,
    /// then `.send().await`.
    pub fn initiate(&self, connector: impl Into<String>) -> Initiate {
        Initiate {
            inner: self.inner.clone(),
            connector: connector.into(),
            tenant_id: None,
            redirect_url: None,
        }
    }

    /// A connection's status: by [`connection_id`](StatusQuery::connection_id), or by
    /// [`connector`](StatusQuery::connector) and [`tenant_id`](StatusQuery::tenant_id).
    pub fn status(&self) -> StatusQuery {
        StatusQuery { inner: self.inner.clone(), connection_id: None, connector: None, tenant_id: None }
    }

    /// Asks the status of `connection_id` until it is authorized (`Ok`), or ended
    /// (`expired`, `failed`: [`ErrorKind::Authentication`], `needs_reconnect()`), paced as
    /// [`AuthSession::wait_for_completion`](crate::AuthSession::wait_for_completion) is
    /// (transient faults polled through, `Retry-After` honoured), all by `options.timeout`.
    ///
    /// # Errors
    /// [`ErrorKind::Timeout`] when the timeout passed, [`ErrorKind::Config`] for a zero
    /// interval, and what a status request returns that polling will not mend.
    pub async fn wait_until_authorized(
        &self,
        connection_id: &str,
        options: PollOptions,
    ) -> Result<ConnectionStatus> {
        crate::transport::in_runtime()?;
        if options.interval.is_zero() {
            return Err(Error::config("PollOptions::interval must be greater than zero"));
        }
        let deadline = Instant::now().checked_add(options.timeout);
        let mut last_status = None;
        let query = self.status().connection_id(connection_id);
        let work = query.until_authorized(options.interval, deadline, &mut last_status);
        let outcome = by_deadline(deadline, work).await;
        outcome.unwrap_or_else(|| Err(ErrorKind::Timeout { timeout: options.timeout, last_status }.into()))
    }
}

/// `POST {base}/connections/initiate`; `.send().await` it.
#[derive(Debug)]
#[must_use = "call .send().await"]
pub struct Initiate {
    inner: Arc<ClientInner>,
    connector: String,
    tenant_id: Option<String>,
    redirect_url: Option<String>,
}

impl Initiate {
    /// The tenant (your customer) the connection is for. Required.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The app's page the user comes back to after authorizing (an absolute `http(s)` URL).
    /// Required.
    pub fn redirect_url(mut self, url: impl Into<String>) -> Self {
        self.redirect_url = Some(url.into());
        self
    }

    /// Starts the flow.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a connector or tenant id that cannot be sent, no tenant, or a
    /// redirect URL that is not an absolute `http(s)` URL, before anything is sent; else as
    /// any Fastn call ([`ErrorKind::InvalidResponse`] for an `auth_url` that is not `http(s)`).
    pub async fn send(self) -> Result<Initiated> {
        crate::transport::in_runtime()?;
        check_id("connector", &self.connector)?;
        let tenant = self.tenant_id.as_deref().ok_or_else(|| {
            Error::config("initiate needs .tenant_id(…): the customer the connection is for")
        })?;
        check_id("tenant_id", tenant)?;
        let redirect = self.redirect_url.as_deref().ok_or_else(|| {
            Error::config("initiate needs .redirect_url(…): the page the user comes back to")
        })?;
        match Url::parse(redirect) {
            Ok(url) if matches!(url.scheme(), "https" | "http") => {}
            _ => {
                return Err(Error::config(format!(
                    "redirect_url \"{}\" is not an absolute http(s) URL",
                    shown(redirect)
                )));
            }
        }
        let body =
            serde_json::json!({"connector": self.connector, "tenant_id": tenant, "redirect_url": redirect});
        let answer: InitiatedAnswer = self
            .inner
            .connections(Endpoint::ConnectionsInitiate, &body, Some(tenant), None, decode_initiated)
            .await?;
        let InitiatedAnswer { connection_id, auth_url, status, expires_in } = answer;
        Ok(Initiated { connection_id, auth_url, status, expires_in })
    }
}

/// `POST {base}/connections/status`; `.send().await` it.
#[derive(Debug, Clone)]
#[must_use = "call .send().await"]
pub struct StatusQuery {
    inner: Arc<ClientInner>,
    connection_id: Option<String>,
    connector: Option<String>,
    tenant_id: Option<String>,
}

impl StatusQuery {
    /// The connection, by the id [`Initiated`] gave.
    pub fn connection_id(mut self, connection_id: impl Into<String>) -> Self {
        self.connection_id = Some(connection_id.into());
        self
    }

    /// The connector, with [`tenant_id`](Self::tenant_id): the tenant's connection of it.
    pub fn connector(mut self, connector: impl Into<String>) -> Self {
        self.connector = Some(connector.into());
        self
    }

    /// The tenant, with [`connector`](Self::connector).
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Asks once.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when neither a connection id nor a connector and tenant are
    /// given, or one cannot be sent; else as any Fastn call (`is_not_connected()` when there
    /// is no such connection).
    pub async fn send(&self) -> Result<ConnectionStatus> {
        crate::transport::in_runtime()?;
        self.ask(None).await
    }

    /// Asks, paced, until the connection is authorized or ended.
    async fn until_authorized(
        &self,
        interval: Duration,
        deadline: Option<Instant>,
        last_status: &mut Option<AuthStatus>,
    ) -> Result<ConnectionStatus> {
        let mut pacing = Pacing::new(interval);
        loop {
            let answer = pacing.next(|| self.ask(deadline)).await?;
            *last_status = Some(answer.status);
            match answer.status {
                AuthStatus::Active => return Ok(answer),
                AuthStatus::Failed | AuthStatus::Expired => {
                    let message =
                        format!("the connection ended {}; connect it again", answer.status.as_str());
                    let connector_id = answer.connector.unwrap_or_else(|| "the connection".to_owned());
                    return Err(ErrorKind::Authentication { connector_id, message }.into());
                }
                AuthStatus::Inactive => {}
            }
        }
    }

    async fn ask(&self, deadline: Option<Instant>) -> Result<ConnectionStatus> {
        let mut body = Map::new();
        for (name, value) in [
            ("connection_id", &self.connection_id),
            ("connector", &self.connector),
            ("tenant_id", &self.tenant_id),
        ] {
            if let Some(value) = value {
                check_id(name, value)?;
                body.insert(name.to_owned(), Value::from(value.as_str()));
            }
        }
        if self.connection_id.is_none() && (self.connector.is_none() || self.tenant_id.is_none()) {
            return Err(Error::config(
                "a connection's status needs .connection_id(…), or .connector(…) and .tenant_id(…)",
            ));
        }
        let body = Value::Object(body);
        let tenant = self.tenant_id.as_deref();
        let answer = self
            .inner
            .connections(Endpoint::ConnectionsStatus, &body, tenant, deadline, decode_connection)
            .await?;
        Ok(answer.into())
    }
}
