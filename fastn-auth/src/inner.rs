//! The client's shared core: the Fastn calls with their budgets, on one transport.
//! Sessions and requests reach the transport through here, never through the client.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::cache::{Cache, Freshness};
use crate::credentials::{Credentials, Extra};
use crate::error::Result;
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use crate::health::{Board, ConnectionEvent, EventKind, Fleet, Learned};
use crate::provider::Providers;
use crate::target::Scope;
use crate::target::{Key, Target};
use crate::transport::{self, Budget, Outgoing, Resend, Transport};
use crate::wire::{self, Endpoint, InitAnswer, Route, StatusAnswer};

/// What every clone of a client shares.
#[derive(Debug)]
pub(crate) struct ClientInner {
    pub(crate) transport: Transport,
    /// The credentials cache: of every credentials request when the client was built with
    /// one (`caches_credentials`), else of API calls only.
    pub(crate) cache: Cache,
    pub(crate) caches_credentials: bool,
    pub(crate) providers: Providers,
    /// The space, as given.
    pub(crate) space_id: String,
    pub(crate) tools: ToolSettings,
    /// What calls learned of each connection's health.
    pub(crate) health: Board,
    /// The replicas sharing the store, when there is one: health changes go both ways.
    pub(crate) fleet: Option<Arc<Fleet>>,
    /// This client, for the task that takes in the fleet's changes.
    pub(crate) me: Weak<ClientInner>,
}

/// What every `executeTool` call of a client sends besides the call's own fields.
#[derive(Debug)]
pub(crate) struct ToolSettings {
    /// `{base}/ucl/executeTool`, made once.
    pub(crate) execute_url: url::Url,
    pub(crate) agent_id: String,
    pub(crate) stage: HeaderValue,
}

impl ToolSettings {
    pub(crate) fn new(transport: &Transport, agent_id: String, stage: &str) -> crate::Result<Self> {
        let execute_url = transport.url_of(["ucl", "executeTool"])?;
        let stage = transport::header_value("stage", Some(stage))?;
        Ok(ToolSettings { execute_url, agent_id, stage })
    }
}

impl ClientInner {
    fn budget(&self, deadline: Option<Instant>) -> Budget {
        Budget { retries: self.transport.retry.max_retries, deadline }
    }

    /// `POST /connect/init/{org}/{connector}`, retried like any call: a duplicate flow is
    /// harmless, the user only ever sees the last redirect URL.
    pub(crate) async fn init(&self, target: &Target) -> Result<InitAnswer> {
        let route = Route::Init { org: &target.org_id, connector: &target.connector_id };
        self.transport.call(route, target.scope(), self.budget(None), wire::decode_init).await
    }

    /// One status poll of the flow `state` of `target`: no retries beyond the
    /// fresh-connection one, since the poll loop has its own pauses; ends by `deadline`.
    /// An `ACTIVE` answer makes the cache forget a remembered "not connected" of the
    /// connection, so the next call sees it at once.
    pub(crate) async fn status(
        &self,
        state: &str,
        target: &Target,
        deadline: Option<Instant>,
    ) -> Result<StatusAnswer> {
        let budget = Budget { retries: 0, deadline };
        crate::telemetry::poll();
        let route = Route::Status { state };
        let mut answer = self.transport.call(route, target.scope(), budget, wire::decode_status).await?;
        answer.error_message = answer.error_message.map(|said| self.transport.scrub(said));
        match answer.status {
            wire::AuthStatus::Active => {
                self.cache.connected(target);
                self.learn(target.key(), Learned::Connected);
            }
            wire::AuthStatus::Expired => {
                self.learn(target.key(), Learned::Broken(crate::health::BreakReason::Expired, None));
            }
            _ => {}
        }
        Ok(answer)
    }

    /// Records what a call learned of `key`'s health; a connection that broke, went or was
    /// mended loses its cached answer (a token that no longer works, or a stale one).
    pub(crate) fn learn(&self, key: Key<'_>, learned: Learned) -> Option<ConnectionEvent> {
        let event = self.health.learned(key, learned)?;
        self.cache.forget(key);
        self.health.tell(&event);
        if let (Some(fleet), Ok(runtime)) = (&self.fleet, tokio::runtime::Handle::try_current()) {
            // Told to the other replicas in the background: the call is not held for it.
            let (fleet, shared, state_key) = (fleet.clone(), event.clone(), self.cache.health_key(key));
            runtime.spawn(async move { fleet.publish(&shared, &state_key).await });
        }
        Some(event)
    }

