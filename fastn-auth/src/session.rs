//! A started flow: its handle, status polling and `wait_for_completion`.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use tokio::time::Instant;
use url::Url;

use crate::cache::Freshness;
use crate::connector::{Connector, Untyped};
use crate::credentials::Credentials;
use crate::error::{Error, ErrorKind, Result};
use crate::inner::ClientInner;
use crate::jitter::jitter;
use crate::target::Target;
use crate::transport::RetryPolicy;
use crate::wire::{AuthStatus, InitAnswer};

/// One answer of the status endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusResponse {
    /// The flow's status.
    pub status: AuthStatus,
    /// Why the flow failed, when the server says (sanitised).
    pub error_message: Option<String>,
}

/// How `wait_for_completion` polls. Default: every 2 s for up to 300 s, as the official
/// client. `Duration::MAX` as the timeout waits without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollOptions {
    /// Time between polls; each wait is jittered by ±10 % so that many sessions spread out.
    /// Must be greater than zero.
    pub interval: Duration,
    /// The whole wait, credentials fetch included; `ErrorKind::Timeout` once it has passed.
    pub timeout: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions { interval: Duration::from_secs(2), timeout: Duration::from_secs(300) }
    }
}

impl PollOptions {
    /// Polls every `interval` for up to `timeout`.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        PollOptions { interval, timeout }
    }
}

/// Everything needed to continue a flow elsewhere: serialize it into your session store,
/// then [`FastnAuth::resume`](crate::FastnAuth::resume) it in another request or process.
/// Holds no secret.
///
/// Its JSON is `{"connector_id", "org_id", "tenant_id"?, "connection_id"?, "state",
/// "redirect_url"?}`; handles stored by earlier versions, with `""` for absent values,
/// still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionHandle {
    #[serde(flatten)]
    target: Target,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    redirect_url: Option<Url>,
}

fn empty_as_none<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Option<Url>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => Url::parse(&text).map(Some).map_err(serde::de::Error::custom),
    }
}

impl SessionHandle {
    pub(crate) fn started(target: Target, init: InitAnswer) -> Self {
        SessionHandle { target, state: init.state, redirect_url: init.redirect_url }
    }

    /// The handle of the flow `state` of `connector_id`, for when only the state was kept
    /// (a tool given it on its command line): in the default org, with no tenant or
    /// connection until [`with_tenant_id`](Self::with_tenant_id) and
    /// [`with_connection_id`](Self::with_connection_id) say which it was started for —
    /// polls must send the same. Ids are checked when a call sends them.
    pub fn new(connector_id: impl Into<String>, state: impl Into<String>) -> Self {
        let target = Target {
            connector_id: connector_id.into(),
            org_id: crate::wire::DEFAULT_ORG_ID.to_owned(),
            tenant_id: None,
            connection_id: None,
        };
        SessionHandle { target, state: state.into(), redirect_url: None }
    }

    /// The handle with the flow's org.
    #[must_use]
    pub fn with_org_id(mut self, org_id: impl Into<String>) -> Self {
        self.target.org_id = org_id.into();
        self
    }

    /// The handle with the tenant the flow was started for.
    #[must_use]
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.target.tenant_id = Some(tenant_id.into());
        self
    }

    /// The handle with the connection the flow was started for.
    #[must_use]
    pub fn with_connection_id(mut self, connection_id: impl Into<String>) -> Self {
        self.target.connection_id = Some(connection_id.into());
        self
    }

    /// The flow's state: its session id and OAuth state key.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The connector id.
    pub fn connector_id(&self) -> &str {
        &self.target.connector_id
    }

    /// The org the flow runs in.
    pub fn org_id(&self) -> &str {
        &self.target.org_id
    }

    /// The tenant id, if the flow has one.
    pub fn tenant_id(&self) -> Option<&str> {
        self.target.tenant_id.as_deref()
    }

    /// The connection id, if the flow has one.
    pub fn connection_id(&self) -> Option<&str> {
        self.target.connection_id.as_deref()
    }

    /// Where the user goes to authorize, if the server gave a URL.
    pub fn redirect_url(&self) -> Option<&Url> {
        self.redirect_url.as_ref()
    }
}

