//! The emulator's state: flows, connections with their credentials, scripted faults and the
//! request log. Plain data and locks; no HTTP here.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{Map, Value};

use crate::config::{AutoApprove, CredentialsShape, KeyCase, Wrapping};
use crate::faults::Fault;
use crate::key::{ConnectionBreak, ConnectionKey};
use crate::requests::RecordedRequest;
use fastn_auth::wire::{self, AuthStatus, Endpoint};

struct Flow {
    key: ConnectionKey,
    status: AuthStatus,
    error_message: Option<String>,
    started: Instant,
    polls: u32,
    /// The consent form's anti-forgery token: a decision posted without it is refused.
    csrf: String,
    /// Where the consent page sends the user after a decision (the connections API's
    /// `redirect_url`); `None` for a connect-API flow, whose page says to close it.
    return_to: Option<String>,
}

/// What the consent page shows of a pending flow.
pub(crate) struct PendingView {
    pub(crate) connector_id: String,
    /// The manifest's description of the connector, if it has one.
    pub(crate) description: Option<String>,
    pub(crate) org_id: String,
    pub(crate) tenant_id: String,
    pub(crate) state: String,
    pub(crate) csrf: String,
}

/// The limits that keep the emulator's memory flat however long it runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Flows older than this are forgotten, pending or not (an OAuth state's lifetime).
    pub(crate) flow_ttl: Duration,
    /// The request log keeps the newest this many.
    pub(crate) request_log: usize,
}

pub(crate) struct Store {
    /// What "Fastn's model" fills in for `getTools`'s top tool, by the exact prompt
    /// ([`MockServer::answer_prompt`](crate::MockServer::answer_prompt)).
    prompts: Mutex<HashMap<String, Value>>,
    /// What a manifest declares: extra fields, given a value of their type; token placement.
    pub(crate) declared: crate::generate::Declared,
    pub(crate) auto_approve: AutoApprove,
    pub(crate) shape: CredentialsShape,
    limits: Limits,
    flows: Mutex<Flows>,
    connections: Mutex<HashMap<ConnectionKey, Connection>>,
    templates: Mutex<HashMap<String, Map<String, Value>>>,
    /// Per endpoint, the faults to come, each with how many requests it has left.
    faults: Mutex<HashMap<Endpoint, VecDeque<(Fault, usize)>>>,
    any_faults: AtomicBool,
    /// The rate limit per key, when one is set (the builder, the CLI, the control API).
    rate: Mutex<Option<Arc<crate::rate::RateLimit>>>,
    log: Mutex<VecDeque<RecordedRequest>>,
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) requests_served: AtomicU64,
    /// Requests per endpoint, in [`ENDPOINTS`] order.
    served: [AtomicU64; 8],
}

/// The endpoints counted apart: Fastn's connect API, the provider API, tool calls, the
/// registry's queries and the connections API.
pub(crate) const ENDPOINTS: [Endpoint; 8] = [
    Endpoint::Init,
    Endpoint::Status,
    Endpoint::Credentials,
    Endpoint::Api,
    Endpoint::ExecuteTool,
    Endpoint::Registry,
    Endpoint::ConnectionsInitiate,
    Endpoint::ConnectionsStatus,
];

/// A completed connection: its credentials, and their answer body rendered once.
struct Connection {
    creds: Map<String, Value>,
    body: Bytes,
    /// How it is broken ([`ConnectionBreak`]), when it is.
    broken: Option<ConnectionBreak>,
}

/// Flows by state, and their states in start order for expiry.
#[derive(Default)]
struct Flows {
    by_state: HashMap<String, Flow>,
    order: VecDeque<(String, Instant)>,
}

