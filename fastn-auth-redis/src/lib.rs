//! [`RedisStore`]: the credentials cache of `fastn-auth` shared by many replicas on Redis
//! (or a protocol-compatible server such as Valkey), encrypted at rest. Built on the
//! runtime's public store kit (`fastn_auth::store`): a crate of its own, so a service
//! without Redis compiles no Redis client and no cipher.
#![warn(missing_docs)]

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use futures_util::StreamExt as _;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

use fastn_auth::store::{CacheStore, LockToken, StoreError, StoreFuture, Subscription};
use fastn_auth::{Error, Result};

/// The first bytes of every sealed value: format 2, XChaCha20-Poly1305 with the full Redis
/// key (prefix included) as associated data.
const MAGIC: &[u8; 3] = b"fa2";
const NONCE_BYTES: usize = 24;
/// What the key that names a client's credential in key names is derived for.
const IDENTITY: &[u8] = b"fastn-auth redis store: credential ids";

/// Compare-and-delete: releases a lock only for the holder of its token.
static UNLOCK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end"#,
    )
});

/// Adds one to a counter, giving it a lifetime of `ARGV[1]` ms when it is new (or has
/// none), and returns its value.
static INCREMENT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"local n = redis.call("incr", KEYS[1])
if n == 1 or redis.call("pttl", KEYS[1]) == -1 then redis.call("pexpire", KEYS[1], ARGV[1]) end
return n"#,
    )
});

/// Takes a lease lock for `ARGV[2]` ms, or returns nil when it is held. A lock held with no
/// expiry or a longer one than ours (left by a crashed tool, or planted) is given ours, so
/// no lock outlives a lease.
static LOCK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"if redis.call("set", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
local ttl = redis.call("pttl", KEYS[1])
if ttl == -1 or ttl > tonumber(ARGV[2]) then redis.call("pexpire", KEYS[1], ARGV[2]) end
return 0"#,
    )
});

/// A Redis (or Valkey) server shared by the replicas of a service, as the credentials
/// cache's second level: one replica's fetch serves them all, and a lease lock per
/// connection lets one replica refresh while the others wait for its answer.
///
/// Tokens never reach Redis in clear text: every value is sealed with XChaCha20-Poly1305
/// under your 32-byte key, a fresh random nonce each time, and the full Redis key (prefix
/// and connection) bound as associated data, so a value copied under another tenant's key,
/// or another prefix's, does not open. Key names hold no secret: the client's API key is
/// there only as an HMAC under a key derived from yours.
/// Keys carry a TTL equal to the token's remaining life and a prefix (`fastn-auth` unless
/// [`prefix`](Self::prefix) says otherwise). A value that does not open (another key, a
/// corrupt or foreign value) is a miss.
///
/// ```no_run
/// # fn main() -> Result<(), fastn_auth::Error> {
/// use fastn_auth::{CacheOptions, FastnAuthBuilder};
/// use fastn_auth_redis::RedisStore;
///
/// // 64 hex characters, e.g. from `openssl rand -hex 32`, kept with your other secrets.
/// let key = RedisStore::key_from_hex(&std::env::var("FASTN_CACHE_KEY").unwrap_or_default())?;
/// let store = RedisStore::new("redis://127.0.0.1:6379/", key)?;
/// // A managed service: TLS, an ACL user, a private CA; or a Redis Cluster from its seeds.
/// let managed = RedisStore::builder(key)
///     .url("rediss://svc-user:secret@redis.internal:6380/")
///     .root_certificate_pem(&std::fs::read("/etc/ssl/private-ca.pem").unwrap_or_default())
///     .key_prefix("acme-crm")
///     .build()?;
/// let cluster = RedisStore::builder(key)
///     .cluster(["rediss://redis-0.internal:6379", "rediss://redis-1.internal:6379"])
///     .build()?;
/// let client = FastnAuthBuilder::from_env()?.cache(CacheOptions::default().store(store)).build()?;
/// # let _ = (managed, cluster);
/// # Ok(()) }
/// ```
///
/// In a cluster a connection's value and its lease lock share one hash slot (the part of
/// the key in braces), so the lock script runs on one node; redirections (`MOVED`, `ASK`)
/// and failovers are followed by the cluster connection, and while a node is unreachable
/// the cache goes to Fastn, never failing a call that Fastn can answer.
pub struct RedisStore {
    backend: Backend,
    /// A client of one node, for the connections that subscribe to a channel (in a cluster
    /// any node hears every message published).
    subscriber: redis::Client,
    connection: OnceCell<Connection>,
    /// Where it connects, for `Debug`: host and port, never a password.
    server: String,
    prefix: String,
    /// The key values are sealed with, then older keys still accepted for reading (shared
    /// with the subscriptions, which open messages).
    keys: Arc<Vec<XChaCha20Poly1305>>,
    /// Keys the hash of a client's credential in key names; derived from the oldest key.
    identity_key: [u8; 32],
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .field("prefix", &self.prefix)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the server at `redis_url` (`redis://[user:password@]host:port/[db]`),
    /// sealing values with `key`. Connects on first use, and reconnects by itself.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config) when the URL is not a Redis URL (the message never shows it).
    pub fn new(redis_url: &str, key: [u8; 32]) -> Result<RedisStore> {
        RedisStore::builder(key).url(redis_url).build()
    }