/// A started flow: send the user to [`redirect_url`](Self::redirect_url), then
/// [`wait_for_completion`](Self::wait_for_completion).
///
/// `C` is the connector type generated by [`connectors!`](crate::connectors), which types the
/// credentials' `extra`; [`Untyped`] (the default) keeps them as a JSON map.
#[must_use = "a flow does nothing until you send the user to its redirect URL and wait for it"]
pub struct AuthSession<C: Connector = Untyped> {
    inner: Arc<ClientInner>,
    handle: SessionHandle,
    connector: PhantomData<fn() -> C>,
}

impl<C: Connector> Clone for AuthSession<C> {
    fn clone(&self) -> Self {
        AuthSession::new(self.inner.clone(), self.handle.clone())
    }
}

impl<C: Connector> std::fmt::Debug for AuthSession<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSession").field("handle", &self.handle).finish_non_exhaustive()
    }
}

impl<C: Connector> AuthSession<C> {
    pub(crate) fn new(inner: Arc<ClientInner>, handle: SessionHandle) -> Self {
        AuthSession { inner, handle, connector: PhantomData }
    }

    /// The session id (the flow's state, as the official client).
    pub fn id(&self) -> &str {
        self.handle.state()
    }

    /// The OAuth state key (the same value as [`id`](Self::id)).
    pub fn state_key(&self) -> &str {
        self.handle.state()
    }

    /// Where to send the user to authorize, if the server gave a URL (it does for OAuth
    /// connectors).
    pub fn redirect_url(&self) -> Option<&Url> {
        self.handle.redirect_url()
    }

    /// The serializable handle to continue this flow elsewhere.
    pub fn handle(&self) -> &SessionHandle {
        &self.handle
    }

    /// Asks once where the flow stands. Not retried beyond a stale pooled connection: use
    /// [`wait_for_completion`](Self::wait_for_completion) to ride out transient faults.
    pub async fn get_status(&self) -> Result<StatusResponse> {
        crate::transport::in_runtime()?;
        let answer = self.inner.status(&self.handle.state, &self.handle.target, None).await?;
        Ok(StatusResponse { status: answer.status, error_message: answer.error_message })
    }

    /// Fetches the connection's credentials (after the flow is `ACTIVE`); from the
    /// client's cache when it has one and holds them.
    pub async fn get_credentials(&self) -> Result<Credentials<C::Extra>> {
        crate::transport::in_runtime()?;
        self.inner.credentials(self.handle.target.key(), None, Freshness::Any).await
    }