/// Locks ignoring poisoning: a panicking test thread must not take the emulator down.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    pub(crate) fn new(
        auto_approve: AutoApprove,
        shape: CredentialsShape,
        limits: Limits,
        declared: crate::generate::Declared,
    ) -> Self {
        Store {
            declared,
            auto_approve,
            shape,
            limits,
            flows: Mutex::default(),
            prompts: Mutex::default(),
            connections: Mutex::default(),
            templates: Mutex::default(),
            faults: Mutex::default(),
            any_faults: AtomicBool::new(false),
            rate: Mutex::new(None),
            log: Mutex::default(),
            connections_accepted: AtomicU64::new(0),
            requests_served: AtomicU64::new(0),
            served: Default::default(),
        }
    }

    /// Starts a flow and returns its state. Expired flows are dropped here, oldest first,
    /// so the emulator's memory follows the flows of the last `flow_ttl`, not all time.
    pub(crate) fn start(&self, key: ConnectionKey) -> String {
        self.start_returning(key, None)
    }

    /// [`start`](Self::start), the user sent to `return_to` after the consent page.
    pub(crate) fn start_returning(&self, key: ConnectionKey, return_to: Option<String>) -> String {
        let state = crate::generate::token(32);
        let now = Instant::now();
        let flow = Flow {
            key,
            status: AuthStatus::Inactive,
            error_message: None,
            started: now,
            polls: 0,
            csrf: crate::generate::token(32),
            return_to,
        };
        let mut guard = lock(&self.flows);
        let flows = &mut *guard;
        while let Some((oldest, started)) = flows.order.front() {
            if now.duration_since(*started) < self.limits.flow_ttl {
                break;
            }
            flows.by_state.remove(oldest);
            flows.order.pop_front();
        }
        flows.order.push_back((state.clone(), now));
        flows.by_state.insert(state.clone(), flow);
        state
    }

    /// The flow `state` if it has not expired.
    fn live<'f>(&self, flows: &'f mut Flows, state: &str) -> Option<&'f mut Flow> {
        flows.by_state.get_mut(state).filter(|flow| flow.started.elapsed() < self.limits.flow_ttl)
    }

    /// A poll: the flow's status after auto-approval, or `None` for an unknown state or one
    /// of another space.
    pub(crate) fn poll(&self, space_id: &str, state: &str) -> Option<(AuthStatus, Option<String>)> {
        let mut flows = lock(&self.flows);
        let flow = self.live(&mut flows, state).filter(|flow| flow.key.space_id == space_id)?;
        flow.polls += 1;
        let due = match self.auto_approve {
            AutoApprove::Never => false,
            AutoApprove::After(delay) => flow.started.elapsed() >= delay,
            AutoApprove::AfterPolls(polls) => flow.polls >= polls,
        };
        if due && flow.status == AuthStatus::Inactive {
            flow.status = AuthStatus::Active;
            let key = flow.key.clone();
            drop(flows);
            self.store_credentials(key);
            return Some((AuthStatus::Active, None));
        }
        Some((flow.status, flow.error_message.clone()))
    }

    /// Scripts the parameters `getTools` gives its top tool for `prompt` (at most 1,000
    /// prompts are kept; the oldest are not told apart, the map is cleared past it).
    pub(crate) fn answer_prompt(&self, prompt: &str, parameters: Value) {
        let mut prompts = lock(&self.prompts);
        if prompts.len() >= 1_000 {
            prompts.clear();
        }
        prompts.insert(prompt.to_owned(), parameters);
    }

    /// The parameters scripted for `prompt`, if any.
    pub(crate) fn prompt_parameters(&self, prompt: &str) -> Option<Value> {
        lock(&self.prompts).get(prompt).cloned()
    }

    /// Sets the rate limit per key (`limit` requests per `window`, at least 1 s), or none;
    /// a new limit starts every key's window afresh.
    pub(crate) fn set_rate_limit(&self, limit: Option<(u64, Duration)>) {
        *lock(&self.rate) = limit.map(|(limit, window)| Arc::new(crate::rate::RateLimit::new(limit, window)));
    }

    /// The rate limit per key, when one is set.
    pub(crate) fn rate_limit(&self) -> Option<Arc<crate::rate::RateLimit>> {
        lock(&self.rate).clone()
    }

    /// How long a flow lives.
    pub(crate) fn flow_ttl(&self) -> Duration {
        self.limits.flow_ttl
    }

    /// The connection a live flow of `space_id` is for.
    pub(crate) fn flow_key(&self, space_id: &str, state: &str) -> Option<ConnectionKey> {
        let mut flows = lock(&self.flows);
        self.live(&mut flows, state).filter(|flow| flow.key.space_id == space_id).map(|flow| flow.key.clone())
    }

    /// Where the consent page sends the user of flow `state` after a decision.
    pub(crate) fn return_to(&self, state: &str) -> Option<String> {
        lock(&self.flows).by_state.get(state).and_then(|flow| flow.return_to.clone())
    }

    /// Whether `space_id` holds a connection of `connector_id` for `tenant_id`.
    /// The status of the tenant's connection of `connector_id`: `Expired` once
    /// [`expire`](Self::expire)d, else `Active`; `None` when there is none.
    pub(crate) fn connection_status(
        &self,
        space_id: &str,
        connector_id: &str,
        tenant_id: &str,
    ) -> Option<AuthStatus> {
        lock(&self.connections)
            .iter()
            .find(|(held, _)| {
                held.space_id == space_id && held.connector_id == connector_id && held.tenant_id == tenant_id
            })
            .map(|(_, connection)| match connection.broken {
                Some(ConnectionBreak::Expired) => AuthStatus::Expired,
                _ => AuthStatus::Active,
            })
    }

    /// Ends a pending flow; `false` when no pending flow has that state, or `csrf` is given
    /// and is not the flow's token.
    pub(crate) fn decide(&self, state: &str, csrf: Option<&str>, approve: bool, message: &str) -> bool {
        let mut flows = lock(&self.flows);
        let Some(flow) = self.live(&mut flows, state).filter(|flow| {
            flow.status == AuthStatus::Inactive && csrf.is_none_or(|token| token == flow.csrf)
        }) else {
            return false;
        };
        if approve {
            flow.status = AuthStatus::Active;
            let key = flow.key.clone();
            drop(flows);
            self.store_credentials(key);
        } else {
            flow.status = AuthStatus::Failed;
            flow.error_message = Some(message.to_owned());
        }
        true
    }

    pub(crate) fn pending_view(&self, state: &str) -> Option<PendingView> {
        let mut flows = lock(&self.flows);
        let flow = self.live(&mut flows, state).filter(|flow| flow.status == AuthStatus::Inactive)?;
        Some(PendingView {
            connector_id: flow.key.connector_id.clone(),
            description: self.declared.description(&flow.key.connector_id).map(str::to_owned),
            org_id: flow.key.org_id.clone(),
            tenant_id: flow.key.tenant_id.clone(),
            state: state.to_owned(),
            csrf: flow.csrf.clone(),
        })
    }

    fn store_credentials(&self, key: ConnectionKey) {
        let creds = lock(&self.templates)
            .get(&key.connector_id)
            .cloned()
            .unwrap_or_else(|| crate::generate::credentials(&key, &self.declared));
        let body = self.render(creds.clone());
        lock(&self.connections).insert(key, Connection { creds, body, broken: None });
    }

    pub(crate) fn set_template(&self, connector_id: &str, creds: Map<String, Value>) {
        lock(&self.templates).insert(connector_id.to_owned(), creds);
    }

    pub(crate) fn insert_connection(
        &self,
        key: ConnectionKey,
        creds: Option<Map<String, Value>>,
    ) -> Map<String, Value> {
        let creds = creds.unwrap_or_else(|| crate::generate::credentials(&key, &self.declared));
        let body = self.render(creds.clone());
        lock(&self.connections).insert(key, Connection { creds: creds.clone(), body, broken: None });
        creds
    }

    /// The answer body of a connection's credentials, rendered once in the configured shape;
    /// `Err(())` for an expired connection.
    pub(crate) fn credentials_body(&self, key: &ConnectionKey) -> Option<Result<Bytes, ()>> {
        let connections = lock(&self.connections);
        let connection = connections.get(key)?;
        match connection.broken {
            Some(ConnectionBreak::Expired | ConnectionBreak::RefreshFailed) => Some(Err(())),
            _ => Some(Ok(connection.body.clone())),
        }
    }

    /// Breaks every connection of `connector_id` and `tenant_id` as `kind` says; how many
    /// there were.
    pub(crate) fn break_connection(
        &self,
        connector_id: &str,
        tenant_id: &str,
        kind: ConnectionBreak,
    ) -> usize {
        if kind == ConnectionBreak::Deleted {
            return self.revoke(connector_id, tenant_id);
        }
        let mut connections = lock(&self.connections);
        let of_tenant = connections
            .iter_mut()
            .filter(|(key, _)| key.connector_id == connector_id && key.tenant_id == tenant_id);
        let broken = of_tenant.map(|(_, connection)| connection.broken = Some(kind)).count();
        drop(connections);
        if kind == ConnectionBreak::Expired {
            // The flows that made them answer `EXPIRED` from now on, as Fastn's statuses do.
            for flow in lock(&self.flows).by_state.values_mut() {
                if flow.status == AuthStatus::Active
                    && flow.key.connector_id == connector_id
                    && flow.key.tenant_id == tenant_id
                {
                    flow.status = AuthStatus::Expired;
                }
            }
        }
        broken
    }

    /// The connection of `connector_id` whose current token is `token` (as the manifest
    /// says the connector's API requests carry it).
    pub(crate) fn connection_with_token(&self, connector_id: &str, token: &str) -> Option<ConnectionKey> {
        let field = self.declared.token(connector_id).from_field();
        lock(&self.connections)
            .iter()
            .find(|(key, connection)| {
                key.connector_id == connector_id
                    && connection.broken != Some(ConnectionBreak::Revoked)
                    && connection
                        .creds
                        .get(field)
                        .and_then(Value::as_str)
                        .is_some_and(|held| !held.is_empty() && held == token)
            })
            .map(|(key, _)| key.clone())
    }

    /// Gives every connection of `connector_id` and `tenant_id` a new token (the field the
    /// manifest's API token comes from, and the access token); how many there were.
    pub(crate) fn rotate_token(&self, connector_id: &str, tenant_id: &str) -> usize {
        let field = self.declared.token(connector_id).from_field().to_owned();
        let mut connections = lock(&self.connections);
        let mut rotated = 0;
        for (key, connection) in connections.iter_mut() {
            if key.connector_id == connector_id && key.tenant_id == tenant_id {
                for name in ["access_token", field.as_str()] {
                    connection.creds.insert(
                        name.to_owned(),
                        Value::String(format!("mock-rotated-{}", crate::generate::token(32))),
                    );
                }
                connection.body = self.render(connection.creds.clone());
                rotated += 1;
            }
        }
        rotated
    }

    /// Whether `tenant_id` has a connection of the connector whose registry key is
    /// `registry_key` (`connection_id` that one, when not empty).
    /// The connection a tool call of registry connector `key` runs on: `None` when there is
    /// none, else how it is broken, if it is.
    pub(crate) fn tool_connection(
        &self,
        key: &str,
        tenant_id: &str,
        connection_id: &str,
    ) -> Option<Option<ConnectionBreak>> {
        lock(&self.connections)
            .iter()
            .find(|(held, _)| {
                fastn_auth_rules::registry::registry_key(&held.connector_id) == key
                    && held.tenant_id == tenant_id
                    && (connection_id.is_empty() || held.connection_id == connection_id)
            })
            .map(|(_, connection)| connection.broken)
    }

    /// Removes every connection of `connector_id` and `tenant_id`: their tokens are refused
    /// and their credentials are not found; how many there were.
    pub(crate) fn revoke(&self, connector_id: &str, tenant_id: &str) -> usize {
        let mut connections = lock(&self.connections);
        let before = connections.len();
        connections.retain(|key, _| !(key.connector_id == connector_id && key.tenant_id == tenant_id));
        before - connections.len()
    }

    /// Counts a request to `endpoint`.
    pub(crate) fn count(&self, endpoint: Endpoint) {
        if let Some(at) = ENDPOINTS.iter().position(|e| *e == endpoint) {
            self.served[at].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The requests to `endpoint` so far.
    pub(crate) fn served(&self, endpoint: Endpoint) -> u64 {
        ENDPOINTS.iter().position(|e| *e == endpoint).map_or(0, |at| self.served[at].load(Ordering::Relaxed))
    }

    fn render(&self, creds: Map<String, Value>) -> Bytes {
        let creds: Map<String, Value> = match self.shape.keys {
            KeyCase::Snake => creds,
            KeyCase::Camel => creds
                .into_iter()
                .map(|(key, value)| {
                    let camel = wire::COMMON_FIELDS.iter().find(|(snake, _)| *snake == key);
                    (camel.map_or(key, |(_, camel)| (*camel).to_owned()), value)
                })
                .collect(),
        };
        let body = match self.shape.wrapping {
            Wrapping::Envelope => serde_json::json!({ "success": true, "credentials": creds }),
            Wrapping::Bare => Value::Object(creds),
        };
        Bytes::from(body.to_string())
    }

    pub(crate) fn inject(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        let mut faults = lock(&self.faults);
        // One entry with a count: `times` costs nothing, whatever it is.
        if times > 0 {
            faults.entry(endpoint).or_default().push_back((fault, times));
        }
        self.any_faults.store(true, Ordering::Release);
    }

    pub(crate) fn next_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        if !self.any_faults.load(Ordering::Acquire) {
            return None;
        }
        let mut faults = lock(&self.faults);
        let queue = faults.get_mut(&endpoint)?;
        let (fault, left) = queue.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        if faults.values().all(VecDeque::is_empty) {
            self.any_faults.store(false, Ordering::Release);
        }
        Some(fault)
    }

    /// Logs a request, keeping the newest `request_log` (none when 0).
    /// Forgets every scripted fault.
    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
        self.any_faults.store(false, Ordering::Release);
    }

    /// Back to a just-started emulator: no flows, connections, fixed credentials, faults or
    /// logged requests (the counters keep counting).
    pub(crate) fn reset(&self) {
        *lock(&self.flows) = Flows::default();
        lock(&self.connections).clear();
        lock(&self.templates).clear();
        self.clear_faults();
        self.clear_requests();
    }

    pub(crate) fn record(&self, request: impl FnOnce() -> RecordedRequest) {
        if self.limits.request_log == 0 {
            return;
        }
        let mut log = lock(&self.log);
        if log.len() == self.limits.request_log {
            log.pop_front();
        }
        log.push_back(request());
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// The counters, as `GET /_emulator/stats` answers them.
    pub(crate) fn stats(&self) -> Value {
        serde_json::json!({
            "connections_accepted": self.connections_accepted.load(Ordering::Relaxed),
            "requests_served": self.requests_served.load(Ordering::Relaxed),
            "requests_to": ENDPOINTS
                .iter()
                .map(|endpoint| (endpoint.verb().to_owned(), Value::from(self.served(*endpoint))))
                .collect::<Map<String, Value>>(),
            "pending_flows": self.pending_flows(),
            "flows_held": self.flows_held(),
        })
    }

    pub(crate) fn pending_flows(&self) -> usize {
        let ttl = self.limits.flow_ttl;
        let flows = lock(&self.flows);
        flows
            .by_state
            .values()
            .filter(|f| f.status == AuthStatus::Inactive && f.started.elapsed() < ttl)
            .count()
    }

    /// How many flows are held in memory, expired ones not yet dropped included.
    pub(crate) fn flows_held(&self) -> usize {
        lock(&self.flows).by_state.len()
    }
}