    /// A builder for a store sealing values with `key`: a URL or a cluster, a private CA, a
    /// key prefix.
    pub fn builder(key: [u8; 32]) -> RedisStoreBuilder {
        RedisStoreBuilder {
            key,
            url: None,
            cluster: None,
            root_pem: None,
            prefix: None,
            plaintext_password: false,
        }
    }

    /// Namespaces every Redis key with `prefix` (default `fastn-auth`): `{prefix}:c:{…}` for
    /// credentials, `{prefix}:l:{…}` for lease locks.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Also opens values sealed with `key`, for rotation: new values are sealed with the
    /// key given to [`new`](Self::new), old ones still read until they expire.
    ///
    /// Key names (which carry an HMAC of the client's API key) are derived from the last
    /// key given here, the oldest, so a rotation keeps them; retiring the old key renames
    /// them, and each connection is then fetched from Fastn once more.
    #[must_use]
    pub fn previous_key(mut self, key: [u8; 32]) -> Self {
        Arc::make_mut(&mut self.keys).push(XChaCha20Poly1305::new(&key.into()));
        self.identity_key = derive(&key, IDENTITY);
        self
    }

    /// A 32-byte key from 64 hex characters (as `openssl rand -hex 32` prints).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config) when `hex` is not 64 hex characters (the message never shows it).
    pub fn key_from_hex(hex: &str) -> Result<[u8; 32]> {
        let hex = hex.trim().as_bytes();
        let digit = |c: u8| (c as char).to_digit(16);
        let mut key = [0u8; 32];
        if hex.len() != 64 {
            return Err(Error::config(format!("a cache key must be 64 hex characters, got {}", hex.len())));
        }
        for (byte, pair) in key.iter_mut().zip(hex.chunks(2)) {
            match (digit(pair[0]), digit(pair[1])) {
                (Some(high), Some(low)) => *byte = (high * 16 + low) as u8,
                _ => {
                    return Err(Error::config(
                        "a cache key must be 64 hex characters, got another character",
                    ));
                }
            }
        }
        Ok(key)
    }

    async fn connection(&self) -> std::result::Result<Connection, StoreError> {
        let connect = || async {
            match &self.backend {
                Backend::Single(client) => {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(Duration::from_millis(500)))
                        .set_response_timeout(Some(Duration::from_millis(500)))
                        .set_number_of_retries(1);
                    client.get_connection_manager_with_config(config).await.map(Connection::Single)
                }
                Backend::Cluster(client) => client.get_async_connection().await.map(Connection::Cluster),
            }
        };
        let connection = self.connection.get_or_try_init(connect).await.map_err(redis_error)?;
        Ok(connection.clone())
    }

    // The store key is one hash tag (`{…}`; store keys are percent-encoded, so they hold no
    // brace): a value and its lock share a cluster slot whatever the prefix is.
    fn value_key(&self, key: &str) -> String {
        // Keys only ever grow by this format, so `{prefix}:c:` cannot end inside a prefix.
        format!("{}:c:{{{key}}}", self.prefix)
    }

    fn lock_key(&self, key: &str) -> String {
        format!("{}:l:{{{key}}}", self.prefix)
    }

    fn counter_key(&self, key: &str) -> String {
        format!("{}:n:{{{key}}}", self.prefix)
    }

    fn channel_name(&self, channel: &str) -> String {
        format!("{}:h:{{{channel}}}", self.prefix)
    }

    /// `MAGIC`, a random nonce, and the ciphertext of `plain` with the Redis key of `key`
    /// as associated data.
    fn seal(&self, key: &str, plain: &[u8]) -> std::result::Result<Vec<u8>, StoreError> {
        self.seal_for(&self.value_key(key), plain)
    }

    /// [`seal`](Self::seal) bound to the Redis name `aad` (a key's, or a channel's).
    fn seal_for(&self, aad: &str, plain: &[u8]) -> std::result::Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)
            .map_err(|e| StoreError::new(format!("no randomness for a nonce: {e}")))?;
        let sealed = self.keys[0]
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: aad.as_bytes() })
            .map_err(|_| StoreError::new("sealing failed"))?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_BYTES + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plain value, or `None` for anything that does not open under the Redis key of
    /// `key` with one of the keys.
    fn open(&self, key: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        self.open_for(&self.value_key(key), sealed)
    }

    /// [`open`](Self::open) bound to the Redis name `aad`.
    fn open_for(&self, aad: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        open_with(&self.keys, aad, sealed)
    }
}

