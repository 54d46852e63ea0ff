//! `health` and `events`: whether a tenant's connection works, and the changes of every
//! connection the replicas sharing a Redis store see.

use fastn_auth::health::{ConnectionEvent, EventKind, Health, HealthState};
use fastn_auth::{CacheOptions, FastnAuth};
use serde_json::{Value, json};

use crate::output::print_json;
use crate::{Cli, Failure, Target, builder, client, usage};

/// When `at` was, as RFC 3339.
fn time(at: Option<std::time::SystemTime>) -> Value {
    at.map_or(Value::Null, |at| Value::from(humantime::format_rfc3339_millis(at).to_string()))
}

fn health_json(connector: &str, target: &Target, health: &Health) -> Value {
    let (reason, code) = match &health.state {
        HealthState::Broken { reason, fastn_code } => (Some(reason.as_str()), fastn_code.as_deref()),
        _ => (None, None),
    };
    json!({
        "connector": connector,
        "tenant": target.tenant,
        "state": health.state.as_str(),
        "reason": reason,
        "fastn_code": code,
        "checked_at": time(health.checked_at),
    })
}

/// `health`: asks Fastn now (a fresh process knows nothing yet) and prints the state; exit
/// 0 healthy, 2 broken or disconnected (the tenant must connect again), 3 when Fastn could
/// not tell.
pub(crate) async fn health(cli: &Cli, connector: &str, target: &Target) -> Result<(), Failure> {
    let client = client(cli)?;
    let health = with_target!(client.health(connector.to_owned()), target).probe().send().await;
    let shown = health_json(connector, target, &health);
    if cli.json {
        print_json(&shown);
    } else {
        println!("{connector}: {}", health.state.as_str());
        if let HealthState::Broken { reason, .. } = &health.state {
            println!("reason: {reason}");
        }
    }
    match health.state {
        HealthState::Healthy => Ok(()),
        HealthState::Broken { .. } | HealthState::Disconnected => Err(Failure {
            code: 2,
            message: format!(
                "{connector} needs the tenant to connect again: fastn-auth connect {connector}{}",
                target.tenant.as_ref().map_or_else(String::new, |tenant| format!(" --tenant {tenant}"))
            ),
        }),
        _ => Err(Failure {
            code: 3,
            message: format!(
                "Fastn could not tell whether {connector} works (run with RUST_LOG=debug to see why)"
            ),
        }),
    }
}

/// `events`: every change of a connection's health the replicas sharing the Redis store see,
/// one JSON object per line, until Ctrl-C.
pub(crate) async fn events(
    cli: &Cli,
    redis_url: Option<&str>,
    cache_key: Option<&str>,
) -> Result<(), Failure> {
    let (Some(url), Some(key)) = (redis_url, cache_key) else {
        return Err(usage(
            "events come from the replicas that share a Redis store: give --redis-url (or \
             FASTN_REDIS_URL) and the store's key in FASTN_CACHE_KEY (64 hex characters)",
        ));
    };
    let key = fastn_auth_redis::RedisStore::key_from_hex(key)?;
    let store = fastn_auth_redis::RedisStore::new(url, key)?;
    // The replicas' client (space, key, base URL: what their store keys are bound to), on
    // their store.
    let client: FastnAuth = builder(cli)?.cache(CacheOptions::default().store(store)).build()?;
    let mut events = client.events();
    eprintln!("Listening for connection events; Ctrl-C to stop.");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            next = std::future::poll_fn(|cx| futures_core::Stream::poll_next(std::pin::Pin::new(&mut events), cx)) => {
                match next {
                    Some(Ok(event)) => print_json(&event_json(&event)),
                    Some(Err(lagged)) => eprintln!("{lagged}"),
                    None => return Ok(()),
                }
            }
        }
    }
}

fn event_json(event: &ConnectionEvent) -> Value {
    let (reason, code) = match &event.kind {
        EventKind::Broken { reason, fastn_code } => (Some(reason.as_str()), fastn_code.as_deref()),
        _ => (None, None),
    };
    json!({
        "connector": event.connector_id,
        "org": event.org_id,
        "tenant": event.tenant_id,
        "connection": event.connection_id,
        "kind": event.kind.as_str(),
        "reason": reason,
        "fastn_code": code,
        "at": time(Some(event.at)),
    })
}
