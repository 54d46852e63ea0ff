//! How the cache behaves ([`CacheOptions`]) and what it has done ([`CacheStats`]).

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::store::CacheStore;

/// How the credentials cache behaves; turn it on with
/// [`FastnAuthBuilder::cache`](crate::FastnAuthBuilder::cache).
///
/// ```
/// use std::time::Duration;
/// let options = fastn_auth::CacheOptions::default()
///     .max_entries(50_000)
///     .refresh_margin(Duration::from_secs(120));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct CacheOptions {
    pub(super) max_entries: usize,
    pub(super) ttl_without_expiry: Duration,
    pub(super) refresh_margin: Duration,
    pub(super) not_found_ttl: Duration,
    pub(super) store: Option<Arc<dyn CacheStore>>,
    pub(super) store_timeout: Duration,
    pub(super) lease: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: 10_000,
            ttl_without_expiry: Duration::from_secs(300),
            refresh_margin: Duration::from_secs(300),
            not_found_ttl: Duration::from_secs(5),
            store: None,
            store_timeout: Duration::from_millis(250),
            lease: Duration::from_secs(10),
        }
    }
}

impl CacheOptions {
    /// The most connections kept (default 10,000); past it the least recently used are
    /// evicted. At least 1.
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries;
        self
    }

    /// How long credentials whose answer says no expiry are kept (default 5 minutes).
    pub fn ttl_without_expiry(mut self, ttl: Duration) -> Self {
        self.ttl_without_expiry = ttl;
        self
    }

    /// How long before expiry a token is refreshed (default 5 minutes; at most half the
    /// token's lifetime). Each refresh point is drawn in the last 20 % of this margin's
    /// start, so keys and replicas do not refresh in step.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long "this connection does not exist" (a 404) is remembered (default 5 s; zero:
    /// never), so that "is this tenant connected?" loops do not hammer Fastn. Transient
    /// errors are never remembered.
    pub fn not_found_ttl(mut self, ttl: Duration) -> Self {
        self.not_found_ttl = ttl;
        self
    }

    /// Shares the cache across replicas through `store` (`fastn_auth_redis::RedisStore`,
    /// or any [`CacheStore`]). The in-process cache stays in front: a hit there never
    /// touches the store. A miss looks in the store before asking Fastn, and the one
    /// replica holding a connection's lease fetches while the others wait for its answer.
    pub fn store(mut self, store: impl CacheStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The longest one store operation may take before the cache goes to Fastn instead
    /// (default 250 ms). After a failure the store is skipped for a second.
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// How long a replica holds a connection's lease while it fetches (default 10 s): the
    /// others wait that long at most for its answer, and a replica that dies holding it
    /// loses it when it runs out.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.max_entries == 0 {
            return Err(Error::config("CacheOptions::max_entries must be at least 1"));
        }
        if self.store.is_some() && (self.store_timeout.is_zero() || self.lease.is_zero()) {
            return Err(Error::config("CacheOptions::store_timeout and lease must be greater than zero"));
        }
        Ok(())
    }
}

/// What the cache has done so far; see [`FastnAuth::cache_stats`](crate::FastnAuth::cache_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Calls answered from the cache, without waiting on Fastn.
    pub hits: u64,
    /// Provider `401`s returned as they are, without asking Fastn: the connection's token
    /// was refreshed and rejected again (or came back the same) within the back-off
    /// ([`UNAUTHORIZED_BACKOFF`](crate::limits::UNAUTHORIZED_BACKOFF)).
    pub unauthorized_returned: u64,
    /// Calls that fetched from Fastn themselves: a cold or expired key, or `.fresh()`.
    pub misses: u64,
    /// Calls that waited for another caller's fetch instead of making their own.
    pub coalesced: u64,
    /// Fetches made because a token entered its refresh window (others were served meanwhile).
    pub refreshes_ahead: u64,
    /// Refreshes that failed while the token was still valid, which was served instead.
    pub stale_served_on_error: u64,
    /// "Not connected" answers served from the cache.
    pub not_found_hits: u64,
    /// Connections dropped to stay within `max_entries`.
    pub evictions: u64,
    /// Connections held now.
    pub entries: u64,
    /// Misses answered by the shared store (another replica's fetch), without Fastn.
    pub store_hits: u64,
    /// Shared-store operations that failed or timed out (each then went to Fastn).
    pub store_errors: u64,
}
