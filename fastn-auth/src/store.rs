//! The shared-store kit: what a store shared by many replicas implements to be the second
//! level of the credentials cache (Redis with the crate
//! `fastn-auth-redis`; any engine through [`CacheStore`]), so that one
//! replica's fetch serves them all and one refresh runs at a time across them.
//!
//! [`CacheStore`] is what an engine implements: values in and out, a TTL, and a lease lock.
//! The cache wraps any store with what keeps it from ever being the reason a call fails: a
//! short timeout on every operation ([`CacheOptions::store_timeout`](crate::CacheOptions::store_timeout)),
//! and a breaker that skips the store for a second after a failure (logged once per outage,
//! counted in the stats).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::credentials::Credentials;

/// What a [`CacheStore`] operation returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store shared by the replicas of a service: the second level of the credentials cache,
/// behind [`CacheOptions::store`](crate::CacheOptions::store).
///
/// `key` is the cache's key of a connection: everything that decides Fastn's answer — the
/// base URL (scheme, host, port, path), the space, a keyed hash of the client's API key or
/// token (see [`identity_key`](Self::identity_key)), org, connector, tenant and connection —
/// each part encoded so that no id can pass for another's, and an absent tenant or
/// connection never for an empty one. A store may prefix it. `value` holds tokens in clear:
/// a store must never keep it so — `fastn_auth_redis::RedisStore` seals it with an AEAD,
/// its prefix and the full key bound as associated data — and must treat a value it cannot
/// open as absent. Values carry the time Fastn answered; the cache never serves one older
/// than what it has already seen for the key, so a store cannot roll a connection back.
pub trait CacheStore: fmt::Debug + Send + Sync + 'static {
    /// The value stored under `key`, if any (and readable).
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Stores `value` under `key` for `ttl`.
    fn set<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()>;

    /// Takes the lease lock of `key` for `lease` if no one holds it: `Some` with the token
    /// that releases it, `None` when another holder has it.
    fn try_lock<'a>(&'a self, key: &'a str, lease: Duration) -> StoreFuture<'a, Option<LockToken>>;

    /// Releases the lock of `key` if `token` still holds it (a lease that expired and was
    /// taken by another is left alone).
    fn unlock<'a>(&'a self, key: &'a str, token: LockToken) -> StoreFuture<'a, ()>;

    /// A secret shared by every replica using this store, which keys the hash that stands
    /// for the client's API key or token in every key, so that clients with different keys
    /// never share an entry and a reader of the store's key names cannot test guesses of
    /// the API key. `RedisStore` derives it from its encryption key. The default, `None`,
    /// hashes without a secret: still never the key itself, but open to guessing.
    fn identity_key(&self) -> Option<[u8; 32]> {
        None
    }

    /// Publishes `message` on `channel` to every client of the store subscribed to it: how
    /// a change of a connection's health reaches the other replicas ([`crate::health`]).
    /// Like a value, a message must be sealed by the store and one that does not open
    /// dropped. The default publishes nothing.
    fn publish<'a>(&'a self, channel: &'a str, message: &'a [u8]) -> StoreFuture<'a, ()> {
        let _ = (channel, message);
        Box::pin(async { Ok(()) })
    }

    /// The messages published on `channel` from now on, opened, until the stream ends (the
    /// connection was lost: the client subscribes again). `None`, the default: the store
    /// carries no messages, and replicas learn a change from the state stored with `set`.
    fn subscribe<'a>(&'a self, channel: &'a str) -> StoreFuture<'a, Option<Subscription>> {
        let _ = channel;
        Box::pin(async { Ok(None) })
    }

    /// Adds one to the counter `key` — made with a lifetime of `ttl` when it is new — and
    /// gives its new value, atomically across every client of the store: how replicas
    /// share a budget (`fastn-auth-agent`'s `Budget`). `None`, the default: the store does
    /// not count, and each replica counts on its own.
    fn increment<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<u64>> {
        let _ = (key, ttl);
        Box::pin(async { Ok(None) })
    }
}

/// The messages of a [`CacheStore::subscribe`].
pub type Subscription = Pin<Box<dyn futures_core::Stream<Item = Vec<u8>> + Send>>;

