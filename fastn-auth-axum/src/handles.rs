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

/// Flow records in this process's memory: bounded (at most
/// [`DEFAULT_MEMORY_FLOWS`] unless set), each dropped when its flow expires. Only the
/// replica that started a flow can follow it: use `RedisHandles` behind a load balancer.
#[derive(Debug)]
pub struct MemoryHandles {
    flows: Mutex<HashMap<String, (FlowRecord, SystemTime)>>,
    max_flows: usize,
}

impl Default for MemoryHandles {
    fn default() -> Self {
        MemoryHandles { flows: Mutex::default(), max_flows: DEFAULT_MEMORY_FLOWS }
    }
}

impl MemoryHandles {
    /// Keeps at most `max_flows` (at least 1): past it, the flow closest to its end is
    /// dropped for a new one.
    #[must_use]
    pub fn max_flows(mut self, max_flows: usize) -> Self {
        self.max_flows = max_flows.max(1);
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
        if flows.len() >= self.max_flows && !flows.contains_key(state) {
            flows.retain(|_, (_, until)| *until > now);
            if flows.len() >= self.max_flows {
                let soonest =
                    flows.iter().min_by_key(|(_, (_, until))| *until).map(|(state, _)| state.clone());
                if let Some(soonest) = soonest {
                    flows.remove(&soonest);
                }
            }
        }
        flows.insert(state.to_owned(), (record.clone(), until));
        Box::pin(async { Ok(()) })
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
        handles.put("b", &record("b"), Duration::from_secs(120)).await.unwrap();
        assert_eq!(handles.get("a").await.unwrap().unwrap().tenant_id, "a");
        // Full: the flow closest to its end (a) makes room.
        handles.put("c", &record("c"), Duration::from_secs(60)).await.unwrap();
        assert_eq!(handles.len(), 2);
        assert!(handles.get("a").await.unwrap().is_none());
        assert!(handles.get("b").await.unwrap().is_some());
        handles.put("d", &record("d"), Duration::ZERO).await.unwrap();
        assert!(handles.get("d").await.unwrap().is_none(), "an expired record is never served");
    }
}
