//! [`RedisHandles`]: flow records on the Redis (or Valkey) a fleet already runs, so that a
//! flow started on one replica is followed on any other.

use std::time::{Duration, SystemTime};

use fastn_auth::store::CacheStore as _;
use fastn_auth_redis::RedisStore;

use crate::handles::{FlowRecord, HandleError, HandleFuture, HandleStore};

/// Flow records on Redis, through the same [`RedisStore`] as the credentials cache: one
/// connection builder (TLS with a private CA, ACL users, Redis Cluster), the same error
/// messages, and the same sealing.
///
/// A record is kept at `{prefix}:c:{flow/{state}}`, expiring with the flow, sealed with the
/// store's key and bound to its Redis key: a record planted by someone who can write to
/// Redis but does not hold the key, or copied under another flow's key, does not open and
/// is a miss (`404`), never another tenant's status.
///
/// ```no_run
/// # fn main() -> Result<(), fastn_auth::Error> {
/// use fastn_auth_redis::RedisStore;
/// let key = RedisStore::key_from_hex(&std::env::var("FASTN_CACHE_KEY").unwrap_or_default())?;
/// let store = RedisStore::builder(key).url("rediss://svc:secret@redis.internal:6380/").key_prefix("acme-crm");
/// let handles = fastn_auth_axum::RedisHandles::new(store.build()?);
/// # let _ = handles;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RedisHandles {
    store: RedisStore,
}

impl RedisHandles {
    /// Records in `store` (build it as for the credentials cache; a second store of the
    /// same settings, since each owns its connection).
    pub fn new(store: RedisStore) -> RedisHandles {
        RedisHandles { store }
    }
}

/// The store key of a flow: `flow/` and the state, every byte but the unreserved ones
/// percent-encoded (no brace can end the key's cluster hash tag, no `/` another level).
fn key(state: &str) -> String {
    let mut key = String::with_capacity(5 + state.len());
    key.push_str("flow/");
    for byte in state.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            key.push(char::from(byte));
        } else {
            key.push_str(&format!("%{byte:02X}"));
        }
    }
    key
}

fn store_error(err: fastn_auth::store::StoreError) -> HandleError {
    // A store error names what failed, never a value.
    HandleError::new(err.to_string())
}

impl HandleStore for RedisHandles {
    fn put<'a>(&'a self, state: &'a str, record: &'a FlowRecord, ttl: Duration) -> HandleFuture<'a, ()> {
        Box::pin(async move {
            let json = serde_json::to_vec(record)
                .map_err(|err| HandleError::new(format!("the record could not be encoded: {err}")))?;
            self.store.set(&key(state), &json, ttl.max(Duration::from_millis(1))).await.map_err(store_error)
        })
    }

    fn get<'a>(&'a self, state: &'a str) -> HandleFuture<'a, Option<FlowRecord>> {
        Box::pin(async move {
            let Some(json) = self.store.get(&key(state)).await.map_err(store_error)? else { return Ok(None) };
            let record: FlowRecord = serde_json::from_slice(&json)
                .map_err(|err| HandleError::new(format!("a stored record is not one: {err}")))?;
            // Sealed by us, so its deadline is ours; past it the flow is over.
            Ok(Some(record).filter(|record| record.expires_at > SystemTime::now()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_one_key_level_whatever_it_holds() {
        assert_eq!(key("abc-123_~."), "flow/abc-123_~.");
        assert_eq!(key("a/b{c}%"), "flow/a%2Fb%7Bc%7D%25");
        assert_ne!(key("a/b"), key("a%2Fb"));
    }
}