/// The plain text of `sealed` (`MAGIC`, nonce, ciphertext) under one of `keys`, bound to the
/// Redis name `aad`; `None` for anything else.
fn open_with(keys: &[XChaCha20Poly1305], aad: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    let rest = sealed.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
    let payload = || Payload { msg: ciphertext, aad: aad.as_bytes() };
    keys.iter().find_map(|cipher| cipher.decrypt(XNonce::from_slice(nonce), payload()).ok())
}

/// A 32-byte subkey of `key` for `purpose`, so no key serves two uses.
fn derive(key: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    fastn_auth::store::hmac_sha256(key, &[purpose])
}

fn redis_error(err: redis::RedisError) -> StoreError {
    // Redis errors name the command and the server's words, never a value we sent (nor the
    // password of the URL).
    let what = match err.kind() {
        redis::ErrorKind::AuthenticationFailed => "Redis refused the user or password (check the ACL user): ",
        redis::ErrorKind::Io if err.to_string().contains("certificate") => {
            "the TLS handshake with Redis failed (is its CA given with root_certificate_pem?): "
        }
        redis::ErrorKind::Io => "Redis could not be reached: ",
        _ => "redis: ",
    };
    StoreError::new(format!("{what}{err}"))
}

/// How a store connects: one server, or a cluster from its seed nodes.
#[allow(clippy::large_enum_variant, reason = "one per store, built once and never moved")]
enum Backend {
    Single(redis::Client),
    Cluster(ClusterClient),
}