    /// A change another replica saw, taken in: recorded, and told to this process's
    /// subscribers when `tell` (a change as it happens, not one read back from the store).
    fn take_in(&self, key: Key<'_>, kind: EventKind, at: SystemTime, tell: bool) {
        if let Some(event) = self.health.apply_remote(key, kind, at) {
            self.cache.forget(key);
            if tell {
                self.health.tell(&event);
            }
        }
    }

    /// Starts taking in the fleet's changes, once (a no-op without a shared store, or
    /// outside a runtime: a later call starts it).
    pub(crate) fn listen(&self) {
        let Some(fleet) = &self.fleet else { return };
        let me = self.me.clone();
        fleet.listen(move |target, kind, at| {
            let Some(inner) = me.upgrade() else { return false };
            inner.take_in(target.key(), kind, at, true);
            true
        });
    }

    /// Before a connection's first fetch in this process: the state another replica stored
    /// for it, so a broken one is known broken here too (no event: the change was told when
    /// it happened; `health()` shows it).
    async fn catch_up(&self, key: Key<'_>) {
        let Some(fleet) = &self.fleet else { return };
        self.listen();
        if self.health.knows(key) {
            return;
        }
        if let Some((_, kind, at)) = fleet.stored(&self.cache.health_key(key)).await {
            self.take_in(key, kind, at, false);
        }
    }

    /// The connection `key` worked (the provider, or Fastn for it, accepted the call): a
    /// broken one is mended. Takes no lock while nothing is broken.
    pub(crate) fn accepted(&self, key: Key<'_>) {
        if self.health.any_broken() {
            self.learn(key, Learned::Accepted);
        }
    }

    /// What a failed call for `key` tells of its health, recorded.
    pub(crate) fn learn_from(&self, key: Key<'_>, err: &crate::Error) {
        if let Some(learned) = Learned::from_error(err) {
            self.learn(key, learned);
        }
    }

    /// Whether a call for `key` may go on: refused at once while the connection is broken
    /// and no probe is due (its cached answer dropped, so that hits stop too).
    fn gate(&self, key: Key<'_>) -> Result<()> {
        self.health.gate(key).inspect_err(|_| self.cache.forget(key))
    }

    /// What the client's own cache answers for `key` at once, when it caches credentials
    /// requests and holds an answer (or a remembered "not connected"): nothing awaited.
    pub(crate) fn hit<E: Extra>(&self, key: Key<'_>, freshness: Freshness) -> Option<Result<Credentials<E>>> {
        if !self.caches_credentials {
            return None;
        }
        let settled = self.cache.settled(key, freshness)?;
        Some(settled.map(|(credentials, _)| credentials))
    }

    /// `GET /connect/credentials/{org}/{connector}`, through the cache when there is one.
    pub(crate) async fn credentials<E: Extra>(
        &self,
        key: Key<'_>,
        deadline: Option<Instant>,
        freshness: Freshness,
    ) -> Result<Credentials<E>> {
        if !self.caches_credentials {
            self.gate(key)?;
            // Boxed, like the cache's slow path: a request's future is not moved in kilobytes.
            return Box::pin(self.fetch(key, deadline)).await;
        }
        self.cached(key, deadline, freshness).await.map(|(credentials, _)| credentials)
    }

    /// The credentials of `key` through the cache, with their generation; what API calls
    /// use whether or not the client caches its credentials requests.
    pub(crate) async fn cached<E: Extra>(
        &self,
        key: Key<'_>,
        deadline: Option<Instant>,
        freshness: Freshness,
    ) -> Result<(Credentials<E>, u64)> {
        // A hit needs no deadline (nothing is awaited) and no check of the ids: the cache
        // holds only connections whose ids passed the check below, so it never answers what
        // a request could not have asked.
        if let Some(settled) = self.cache.settled(key, freshness) {
            return settled;
        }
        Transport::check_ids(credentials_route(key), key.scope())?;
        // The wait and the fetch make a future of kilobytes (the whole fetch path), boxed so
        // that a hit's future, which every caller moves, stays small.
        Box::pin(self.waited(key, deadline, freshness)).await
    }

