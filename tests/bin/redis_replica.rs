//! A helper of `redis.rs` and `redis_production.rs`, not a test: one replica of a service
//! sharing the credentials cache on Redis. `redis-replica ROLE BASE_URL REDIS_URL` (or
//! `cluster:URL,URL,…` for a Redis Cluster), where ROLE is `callers` (250
//! concurrent callers on one cold key, started at `FASTN_REPLICA_START_MS`, wall-clock
//! milliseconds), `one-call`, or `health` (a Slack API call, then the first health event it
//! hears and the call after it, then, once stdin closes, how many more events came);
//! `FASTN_REPLICA_LEASE_MS` sets the lease. It prints what the test reads and exits non-zero
//! when any call fails.

use std::time::{Duration, Instant, SystemTime};

use fastn_auth::{CacheOptions, ExposeSecret as _, FastnAuth};
use fastn_auth_emulator::MockServer;
use fastn_auth_redis::RedisStore;

/// The cache key and the token the tests agree on (see `redis.rs`).
const KEY: [u8; 32] = [7; 32];
const CANARY: &str = "xoxb-REDIS-CANARY-8d1f";

fn token(credentials: &fastn_auth::Credentials) -> String {
    credentials.access_token.as_ref().map(|t| t.expose_secret().to_owned()).unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [role, base_url, redis_url] = &args[..] else {
        eprintln!("usage: redis-replica callers|one-call BASE_URL REDIS_URL");
        std::process::exit(2);
    };
    let lease = std::env::var("FASTN_REPLICA_LEASE_MS")
        .map_or(Duration::from_secs(10), |ms| Duration::from_millis(ms.parse().expect("milliseconds")));
    // `cluster:URL,URL,…` names a Redis Cluster by its seed nodes.
    let store = match redis_url.strip_prefix("cluster:") {
        Some(seeds) => RedisStore::builder(KEY).cluster(seeds.split(',')).build(),
        None => RedisStore::new(redis_url, KEY),
    }
    .expect("a Redis URL");
    let origin = base_url.trim_end_matches("/api");
    let client = FastnAuth::builder(MockServer::SPACE_ID)
        .api_key(MockServer::API_KEY)
        .base_url(base_url.clone())
        .api_gateway(format!("{origin}/_provider"))
        .cache(CacheOptions::default().store(store).lease(lease))
        .build()
        .expect("a valid client");
    match role.as_str() {
        "callers" => {
            // Start together: at the agreed wall-clock time.
            let start: u64 = std::env::var("FASTN_REPLICA_START_MS").expect("a start").parse().expect("ms");
            let now =
                SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_millis()
                    as u64;
            tokio::time::sleep(Duration::from_millis(start.saturating_sub(now))).await;
            let tasks: Vec<_> = (0..250)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move { client.credentials("slack").tenant_id("acme").send().await })
                })
                .collect();
            let mut ok = 0;
            for task in tasks {
                assert_eq!(token(&task.await.expect("no panic").expect("no caller error")), CANARY);
                ok += 1;
            }
            println!("replica ok {ok}");
        }
        "one-call" => {
            let started = Instant::now();
            let credentials = client.credentials("slack").tenant_id("acme").send().await.expect("no error");
            assert_eq!(token(&credentials), CANARY);
            println!("replica done after {} ms", started.elapsed().as_millis());
        }
        "health" => health(&client).await,
        other => {
            eprintln!("unknown role {other}");
            std::process::exit(2);
        }
    }
}

/// The `health` role: see the crate docs.
async fn health(client: &FastnAuth) {
    use futures_util::StreamExt as _;
    let mut events = client.events();
    let slack = fastn_auth_tests::Slack::api(client).tenant_id("acme");
    let call = || async { slack.get("/auth.test").send().await };
    assert_eq!(call().await.expect("the first call").status(), 200);
    println!("ready");
    let event = tokio::time::timeout(Duration::from_secs(20), events.next()).await;
    let event = event.expect("an event within 20 s").expect("open").expect("not lagged");
    println!("event {}", event.kind.as_str());
    match call().await {
        Ok(response) => println!("call {}", response.status().as_u16()),
        Err(err) => println!("call refused needs_reconnect={}", err.needs_reconnect()),
    }
    // Until the test closes stdin: any event after the first is a duplicate.
    let mut stdin = tokio::io::stdin();
    let mut sink = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stdin, &mut sink).await.expect("stdin");
    let mut more = 0;
    while let Some(Some(_)) = futures_util::FutureExt::now_or_never(events.next()) {
        more += 1;
    }
    println!("more events {more}");
}