    /// Polls until the flow is `ACTIVE`, then fetches and returns its credentials (seeding
    /// the client's cache, when it has one); a flow that ends `FAILED` or `EXPIRED` is
    /// [`ErrorKind::Authentication`](crate::ErrorKind::Authentication) (`needs_reconnect()`).
    ///
    /// Transient faults (connection errors, timeouts, 408/425/429/5xx) do not end the wait:
    /// polling backs off (honouring `Retry-After`, never faster than the interval) and
    /// continues. The whole call, the credentials fetch included, returns by
    /// `options.timeout`; dropping the future cancels everything.
    ///
    /// # Errors
    /// [`ErrorKind::Authentication`](crate::ErrorKind::Authentication) when the flow failed, [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) when the timeout
    /// passed, [`ErrorKind::Network`](crate::ErrorKind::Network) for a non-transient HTTP error (401, 403, 404, …),
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) for an answer that cannot be read, [`ErrorKind::Config`](crate::ErrorKind::Config) for
    /// a zero interval.
    pub async fn wait_for_completion(&self, options: PollOptions) -> Result<Credentials<C::Extra>> {
        let key = self.handle.target.key();
        self.wait_then(options, |deadline| self.inner.credentials(key, deadline, Freshness::Newer)).await
    }

    /// Polls as [`wait_for_completion`](Self::wait_for_completion) does until the flow is
    /// `ACTIVE`, and fetches nothing: for a process that only needs to know the tenant is
    /// connected (it never holds the provider's token).
    ///
    /// # Errors
    /// As [`wait_for_completion`](Self::wait_for_completion).
    pub async fn wait_until_connected(&self, options: PollOptions) -> Result<()> {
        self.wait_then(options, |_| std::future::ready(Ok(()))).await
    }

    /// The status wait of both public waits, then `finish` with the wait's deadline, all
    /// within `options.timeout`.
    async fn wait_then<'s, T, F>(
        &'s self,
        options: PollOptions,
        finish: impl FnOnce(Option<Instant>) -> F,
    ) -> Result<T>
    where
        F: Future<Output = Result<T>> + 's,
    {
        crate::transport::in_runtime()?;
        if options.interval.is_zero() {
            return Err(Error::config("PollOptions::interval must be greater than zero"));
        }
        let span = tracing::info_span!(
            "fastn_auth.wait_for_completion",
            connector = %self.handle.target.connector_id,
            org = %self.handle.target.org_id,
            state = %self.handle.state,
        );
        // `None`: the timeout is too far away to be a deadline (`Duration::MAX`).
        let deadline = Instant::now().checked_add(options.timeout);
        let mut last_status = None;
        let work = async {
            self.poll(options.interval, deadline, &mut last_status).await?;
            finish(deadline).await
        };
        let work = tracing::Instrument::instrument(work, span);
        let outcome = by_deadline(deadline, work).await;
        outcome.unwrap_or_else(|| Err(ErrorKind::Timeout { timeout: options.timeout, last_status }.into()))
    }

    /// Polls the status until `ACTIVE` (`Ok`), `FAILED` or `EXPIRED` ([`ErrorKind::Authentication`](crate::ErrorKind::Authentication)).
    async fn poll(
        &self,
        interval: Duration,
        deadline: Option<Instant>,
        last_status: &mut Option<AuthStatus>,
    ) -> Result<()> {
        let mut poller = StatusPoller { session: self, deadline, pacing: Pacing::new(interval) };
        loop {
            let answer = poller.next().await?;
            *last_status = Some(answer.status);
            match answer.status {
                AuthStatus::Active => return Ok(()),
                AuthStatus::Failed | AuthStatus::Expired => {
                    let ended = if answer.status == AuthStatus::Expired {
                        "the connection expired; connect it again"
                    } else {
                        "authentication failed"
                    };
                    return Err(ErrorKind::Authentication {
                        connector_id: self.handle.target.connector_id.clone(),
                        message: answer.error_message.unwrap_or_else(|| ended.to_owned()),
                    }
                    .into());
                }
                AuthStatus::Inactive => {}
            }
        }
    }

    /// The flow's statuses, one poll at a time, paced as
    /// [`wait_for_completion`](Self::wait_for_completion) paces them: for a watcher that
    /// shows every status (a web page's progress), not only the end.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a zero interval.
    pub fn poller(&self, interval: Duration) -> Result<StatusPoller<'_, C>> {
        if interval.is_zero() {
            return Err(Error::config("the poll interval must be greater than zero"));
        }
        Ok(StatusPoller { session: self, deadline: None, pacing: Pacing::new(interval) })
    }
}

/// A flow's status polls, paced: made by [`AuthSession::poller`]. The one status wait of
/// the SDK: [`AuthSession::wait_for_completion`] and
/// [`wait_until_connected`](AuthSession::wait_until_connected) run on it, and so do the
/// web router's and the MCP server's waits.
#[derive(Debug)]
pub struct StatusPoller<'s, C: Connector = Untyped> {
    session: &'s AuthSession<C>,
    /// The end of the wait, for each request's own deadline.
    deadline: Option<Instant>,
    pacing: Pacing,
}

/// The pace of a status wait: the interval (±10 %) after an answer; after a transient
/// fault a back-off that honours `Retry-After` and is never shorter than the interval. The
/// one pace of every status wait (a flow's, a connection's).
#[derive(Debug)]
pub(crate) struct Pacing {
    interval: Duration,
    /// What to wait before the next ask: none before the first.
    pause: Option<Duration>,
    /// Transient failures in a row.
    failures: u32,
}

impl Pacing {
    pub(crate) fn new(interval: Duration) -> Self {
        Pacing { interval, pause: None, failures: 0 }
    }

    /// `ask`'s next answer, paced; transient faults are logged and asked again, never
    /// returned.
    pub(crate) async fn next<T, F>(&mut self, mut ask: impl FnMut() -> F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        loop {
            if let Some(pause) = self.pause.take() {
                tokio::time::sleep(pause).await;
            }
            match ask().await {
                Ok(answer) => {
                    self.failures = 0;
                    self.pause = Some(jittered(self.interval));
                    return Ok(answer);
                }
                Err(err) if err.is_transient() => {
                    self.failures = self.failures.saturating_add(1);
                    // Past the cap the server asked for more than any call may wait: the
                    // wait's own deadline decides, asking at the cap meanwhile.
                    let backoff = RetryPolicy::delay(self.failures - 1, err.retry_after())
                        .unwrap_or(crate::transport::MAX_RETRY_DELAY);
                    let pause = backoff.max(self.interval);
                    tracing::warn!(error = %err, failures = self.failures, ?pause, "status poll failed; polling on");
                    self.pause = Some(pause);
                }
                Err(err) => return Err(err),
            }
        }
    }
}