    /// [`cached`](Self::cached) past a hit: wait for another caller's fetch or lead one,
    /// within the deadline.
    async fn waited<E: Extra>(
        &self,
        key: Key<'_>,
        deadline: Option<Instant>,
        freshness: Freshness,
    ) -> Result<(Credentials<E>, u64)> {
        self.catch_up(key).await;
        self.gate(key)?;
        // Waiting on another caller's fetch counts against this call's deadline too.
        let started = Instant::now();
        let deadline = self.transport.call_deadline(deadline);
        let cached =
            self.cache.get(key, freshness, deadline, || self.fetch::<Map<String, Value>>(key, deadline));
        match deadline {
            None => cached.await,
            Some(at) => tokio::time::timeout_at(at, cached).await.unwrap_or_else(|_| {
                Err(self.transport.deadline_error(credentials_route(key), key.scope(), at - started))
            }),
        }
    }

    /// `GET /connect/credentials/{org}/{connector}` itself.
    async fn fetch<E: Extra>(&self, key: Key<'_>, deadline: Option<Instant>) -> Result<Credentials<E>> {
        let decode = |body: &[u8]| Credentials::from_answer(key.connector_id, body);
        let fetched =
            self.transport.call(credentials_route(key), key.scope(), self.budget(deadline), decode).await;
        match &fetched {
            Ok(_) => {
                self.learn(key, Learned::Served);
            }
            Err(err) => self.learn_from(key, err),
        }
        fetched
    }

    /// One query of Fastn's GraphQL API asked as `space`: its `data`, or the first of its
    /// `errors`; retried as a read, bodies up to `max_body` bytes.
    pub(crate) async fn graphql(
        &self,
        query: &str,
        variables: Value,
        space: &str,
        max_body: usize,
    ) -> Result<Value> {
        let mut headers = HeaderMap::with_capacity(1);
        headers
            .insert(HeaderName::from_static(wire::SPACE_ID), transport::header_value("space", Some(space))?);
        let body = json!({"query": query, "variables": variables});
        let post = Post {
            endpoint: Endpoint::Registry,
            url: self.transport.url_of(["graphql"])?,
            headers,
            max_body,
        };
        self.post_json(post, &body, Scope::default(), None, wire::decode_graphql).await
    }

    /// `POST {base}/ucl/getTools` with `prompt`: the tools Fastn ranks for it, best first (a
    /// read, retried as one).
    pub(crate) async fn find_tools(&self, prompt: &str, limit: usize) -> Result<Vec<wire::tools::FoundTool>> {
        let body = json!({"input": {"prompt": prompt, "limit": limit, "agentId": self.tools.agent_id}});
        let post = Post {
            endpoint: Endpoint::ExecuteTool,
            url: self.transport.url_of(["ucl", "getTools"])?,
            headers: HeaderMap::new(),
            max_body: transport::MAX_BODY_BYTES,
        };
        self.post_json(post, &body, Scope::default(), None, wire::tools::decode_found).await
    }

    /// `POST {base}/connections/{verb}` with `body` (the connections API), retried as the
    /// connect API's calls are (a repeated `initiate` only makes a flow the user never sees).
    pub(crate) async fn connections<T>(
        &self,
        endpoint: Endpoint,
        body: &Value,
        tenant_id: Option<&str>,
        deadline: Option<Instant>,
        decode: fn(&[u8]) -> std::result::Result<T, wire::DecodeError>,
    ) -> Result<T> {
        let url = self.transport.url_of(["connections", endpoint.verb_path()])?;
        let post = Post { endpoint, url, headers: HeaderMap::new(), max_body: transport::MAX_BODY_BYTES };
        let scope = Scope { tenant_id, connection_id: None };
        self.post_json(post, body, scope, deadline, decode).await
    }

    /// `body` as JSON to `post.url`, retried on any transient fault (a read, or a call
    /// harmless to repeat).
    async fn post_json<T>(
        &self,
        post: Post,
        body: &Value,
        scope: Scope<'_>,
        deadline: Option<Instant>,
        decode: fn(&[u8]) -> std::result::Result<T, wire::DecodeError>,
    ) -> Result<T> {
        let body = serde_json::to_vec(body)
            .map_err(|err| crate::Error::config(format!("the request cannot be serialized: {err}")))?;
        let outgoing = Outgoing {
            endpoint: post.endpoint,
            url: post.url,
            scope,
            headers: post.headers,
            body: Some(body.into()),
            resend: Resend::OnTransient,
            max_body: post.max_body,
        };
        self.transport.send(&outgoing, self.budget(deadline), decode).await
    }
}

/// Where [`ClientInner::post_json`] sends, and what it reads back.
struct Post {
    endpoint: Endpoint,
    url: url::Url,
    headers: HeaderMap,
    max_body: usize,
}

fn credentials_route(key: Key<'_>) -> Route<'_> {
    Route::Credentials { org: key.org_id, connector: key.connector_id }
}