/// The proof of holding a lease lock, made by a [`CacheStore`].
#[derive(Clone, PartialEq, Eq)]
pub struct LockToken(String);

impl LockToken {
    /// A token: an unguessable value only its holder knows.
    pub fn new(token: impl Into<String>) -> Self {
        LockToken(token.into())
    }

    /// The token's value, for the store's compare-and-delete.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LockToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whoever reads a log line must not be able to release someone else's lease.
        f.write_str("LockToken([REDACTED])")
    }
}

/// A store operation that failed: the store is unreachable, slow, or answered nonsense.
/// Never returned to callers of the SDK: the cache goes to Fastn instead.
#[derive(Debug, thiserror::Error)]
#[error("credentials store: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// An error saying what failed; it reaches logs, so never a value or a secret.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }
}

/// How a client authenticates to Fastn, for the part of store keys that stands for it.
#[derive(Clone, Copy)]
pub(crate) enum Credential<'a> {
    ApiKey(&'a str),
    Token(&'a str),
}

/// The part of a store key that stands for the client's credential: an HMAC-SHA-256 of it
/// under `key` (a fixed, public key when the store has none), its first 16 bytes in hex.
pub(crate) fn credential_id(key: Option<[u8; 32]>, credential: Credential<'_>) -> String {
    const UNKEYED: [u8; 32] = *b"fastn-auth: no store key given..";
    let (kind, secret): (&[u8], &str) = match credential {
        Credential::ApiKey(key) => (b"api key\0", key),
        Credential::Token(token) => (b"token\0", token),
    };
    let mac = hmac_sha256(&key.unwrap_or(UNKEYED), &[kind, secret.as_bytes()]);
    mac.iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

/// HMAC-SHA-256 of `parts`, one after the other, under `key`: for a store's own derived keys
/// (`fastn-auth-redis` derives the key that hides credential ids from its encryption key).
pub fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac as _;
    // A key of one SHA-256 block, as HMAC pads a shorter one: nothing that can fail.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// One connection's credentials as stored: what the cache needs to serve them anywhere.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// Format version.
    v: u8,
    fetched_at_ms: u64,
    expires_at_ms: Option<u64>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    extra: Map<String, Value>,
}

/// Credentials read from the store, with when they were fetched from Fastn.
pub(crate) struct Stored {
    pub(crate) credentials: Credentials<Map<String, Value>>,
    pub(crate) fetched_at: SystemTime,
}

/// `at` as Unix milliseconds (0 before 1970).
pub(crate) fn millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Unix milliseconds as a time.
pub(crate) fn from_millis(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

pub(crate) fn encode(credentials: &Credentials<Map<String, Value>>, fetched_at: SystemTime) -> Vec<u8> {
    let expose =
        |token: &Option<crate::credentials::Token>| token.as_ref().map(|t| t.expose_secret().to_owned());
    let entry = Entry {
        v: 1,
        fetched_at_ms: millis(fetched_at),
        expires_at_ms: credentials.expires_at().map(millis),
        access_token: expose(&credentials.access_token),
        refresh_token: expose(&credentials.refresh_token),
        extra: credentials.extra.clone(),
    };
    serde_json::to_vec(&entry).unwrap_or_default()
}

/// `None` for bytes that are not an entry of this version: a miss, never an error.
fn decode(bytes: &[u8]) -> Option<Stored> {
    let entry: Entry = serde_json::from_slice(bytes).ok().filter(|entry: &Entry| entry.v == 1)?;
    Some(Stored {
        credentials: Credentials::from_parts(
            entry.access_token.map(crate::credentials::token),
            entry.refresh_token.map(crate::credentials::token),
            entry.expires_at_ms.map(from_millis),
            entry.extra,
        ),
        fetched_at: from_millis(entry.fetched_at_ms),
    })
}

/// What trying the lease lock gave.
pub(crate) enum LockAttempt {
    Held(LockToken),
    Taken,
    Unavailable,
}

/// A store with timeouts, a breaker and counters; what the cache talks to.
pub(crate) struct SharedLevel {
    store: Arc<dyn CacheStore>,
    timeout: Duration,
    /// While `Some` and in the future, the store is skipped.
    down_until: std::sync::Mutex<Option<Instant>>,
    down: AtomicBool,
    /// Publishing or subscribing fails now (reported once).
    messaging_down: AtomicBool,
    pub(crate) hits: AtomicU64,
    pub(crate) errors: AtomicU64,
}

/// How long the store is skipped after a failed operation.
const BREAKER: Duration = Duration::from_secs(1);

impl fmt::Debug for SharedLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedLevel").field("store", &self.store).field("timeout", &self.timeout).finish()
    }
}