/// A connection of either kind; both reconnect by themselves.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Builds a [`RedisStore`]; start with [`RedisStore::builder`]. `Debug` never shows a
/// URL (it may hold a password) or the key.
#[must_use = "call .build()"]
pub struct RedisStoreBuilder {
    key: [u8; 32],
    url: Option<String>,
    cluster: Option<Vec<String>>,
    root_pem: Option<Vec<u8>>,
    prefix: Option<String>,
    plaintext_password: bool,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &self.url.as_ref().map(|_| "[set]"))
            .field("cluster_seeds", &self.cluster.as_ref().map(Vec::len))
            .field("root_certificate_pem", &self.root_pem.is_some())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// One server: `redis://` or `rediss://` (TLS), with `user:password@` for an ACL user.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// A Redis Cluster, from its seed nodes (a few of its primaries), in the URL forms of
    /// [`url`](Self::url); the first one's user and password are used for every node.
    pub fn cluster(mut self, seeds: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cluster = Some(seeds.into_iter().map(Into::into).collect());
        self
    }

    /// Trusts this CA (PEM) for `rediss://` instead of the system's roots: a managed
    /// service's private CA.
    pub fn root_certificate_pem(mut self, pem: &[u8]) -> Self {
        self.root_pem = Some(pem.to_vec());
        self
    }

    /// Namespaces every Redis key with `prefix` (default `fastn-auth`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Lets a password travel over plain `redis://` to a host that is not loopback: only
    /// for a private network you trust end to end (a sidecar, a VPC without TLS). Without
    /// it such a URL is refused, as plain `http://` is for an API base URL.
    pub fn allow_plaintext_password(mut self, allow: bool) -> Self {
        self.plaintext_password = allow;
        self
    }

    /// Checks the settings and builds the store; it connects on first use.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config) when neither or both of a URL and a cluster are given, a URL is not
    /// `redis://` or `rediss://` (or the URLs mix them), a password would go over plain
    /// `redis://` to a host that is not loopback (see
    /// [`allow_plaintext_password`](Self::allow_plaintext_password)), or a CA is given
    /// without TLS or is not PEM. Messages never show a URL (it may hold a password).
    pub fn build(self) -> Result<RedisStore> {
        let is_cluster = self.cluster.is_some();
        let urls = match (self.url, self.cluster) {
            (Some(url), None) => vec![url],
            (None, Some(seeds)) if !seeds.is_empty() => seeds,
            (None, Some(_)) => {
                return Err(Error::config("RedisStore: a cluster needs at least one seed node"));
            }
            (None, None) => return Err(Error::config("RedisStore: give a url or a cluster")),
            (Some(_), Some(_)) => return Err(Error::config("RedisStore: give a url or a cluster, not both")),
        };
        let mut infos = Vec::with_capacity(urls.len());
        for (index, url) in urls.iter().enumerate() {
            let info = redis::IntoConnectionInfo::into_connection_info(url.as_str())
                .ok()
                .filter(|_| url.starts_with("redis://") || url.starts_with("rediss://"))
                .ok_or_else(|| {
                    Error::config(format!("RedisStore: URL {} is not a redis:// or rediss:// URL", index + 1))
                })?;
            infos.push(info);
        }
        let tls = urls[0].starts_with("rediss://");
        if urls.iter().any(|url| url.starts_with("rediss://") != tls) {
            return Err(Error::config("RedisStore: the URLs mix redis:// and rediss://"));
        }
        for (index, info) in infos.iter().enumerate() {
            let remote = match info.addr() {
                redis::ConnectionAddr::Tcp(host, _) => !fastn_auth_rules::api::is_loopback_host(host),
                _ => false,
            };
            if !tls && remote && info.redis_settings().password().is_some() && !self.plaintext_password {
                return Err(Error::config(format!(
                    "RedisStore: URL {} sends a password over plain redis:// to a host that is not \
                     loopback; use rediss:// (TLS), or allow_plaintext_password(true) on a private \
                     network you trust",
                    index + 1
                )));
            }
        }
        if let Some(pem) = &self.root_pem {
            if !tls {
                return Err(Error::config("RedisStore: root_certificate_pem is for rediss:// (TLS) URLs"));
            }
            if !pem.windows(27).any(|window| window == b"-----BEGIN CERTIFICATE-----") {
                return Err(Error::config("RedisStore: root_certificate_pem is not a PEM certificate"));
            }
        }
        if tls {
            install_crypto_provider();
        }
        let certificates = || redis::TlsCertificates { client_tls: None, root_cert: self.root_pem.clone() };
        let refuse = |err: redis::RedisError| Error::config(format!("RedisStore: {:?}", err.kind()));
        let shown: Vec<String> = infos.iter().map(|info| info.addr().to_string()).collect();
        let node = |info: redis::ConnectionInfo| match self.root_pem {
            Some(_) => redis::Client::build_with_tls(info, certificates()).map_err(refuse),
            None => redis::Client::open(info).map_err(refuse),
        };
        let subscriber = node(infos[0].clone())?;
        let backend = if is_cluster {
            let mut builder = redis::cluster::ClusterClientBuilder::new(infos)
                .connection_timeout(Duration::from_millis(500))
                .response_timeout(Duration::from_millis(500))
                .retries(2);
            if self.root_pem.is_some() {
                builder = builder.certs(certificates());
            }
            Backend::Cluster(builder.build().map_err(refuse)?)
        } else {
            Backend::Single(subscriber.clone())
        };
        Ok(RedisStore {
            backend,
            subscriber,
            connection: OnceCell::new(),
            server: shown.join(", ").chars().take(200).collect(),
            prefix: self.prefix.unwrap_or_else(|| "fastn-auth".to_owned()),
            keys: Arc::new(vec![XChaCha20Poly1305::new(&self.key.into())]),
            identity_key: derive(&self.key, IDENTITY),
        })
    }
}

