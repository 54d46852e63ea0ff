//! [`Budget`]: what one tenant's agent may run — calls a minute and a day, per tenant and
//! per tool — counted in the process or, given a [`CacheStore`] that counts (Redis), across
//! every replica. A call over budget is held back before anything is sent, and the model
//! reads why and when to try again.
//!
//! Windows are fixed: the calendar minute and the UTC day. Every call that asks counts,
//! the ones held back included, so a model that keeps asking stays held back.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fastn_auth::store::{CacheStore, hmac_sha256};

/// How long a shared count may take before the process counts alone (and says so once).
const STORE_TIMEOUT: Duration = Duration::from_millis(500);
/// Counters of past windows kept in the process before they are swept.
const MAX_LOCAL_COUNTERS: usize = 10_000;

/// A budget's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Window {
    /// The calendar minute.
    Minute,
    /// The UTC day.
    Day,
}

impl Window {
    fn seconds(self) -> u64 {
        match self {
            Window::Minute => 60,
            Window::Day => 86_400,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Day => "day",
        }
    }
}

/// Why a call was held back: the limit it met.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OverBudget {
    /// The tool whose own limit was met, or `None` for the tenant's limit over every tool.
    pub tool: Option<String>,
    /// The window of the limit.
    pub window: Window,
    /// The calls the window allows.
    pub limit: u64,
    /// How long until the window ends.
    pub retry_after: Duration,
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match &self.tool {
            Some(tool) => format!("`{}`", fastn_auth_rules::escape(tool, 64)),
            None => "this user's tools".to_owned(),
        };
        write!(
            f,
            "over budget: {scope} may run {} times a {}; try again in {} s",
            self.limit,
            self.window.name(),
            self.retry_after.as_secs().max(1)
        )
    }
}

/// Limits of one scope.
#[derive(Debug, Clone, Copy, Default)]
struct Limits {
    per_minute: Option<u64>,
    per_day: Option<u64>,
}

impl Limits {
    fn each(self) -> impl Iterator<Item = (Window, u64)> {
        [(Window::Minute, self.per_minute), (Window::Day, self.per_day)]
            .into_iter()
            .filter_map(|(window, limit)| Some((window, limit?)))
    }
}

/// Caps on the calls of each tenant, over every tool and per tool: give it to
/// [`BoundTools::budget`](crate::BoundTools::budget) (the MCP server's `budget`). Cheap to
/// clone; clones share the counts.
///
/// ```
/// let budget = fastn_auth_agent::Budget::new().per_minute(30).per_day(1_000).tool_per_minute("slack_send_message", 5);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Budget {
    tenant: Limits,
    tools: HashMap<String, Limits>,
    store: Option<Arc<dyn CacheStore>>,
    local: Arc<Mutex<HashMap<String, u64>>>,
    store_failed: Arc<std::sync::atomic::AtomicBool>,
}

impl Budget {
    /// No limit yet.
    pub fn new() -> Self {
        Budget::default()
    }

    /// The most calls of a tenant in a minute, over every tool.
    pub fn per_minute(mut self, calls: u64) -> Self {
        self.tenant.per_minute = Some(calls);
        self
    }

    /// The most calls of a tenant in a UTC day, over every tool.
    pub fn per_day(mut self, calls: u64) -> Self {
        self.tenant.per_day = Some(calls);
        self
    }

    /// The most calls of `tool` (its model name) by a tenant in a minute.
    pub fn tool_per_minute(mut self, tool: impl Into<String>, calls: u64) -> Self {
        self.tools.entry(tool.into()).or_default().per_minute = Some(calls);
        self
    }

    /// The most calls of `tool` (its model name) by a tenant in a UTC day.
    pub fn tool_per_day(mut self, tool: impl Into<String>, calls: u64) -> Self {
        self.tools.entry(tool.into()).or_default().per_day = Some(calls);
        self
    }

    /// Counts on `store`, shared by every replica using it (`RedisStore` counts; a store
    /// that does not, or that fails, leaves each process counting alone, said once in the
    /// log).
    pub fn shared(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Counts one call of `tool` by `tenant`: `Err` when a limit is met.
    pub(crate) async fn spend(&self, tenant: &str, tool: &str) -> Result<(), OverBudget> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        self.spend_at(tenant, tool, now).await
    }

