//! [`RedisHandles`]: flow records on the Redis (or Valkey) a fleet already runs, so that a
//! flow started on one replica is followed on any other.

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::handles::{FlowRecord, HandleError, HandleFuture, HandleStore};

/// Flow records on Redis: `{prefix}:flow:{state}` holds the record as JSON (a session
/// handle holds no secret: the flow's `state` and redirect URL), expiring with the flow.
///
/// ```no_run
/// # fn main() -> Result<(), fastn_auth_axum::HandleError> {
/// let handles = fastn_auth_axum::RedisHandles::new("redis://127.0.0.1:6379/")?.prefix("acme-crm");
/// # let _ = handles;
/// # Ok(())
/// # }
/// ```
pub struct RedisHandles {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
}

impl std::fmt::Debug for RedisHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: the prefix only.
        f.debug_struct("RedisHandles").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisHandles {
    /// Records on the server at `redis_url` (`redis://[user:password@]host:port/[db]`).
    /// Connects on first use and reconnects by itself.
    ///
    /// # Errors
    /// When `redis_url` is not a Redis URL (the message never shows it).
    pub fn new(redis_url: &str) -> Result<RedisHandles, HandleError> {
        let client = redis::Client::open(redis_url)
            .map_err(|_| HandleError::new("the Redis URL is not a redis:// or rediss:// URL"))?;
        Ok(RedisHandles { client, connection: OnceCell::new(), prefix: "fastn-auth".to_owned() })
    }

    /// Namespaces the keys with `prefix` (default `fastn-auth`): `{prefix}:flow:{state}`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    async fn connection(&self) -> Result<ConnectionManager, HandleError> {
        let connect = || async {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(Duration::from_secs(1)))
                .set_number_of_retries(1);
            self.client.get_connection_manager_with_config(config).await
        };
        let manager = self.connection.get_or_try_init(connect).await.map_err(redis_error)?;
        Ok(manager.clone())
    }

    fn key(&self, state: &str) -> String {
        format!("{}:flow:{state}", self.prefix)
    }
}

fn redis_error(err: redis::RedisError) -> HandleError {
    // The kind and category only: a server's text could quote a key.
    HandleError::new(format!("Redis failed ({:?})", err.kind()))
}

impl HandleStore for RedisHandles {
    fn put<'a>(&'a self, state: &'a str, record: &'a FlowRecord, ttl: Duration) -> HandleFuture<'a, ()> {
        Box::pin(async move {
            let json = serde_json::to_string(record)
                .map_err(|err| HandleError::new(format!("the record could not be encoded: {err}")))?;
            let mut connection = self.connection().await?;
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            connection.pset_ex::<_, _, ()>(self.key(state), json, millis).await.map_err(redis_error)
        })
    }

    fn get<'a>(&'a self, state: &'a str) -> HandleFuture<'a, Option<FlowRecord>> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let json: Option<String> = connection.get(self.key(state)).await.map_err(redis_error)?;
            json.map(|json| {
                serde_json::from_str(&json)
                    .map_err(|err| HandleError::new(format!("a stored record is not one: {err}")))
            })
            .transpose()
        })
    }
}