/// rustls, which Redis's TLS uses, needs a process-wide crypto provider: ring, unless the
/// application installed one of its own.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl CacheStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let sealed: Option<Vec<u8>> = redis::cmd("GET")
                .arg(self.value_key(key))
                .query_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(sealed.and_then(|sealed| self.open(key, &sealed)))
        })
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let sealed = self.seal(key, value)?;
            let mut connection = self.connection().await?;
            redis::cmd("SET")
                .arg(self.value_key(key))
                .arg(sealed)
                .arg("PX")
                .arg(millis(ttl))
                .query_async::<()>(&mut connection)
                .await
                .map_err(redis_error)
        })
    }

    fn try_lock<'a>(&'a self, key: &'a str, lease: Duration) -> StoreFuture<'a, Option<LockToken>> {
        Box::pin(async move {
            let mut random = [0u8; 16];
            getrandom::fill(&mut random)
                .map_err(|e| StoreError::new(format!("no randomness for a lock token: {e}")))?;
            let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
            let mut connection = self.connection().await?;
            let taken: i64 = LOCK
                .key(self.lock_key(key))
                .arg(&token)
                .arg(millis(lease))
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok((taken == 1).then(|| LockToken::new(token)))
        })
    }

    fn increment<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<u64>> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let count: u64 = INCREMENT
                .key(self.counter_key(key))
                .arg(millis(ttl))
                .invoke_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(Some(count))
        })
    }

    fn publish<'a>(&'a self, channel: &'a str, message: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let name = self.channel_name(channel);
            let sealed = self.seal_for(&name, message)?;
            let mut connection = self.connection().await?;
            redis::cmd("PUBLISH")
                .arg(&name)
                .arg(sealed)
                .query_async::<()>(&mut connection)
                .await
                .map_err(redis_error)
        })
    }

    fn subscribe<'a>(&'a self, channel: &'a str) -> StoreFuture<'a, Option<Subscription>> {
        Box::pin(async move {
            let name = self.channel_name(channel);
            let mut pubsub = self.subscriber.get_async_pubsub().await.map_err(redis_error)?;
            pubsub.subscribe(&name).await.map_err(redis_error)?;
            // Each message opened under the channel's name with the store's keys; one that
            // does not open (planted, or from another key) is dropped.
            let keys = self.keys.clone();
            let messages = pubsub.into_on_message().filter_map(move |message| {
                std::future::ready(open_with(&keys, &name, message.get_payload_bytes()))
            });
            Ok(Some(Box::pin(messages) as Subscription))
        })
    }

    fn identity_key(&self) -> Option<[u8; 32]> {
        Some(self.identity_key)
    }

    fn unlock<'a>(&'a self, key: &'a str, token: LockToken) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            UNLOCK
                .key(self.lock_key(key))
                .arg(token.as_str())
                .invoke_async::<i64>(&mut connection)
                .await
                .map(drop)
                .map_err(redis_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(key: u8) -> RedisStore {
        RedisStore::new("redis://127.0.0.1:1/", [key; 32]).unwrap()
    }

    #[test]
    fn sealed_values_open_only_under_their_key_and_cache_key() {
        let store = store(1);
        let sealed = store.seal("tenant-a", b"token-CANARY").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"CANARY"), "no clear text");
        assert_eq!(store.open("tenant-a", &sealed).as_deref(), Some(b"token-CANARY".as_slice()));
        assert_eq!(store.open("tenant-b", &sealed), None, "copied under another key");
        assert_eq!(self::store(2).open("tenant-a", &sealed), None, "another encryption key");
        assert_eq!(store.open("tenant-a", b"fa1short"), None);
        assert_eq!(store.open("tenant-a", b""), None);
        assert_ne!(
            store.seal("tenant-a", b"x").unwrap(),
            store.seal("tenant-a", b"x").unwrap(),
            "fresh nonces"
        );
    }

    #[test]
    fn a_value_sealed_under_one_prefix_does_not_open_under_another() {
        let sealed = store(1).prefix("svc-a").seal("k", b"v").unwrap();
        assert_eq!(store(1).prefix("svc-a").open("k", &sealed).as_deref(), Some(b"v".as_slice()));
        assert_eq!(store(1).prefix("svc-b").open("k", &sealed), None);
    }

    #[test]
    fn key_names_survive_a_rotation_and_never_hold_the_encryption_key() {
        let (old, new) = ([1; 32], [2; 32]);
        let before = store(1).identity_key;
        assert_eq!(store(2).previous_key(old).identity_key, before, "rotation keeps the names");
        assert_ne!(store(2).identity_key, before);
        assert_ne!(before, old);
        assert_ne!(store(2).identity_key, new);
    }

    #[test]
    fn rotation_reads_old_keys_and_writes_the_new_one() {
        let old = store(1);
        let sealed = old.seal("k", b"v").unwrap();
        let rotated = store(2).previous_key([1; 32]);
        assert_eq!(rotated.open("k", &sealed).as_deref(), Some(b"v".as_slice()));
        let resealed = rotated.seal("k", b"v").unwrap();
        assert_eq!(old.open("k", &resealed), None, "new values use the new key");
    }

    #[test]
    fn a_value_and_its_lock_share_one_cluster_slot_whatever_the_prefix() {
        let tag = |key: &str| key[key.find('{').unwrap() + 1..key.find('}').unwrap()].to_owned();
        for prefix in ["fastn-auth", "svc:a", "{braced}"] {
            let store = store(1).prefix(prefix);
            let key = "v2/https%3A%2F%2Flive.fastn.ai%2Fapi/space/abc/community/slack/=acme/!";
            assert_eq!(tag(&store.value_key(key)), tag(&store.lock_key(key)), "{prefix}");
        }
    }

    #[test]
    fn a_builder_says_what_is_missing_or_contradictory_and_never_shows_a_url() {
        let err = |builder: RedisStoreBuilder| builder.build().unwrap_err().to_string();
        assert!(err(RedisStore::builder([1; 32])).contains("give a url or a cluster"));
        let both = RedisStore::builder([1; 32]).url("redis://a/").cluster(["redis://b/"]);
        assert!(err(both).contains("not both"));
        let mixed = RedisStore::builder([1; 32]).cluster(["redis://a:1/", "rediss://b:2/"]);
        assert!(err(mixed).contains("mix"));
        let plain_ca = RedisStore::builder([1; 32]).url("redis://a/").root_certificate_pem(b"x");
        assert!(err(plain_ca).contains("rediss://"));
        let plain_password = RedisStore::builder([1; 32]).url("redis://svc:hunter2@redis.internal:6379/");
        let message = err(plain_password);
        assert!(message.contains("plain redis://") && !message.contains("hunter2"), "{message}");
        let seeds = ["redis://:hunter2@10.0.0.1:7000/", "redis://:hunter2@10.0.0.2:7000/"];
        assert!(err(RedisStore::builder([1; 32]).cluster(seeds)).contains("URL 1"));
        for allowed in [
            RedisStore::builder([1; 32]).url("redis://svc:pw@127.0.0.1:6379/"),
            RedisStore::builder([1; 32]).url("redis://svc:pw@localhost:6379/"),
            RedisStore::builder([1; 32]).url("rediss://svc:pw@redis.internal:6380/"),
            RedisStore::builder([1; 32]).url("redis://redis.internal:6379/"),
            RedisStore::builder([1; 32]).url("redis://svc:pw@redis.internal/").allow_plaintext_password(true),
        ] {
            assert!(allowed.build().is_ok());
        }
        let not_pem = RedisStore::builder([1; 32]).url("rediss://a/").root_certificate_pem(b"hunter2");
        assert!(err(not_pem).contains("not a PEM"));
        let bad = RedisStore::builder([1; 32]).cluster(["redis://a:1/", "http://user:hunter2@b/"]);
        let bad = err(bad);
        assert!(bad.contains("URL 2") && !bad.contains("hunter2"), "{bad}");
        assert!(RedisStore::builder([1; 32]).cluster(["redis://a:1/", "redis://b:2/"]).build().is_ok());
        let debug = format!("{:?}", RedisStore::builder([1; 32]).url("rediss://u:hunter2@a/"));
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn keys_from_hex_and_urls_never_echo_secrets() {
        assert_eq!(RedisStore::key_from_hex(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        for bad in ["", "zz", &"g".repeat(64), &"a".repeat(63)] {
            let err = RedisStore::key_from_hex(bad).unwrap_err().to_string();
            assert!(!bad.is_empty() || err.contains("got 0"), "{err}");
            assert!(!err.contains("gggg"), "{err}");
        }
        let err = RedisStore::new("http://user:hunter2@host/", [0; 32]).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let shown =
            format!("{:?}", RedisStore::new("redis://user:hunter2@127.0.0.1:6379/", [7; 32]).unwrap());
        assert!(!shown.contains("hunter2") && shown.contains("6379"), "{shown}");
    }
}