impl<C: Connector> StatusPoller<'_, C> {
    /// The next status: after the interval (±10 %) since the last answer, or, after a
    /// transient fault (connection errors, timeouts, 408/425/429/5xx), after a back-off
    /// that honours `Retry-After` and is never shorter than the interval — such faults are
    /// logged and polled through, never returned.
    ///
    /// # Errors
    /// A non-transient error of the status request (401, 403, 404, an unreadable answer).
    pub async fn next(&mut self) -> Result<StatusResponse> {
        crate::transport::in_runtime()?;
        let (session, deadline) = (self.session, self.deadline);
        let ask = || session.inner.status(&session.handle.state, &session.handle.target, deadline);
        let answer = self.pacing.next(ask).await?;
        Ok(StatusResponse { status: answer.status, error_message: answer.error_message })
    }
}

/// `work`'s outcome, or `None` when the wait's `deadline` ended it: it passed first, or a
/// request was cut by it (which is the wait timing out, not a failed request).
pub(crate) async fn by_deadline<T>(
    deadline: Option<Instant>,
    work: impl Future<Output = Result<T>>,
) -> Option<Result<T>> {
    let outcome = match deadline {
        Some(at) => tokio::time::timeout_at(at, work).await.ok()?,
        None => work.await,
    };
    match outcome {
        Err(err) if err.is_timeout() && deadline.is_some_and(|at| Instant::now() >= at) => None,
        outcome => Some(outcome),
    }
}

/// `interval` ± 10 %, so that sessions started together do not poll in lockstep; never
/// overflows.
fn jittered(interval: Duration) -> Duration {
    let tenth = interval / 10;
    interval.saturating_sub(tenth).saturating_add(jitter(tenth.saturating_mul(2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_made_from_a_state_reads_back_as_written() {
        let handle = SessionHandle::new("slack", "s1").with_tenant_id("acme").with_connection_id("c1");
        assert_eq!((handle.connector_id(), handle.state()), ("slack", "s1"));
        assert_eq!((handle.tenant_id(), handle.connection_id()), (Some("acme"), Some("c1")));
        assert_eq!(handle.org_id(), crate::wire::DEFAULT_ORG_ID);
        let json = serde_json::to_string(&handle).unwrap();
        assert_eq!(serde_json::from_str::<SessionHandle>(&json).unwrap(), handle);
        assert_eq!(SessionHandle::new("slack", "s1").with_org_id("acme").org_id(), "acme");
    }

    #[test]
    fn polls_spread_within_ten_percent_without_overflow() {
        let interval = Duration::from_secs(1);
        let waits: Vec<Duration> = (0..200).map(|_| jittered(interval)).collect();
        assert!(waits.iter().all(|w| *w >= interval.mul_f64(0.9) && *w <= interval.mul_f64(1.1)));
        let (min, max) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*max - *min > Duration::from_millis(100), "spread {min:?}..{max:?}");
        assert!(jittered(Duration::MAX) >= Duration::MAX.mul_f64(0.89));
    }

    #[test]
    fn handles_round_trip_and_read_the_old_format() {
        let target = Target {
            connector_id: "slack".into(),
            org_id: "community".into(),
            tenant_id: Some("acme".into()),
            connection_id: None,
        };
        let init = InitAnswer { state: "abc".into(), redirect_url: Some(Url::parse("https://x/y").unwrap()) };
        let handle = SessionHandle::started(target, init);
        let json = serde_json::to_string(&handle).unwrap();
        assert_eq!(
            json,
            r#"{"connector_id":"slack","org_id":"community","tenant_id":"acme","state":"abc","redirect_url":"https://x/y"}"#
        );
        assert_eq!(serde_json::from_str::<SessionHandle>(&json).unwrap(), handle);
        let old = r#"{"connector_id":"slack","org_id":"community","tenant_id":"","connection_id":"","state":"abc","redirect_url":""}"#;
        let old: SessionHandle = serde_json::from_str(old).unwrap();
        assert_eq!((old.tenant_id(), old.connection_id(), old.redirect_url()), (None, None, None));
    }
}