impl SharedLevel {
    pub(crate) fn new(store: Arc<dyn CacheStore>, timeout: Duration) -> Self {
        SharedLevel {
            store,
            timeout,
            down_until: std::sync::Mutex::new(None),
            down: AtomicBool::new(false),
            messaging_down: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Runs one store operation under the timeout and the breaker; `None` when the store
    /// is skipped or failed.
    async fn run<T>(&self, op: StoreFuture<'_, T>) -> Option<T> {
        let skipping = self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|until| Instant::now() < until);
        if skipping {
            return None;
        }
        let outcome = match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        };
        match outcome {
            Ok(value) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("credentials store reachable again");
                }
                Some(value)
            }
            Err(why) => {
                self.failed(&why);
                None
            }
        }
    }

    /// Counts a failed operation, skips the store for a while, and says so once.
    fn failed(&self, why: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::store_error();
        *self.down_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Instant::now() + BREAKER);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %why, "credentials store unavailable; going to Fastn directly until it is back");
        }
    }

    /// The stored credentials of `key`, when readable.
    pub(crate) async fn get(&self, key: &str) -> Option<Stored> {
        let bytes = self.get_bytes(key).await?;
        let stored = decode(&bytes);
        if stored.is_none() {
            tracing::debug!("a stored credentials entry could not be read; treated as a miss");
        }
        stored
    }

    /// Publishes `message` on `channel`. Messaging has its own failures (a Redis ACL
    /// without channels, say): reported once, never taking the credentials level down.
    pub(crate) async fn publish(&self, channel: &str, message: &[u8]) {
        match tokio::time::timeout(self.timeout, self.store.publish(channel, message)).await {
            Ok(Ok(())) => self.messaging_works(),
            Ok(Err(err)) => self.messaging_failed(&err.to_string()),
            Err(_) => self.messaging_failed(&format!("no answer within {:?}", self.timeout)),
        }
    }

    /// The messages of `channel`: `Some(None)` when the store carries none, `None` when
    /// it failed now. A subscription opens a connection of its own, so it may take longer
    /// than an operation: at least 5 s.
    pub(crate) async fn subscribe(&self, channel: &str) -> Option<Option<Subscription>> {
        let within = self.timeout.max(Duration::from_secs(5));
        match tokio::time::timeout(within, self.store.subscribe(channel)).await {
            Ok(Ok(subscription)) => {
                self.messaging_works();
                Some(subscription)
            }
            Ok(Err(err)) => {
                self.messaging_failed(&err.to_string());
                None
            }
            Err(_) => {
                self.messaging_failed(&format!("no subscription within {within:?}"));
                None
            }
        }
    }

    /// Whether the store's operations are failing now (its breaker is open).
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn messaging_failed(&self, why: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::store_error();
        if !self.messaging_down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = %why,
                "the store carries no health messages now; replicas learn of a broken connection from its stored state"
            );
        }
    }

    fn messaging_works(&self) {
        if self.messaging_down.swap(false, Ordering::Relaxed) {
            tracing::info!("the store's health messages work again");
        }
    }

    /// The bytes stored under `key`, when readable.
    pub(crate) async fn get_bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.run(self.store.get(key)).await?
    }

    pub(crate) async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        self.run(self.store.set(key, value, ttl)).await;
    }

    pub(crate) async fn try_lock(&self, key: &str, lease: Duration) -> LockAttempt {
        match self.run(self.store.try_lock(key, lease)).await {
            Some(Some(token)) => LockAttempt::Held(token),
            Some(None) => LockAttempt::Taken,
            None => LockAttempt::Unavailable,
        }
    }

    pub(crate) async fn unlock(&self, key: &str, token: LockToken) {
        self.run(self.store.unlock(key, token)).await;
    }
}