    /// [`spend`](Self::spend) at `now` (seconds since the epoch). A tool's own limits are
    /// counted first: the one met is the most specific.
    async fn spend_at(&self, tenant: &str, tool: &str, now: u64) -> Result<(), OverBudget> {
        // Tenants and tools as a hash in keys: bounded, and nothing of theirs in a key name.
        let tenant_id = hex(&hmac_sha256(&[0; 32], &[b"tenant", tenant.as_bytes()]));
        let tool_limits = self.tools.get(tool).copied().unwrap_or_default();
        let limits = tool_limits.each().map(|(window, limit)| (Some(tool), window, limit));
        let limits = limits.chain(self.tenant.each().map(|(window, limit)| (None, window, limit)));
        for (scope, window, limit) in limits {
            let index = now / window.seconds();
            let scope_id = scope.map_or_else(
                || "*".to_owned(),
                |tool| hex(&hmac_sha256(&[0; 32], &[b"tool", tool.as_bytes()])),
            );
            let key = format!("budget:{}:{index}:{tenant_id}:{scope_id}", window.name());
            let count = self.count(&key, window, index).await;
            if count > limit {
                let retry_after = Duration::from_secs((index + 1) * window.seconds() - now);
                let over = OverBudget { tool: scope.map(str::to_owned), window, limit, retry_after };
                tracing::info!(tenant, tool, %over, "a tool call is held back");
                #[cfg(feature = "metrics")]
                ::metrics::counter!("fastn_auth_agent_calls_held_total", "reason" => "over_budget")
                    .increment(1);
                return Err(over);
            }
        }
        Ok(())
    }

    /// The count of `key` after this call: the store's, or the process's own.
    async fn count(&self, key: &str, window: Window, index: u64) -> u64 {
        if let Some(store) = &self.store {
            let ttl = Duration::from_secs(window.seconds() + 60);
            match tokio::time::timeout(STORE_TIMEOUT, store.increment(key, ttl)).await {
                Ok(Ok(Some(count))) => return count,
                Ok(Ok(None)) => self.store_failed("the store does not count"),
                Ok(Err(err)) => self.store_failed(&err.to_string()),
                Err(_) => self.store_failed("the store did not answer in time"),
            }
        }
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if local.len() >= MAX_LOCAL_COUNTERS {
            // Past windows' counters go; the current ones stay.
            let current = format!(":{index}:");
            local.retain(|key, _| key.contains(&current));
        }
        let count = local.entry(key.to_owned()).or_insert(0);
        *count += 1;
        *count
    }

    fn store_failed(&self, why: &str) {
        if !self.store_failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!(
                reason = why,
                "budgets are counted by each process alone: the shared store cannot count"
            );
        }
    }
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes[..12].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10:00:30 UTC of some day.
    const HALF_PAST: u64 = 1_796_637_630;

    #[tokio::test]
    async fn the_sixth_call_of_a_minute_is_held_back_per_tenant_and_per_tool_until_the_next() {
        let budget = Budget::new().per_minute(5).tool_per_minute("slack_send_message", 2);
        for n in 0..5 {
            let tool = if n < 2 { "slack_send_message" } else { "slack_list_channels" };
            assert!(budget.spend_at("acme", tool, HALF_PAST).await.is_ok(), "call {n}");
        }
        let sixth = budget.spend_at("acme", "slack_list_channels", HALF_PAST + 10).await.unwrap_err();
        assert_eq!((sixth.tool, sixth.window, sixth.limit), (None, Window::Minute, 5));
        assert_eq!(sixth.retry_after, Duration::from_secs(20));
        let third = budget.spend_at("acme", "slack_send_message", HALF_PAST).await.unwrap_err();
        assert!(third.to_string().contains("`slack_send_message` may run 2 times a minute"), "{third}");
        assert!(budget.spend_at("globex", "slack_send_message", HALF_PAST).await.is_ok(), "another tenant");
        assert!(
            budget.spend_at("acme", "slack_send_message", HALF_PAST + 30).await.is_ok(),
            "the next minute"
        );
    }

    #[tokio::test]
    async fn a_day_counts_over_its_minutes() {
        let budget = Budget::new().per_day(3);
        for minute in 0..3 {
            assert!(budget.spend_at("acme", "t", HALF_PAST + 60 * minute).await.is_ok());
        }
        let over = budget.spend_at("acme", "t", HALF_PAST + 600).await.unwrap_err();
        assert_eq!((over.window, over.limit), (Window::Day, 3));
        assert!(over.retry_after > Duration::from_secs(3600), "until the day ends: {over:?}");
    }
}
