//! Where the router keeps a flow between the request that starts it and those that follow
//! it: the [`HandleStore`] trait and [`MemoryHandles`], one process's memory.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use fastn_auth::SessionHandle;
use serde::{Deserialize, Serialize};

/// A flow in progress: whose it is, how to resume it, and until when it may be followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// The tenant that started it; no other tenant is shown it.
    pub tenant_id: String,
    /// What resumes it on any replica.
    pub handle: SessionHandle,
    /// The flow's deadline: its event streams end then, and its record may be dropped.
    pub expires_at: SystemTime,
}

/// A handle store operation that failed (the store is unreachable or answered nonsense).
/// Its message reaches logs and HTTP answers: never a value or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleError(String);

impl HandleError {
    /// An error saying what failed.
    pub fn new(message: impl Into<String>) -> Self {
        HandleError(message.into())
    }
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow handle store: {}", self.0)
    }
}

impl std::error::Error for HandleError {}

/// What a store operation returns.
pub type HandleFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, HandleError>> + Send + 'a>>;

/// Keeps flow records by their `state`, each until its ttl runs out. Implement it for your
/// own store; [`MemoryHandles`] serves one process, `RedisHandles` (feature `redis`) a fleet.
pub trait HandleStore: Send + Sync + 'static {
    /// Stores `record` under `state` for `ttl`.
    fn put<'a>(&'a self, state: &'a str, record: &'a FlowRecord, ttl: Duration) -> HandleFuture<'a, ()>;

    /// The record under `state`, if it is there and has not expired.
    fn get<'a>(&'a self, state: &'a str) -> HandleFuture<'a, Option<FlowRecord>>;
}

/// The default number of flows [`MemoryHandles`] keeps.
pub const DEFAULT_MEMORY_FLOWS: usize = 10_000;
/// The default number of one tenant's flows [`MemoryHandles`] keeps (as many as the
/// router lets a tenant have pending).
pub const DEFAULT_MEMORY_FLOWS_PER_TENANT: usize = crate::DEFAULT_PENDING_FLOWS_PER_TENANT;

/// Flow records in this process's memory: bounded (at most
/// [`DEFAULT_MEMORY_FLOWS`] and [`DEFAULT_MEMORY_FLOWS_PER_TENANT`] of one tenant unless
/// set), each dropped when its flow expires. Only the replica that started a flow can
/// follow it: use `RedisHandles` behind a load balancer.
///
/// No tenant crowds out another: a tenant at its own cap makes room by dropping its own
/// flow closest to its end; a store full of tenants within their caps refuses a new flow
/// (the router answers `503`) rather than drop another tenant's.
#[derive(Debug)]
pub struct MemoryHandles {
    flows: Mutex<HashMap<String, (FlowRecord, SystemTime)>>,
    max_flows: usize,
    max_per_tenant: usize,
}

impl Default for MemoryHandles {
    fn default() -> Self {
        MemoryHandles {
            flows: Mutex::default(),
            max_flows: DEFAULT_MEMORY_FLOWS,
            max_per_tenant: DEFAULT_MEMORY_FLOWS_PER_TENANT,
        }
    }
}

impl MemoryHandles {
    /// Keeps at most `max_flows` (at least 1).
    #[must_use]
    pub fn max_flows(mut self, max_flows: usize) -> Self {
        self.max_flows = max_flows.max(1);
        self
    }

    /// Keeps at most `max_flows` of one tenant (at least 1).
    #[must_use]
    pub fn max_flows_per_tenant(mut self, max_flows: usize) -> Self {
        self.max_per_tenant = max_flows.max(1);
        self
    }

    /// How many flows are held now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (FlowRecord, SystemTime)>> {
        self.flows.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl HandleStore for MemoryHandles {
    fn put<'a>(&'a self, state: &'a str, record: &'a FlowRecord, ttl: Duration) -> HandleFuture<'a, ()> {
        let now = SystemTime::now();
        let until = now.checked_add(ttl).unwrap_or(record.expires_at);
        let mut flows = self.lock();
        let outcome = if flows.contains_key(state) {
            Ok(())
        } else {
            make_room(&mut flows, &record.tenant_id, now, self.max_flows, self.max_per_tenant)
        };
        if outcome.is_ok() {
            flows.insert(state.to_owned(), (record.clone(), until));
        }
        Box::pin(async { outcome })
    }

    fn get<'a>(&'a self, state: &'a str) -> HandleFuture<'a, Option<FlowRecord>> {
        let now = SystemTime::now();
        let mut flows = self.lock();
        let found = match flows.get(state) {
            Some((record, until)) if *until > now => Some(record.clone()),
            Some(_) => {
                flows.remove(state);
                None
            }
            None => None,
        };
        Box::pin(async move { Ok(found) })
    }
}

/// Makes room for one more flow of `tenant`: past the tenant's cap, its own flow closest
/// to its end goes; in a full store, expired flows go; never another tenant's live flow.
fn make_room(
    flows: &mut HashMap<String, (FlowRecord, SystemTime)>,
    tenant: &str,
    now: SystemTime,
    max_flows: usize,
    max_per_tenant: usize,
) -> Result<(), HandleError> {
    let own_soonest = |flows: &HashMap<String, (FlowRecord, SystemTime)>| {
        let own = flows.iter().filter(|(_, (record, _))| record.tenant_id == tenant);
        let count = own.clone().count();
        let soonest = own.min_by_key(|(_, (_, until))| *until).map(|(state, _)| state.clone());
        (count, soonest)
    };
    if let (count, Some(soonest)) = own_soonest(flows)
        && count >= max_per_tenant
    {
        flows.remove(&soonest);
    }
    if flows.len() >= max_flows {
        flows.retain(|_, (_, until)| *until > now);
    }
    if flows.len() >= max_flows {
        return Err(HandleError::new(format!(
            "the store holds {max_flows} live flows of tenants within their caps; none is dropped for a new one"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tenant: &str) -> FlowRecord {
        FlowRecord {
            tenant_id: tenant.to_owned(),
            handle: SessionHandle::new("slack", format!("state-{tenant}")),
            expires_at: SystemTime::now() + Duration::from_secs(600),
        }
    }

    #[tokio::test]
    async fn records_expire_and_the_store_stays_bounded() {
        let handles = MemoryHandles::default().max_flows(2);
        handles.put("a", &record("a"), Duration::from_secs(60)).await.unwrap();
        handles.put("b", &record("b"), Duration::ZERO).await.unwrap();
        assert_eq!(handles.get("a").await.unwrap().unwrap().tenant_id, "a");
        assert!(handles.get("b").await.unwrap().is_none(), "an expired record is never served");
        // Full: the expired flow makes room; then a full store of live flows refuses.
        handles.put("c", &record("c"), Duration::from_secs(60)).await.unwrap();
        assert_eq!(handles.len(), 2);
        assert!(handles.put("d", &record("d"), Duration::from_secs(60)).await.is_err());
        assert!(handles.get("a").await.unwrap().is_some() && handles.get("c").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_flooding_tenant_displaces_only_its_own_flows() {
        let handles = MemoryHandles::default().max_flows(30).max_flows_per_tenant(5);
        handles.put("victim-flow", &record("victim"), Duration::from_secs(60)).await.unwrap();
        for n in 0..10_100 {
            let state = format!("flood-{n}");
            handles.put(&state, &record("flood"), Duration::from_secs(600 + n)).await.unwrap();
        }
        assert_eq!(handles.get("victim-flow").await.unwrap().unwrap().tenant_id, "victim");
        assert_eq!(handles.len(), 6, "the flood holds its own cap, no more");
        assert!(handles.get("flood-10099").await.unwrap().is_some(), "the newest flood flow is kept");
    }
}
