//! The credentials cache shared through a real Redis: many processes, one fetch; a dead
//! lease holder replaced; Redis going away mid-run; nothing readable at rest.
//!
//! Each test starts its own `redis-server` (Debian package `redis-server`) on a free
//! loopback port, persistence off, in a temporary directory, and stops it. Without the
//! binary the tests say they were skipped — and fail under `CI=true`, where `.ci/run`
//! installs it. Replicas are the helper binary `redis-replica` (`bin/redis_replica.rs`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use fastn_auth::{CacheOptions, Endpoint, ErrorKind, ExposeSecret, FastnAuth};
use fastn_auth_emulator::{ConnectionKey, Fault, MockServer};
use fastn_auth_redis::RedisStore;
use fastn_auth_tests::RedisServer as Redis;
use serde_json::json;

const KEY: [u8; 32] = [7; 32];
const CANARY: &str = "xoxb-REDIS-CANARY-8d1f";

fn client(mock: &MockServer, redis: &Redis, key: [u8; 32]) -> FastnAuth {
    let store = RedisStore::new(&redis.url(), key).unwrap();
    mock.client_builder().cache(CacheOptions::default().store(store)).build().unwrap()
}

/// A client of another replica, cold, on the same store with the same key.
fn replica_with(
    mock: &MockServer,
    redis: &Redis,
    build: impl FnOnce(fastn_auth::FastnAuthBuilder, CacheOptions) -> fastn_auth::FastnAuthBuilder,
) -> FastnAuth {
    let store = RedisStore::new(&redis.url(), KEY).unwrap();
    build(mock.client_builder(), CacheOptions::default().store(store)).build().unwrap()
}

async fn set_raw(redis: &Redis, key: &str, value: &[u8]) {
    redis::cmd("SET").arg(key).arg(value).query_async::<()>(&mut redis.raw().await).await.unwrap();
}

fn connect(mock: &MockServer, tenant: &str, token: &str) {
    let key = ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(tenant);
    mock.insert_connection(key, Some(json!({ "access_token": token, "expires_in": 3600, "team_id": "T1" })));
}

fn upstream(mock: &MockServer) -> usize {
    mock.requests().iter().filter(|r| r.path.contains("/connect/credentials/")).count()
}

fn token(credentials: &fastn_auth::Credentials) -> String {
    credentials.access_token.as_ref().map(|t| t.expose_secret().to_owned()).unwrap_or_default()
}

/// Starts a replica, the helper binary `redis-replica` (`bin/redis_replica.rs`): `role`,
/// against the emulator and Redis, its output captured.
fn spawn_replica(role: &str, mock: &MockServer, redis: &Redis, extra: &[(&str, String)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_redis-replica"));
    command
        .args([role, &mock.base_url(), &redis.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    command.spawn().unwrap()
}

/// Waits for a replica: its output, after asserting it succeeded.
fn output_of(child: Child) -> String {
    let output = child.wait_with_output().expect("the replica runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "a replica failed:\n{text}");
    text
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_of_250_callers_cause_one_fetch() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme", CANARY);
    let start = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64 + 1500;
    let replicas: Vec<Child> = (0..4)
        .map(|_| spawn_replica("callers", &mock, &redis, &[("FASTN_REPLICA_START_MS", start.to_string())]))
        .collect();
    let outputs =
        tokio::task::spawn_blocking(move || replicas.into_iter().map(output_of).collect::<Vec<_>>())
            .await
            .unwrap();
    for out in &outputs {
        assert!(out.contains("replica ok 250"), "{out}");
    }
    assert_eq!(upstream(&mock), 1, "4 x 250 callers, one upstream request");
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_lease_holder_is_replaced_within_the_lease() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme", CANARY);
    let lease = Duration::from_secs(2);
    let lease_ms = ("FASTN_REPLICA_LEASE_MS", lease.as_millis().to_string());
    mock.inject(Endpoint::Credentials, Fault::Hang);
    let mut holder = spawn_replica("one-call", &mock, &redis, std::slice::from_ref(&lease_ms));
    // The holder has the lease once its fetch reached Fastn (where it hangs).
    let waited = Instant::now();
    while upstream(&mock) == 0 {
        assert!(waited.elapsed() < Duration::from_secs(30), "the first replica never fetched");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let other = spawn_replica("one-call", &mock, &redis, &[lease_ms]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.kill().unwrap(); // SIGKILL: no unlock, the lease must run out
    let _ = holder.wait();
    let killed = Instant::now();
    let out = tokio::task::spawn_blocking(move || output_of(other)).await.unwrap();
    let took = killed.elapsed();
    assert!(out.contains("replica done"), "{out}");
    assert!(took <= lease + Duration::from_secs(1), "the other replica finished {took:?} after the kill");
    assert_eq!(upstream(&mock), 2, "the hung fetch and the one that replaced it");
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_mid_run_causes_no_caller_error() {
    let Some(mut redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    for i in 0..30 {
        connect(&mock, &format!("t{i}"), &format!("token-{i}"));
    }
    let client = client(&mock, &redis, KEY);
    let ask = |i: usize, fresh: bool| {
        let request = client.credentials("slack").tenant_id(format!("t{i}"));
        if fresh { request.fresh() } else { request }
    };
    for i in 0..10 {
        assert_eq!(token(&ask(i, false).send().await.unwrap()), format!("token-{i}"));
    }
    assert_eq!(redis.dump().await.len(), 10, "one stored entry per tenant, locks released");

    redis.stop();
    for i in (0..10).chain(10..20) {
        // New tenants, and fresh requests for known ones, all need the store, which is gone.
        let credentials = ask(i, i < 10).send().await.expect("no caller error while Redis is down");
        assert_eq!(token(&credentials), format!("token-{i}"));
    }
    let stats = client.cache_stats().unwrap();
    assert!(stats.store_errors >= 1, "{stats:?}");

    redis.spawn().unwrap();
    // Every call succeeds while Redis comes back: the connection manager reconnects on its
    // own, and until it has, store operations fail over to Fastn (store errors, never
    // caller errors). Writes resume within a few breaker pauses of a second.
    let mut caller_errors = 0;
    let mut calls = 0;
    while redis.dump().await.is_empty() {
        assert!(calls < 100, "no write reached Redis in {calls} calls after it came back");
        let i = 20 + calls % 10;
        match ask(i, true).send().await {
            Ok(credentials) => assert_eq!(token(&credentials), format!("token-{i}")),
            Err(_) => caller_errors += 1,
        }
        calls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(caller_errors, 0, "of {calls} calls while Redis came back");
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_in_redis_is_readable_and_copies_do_not_open() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme", CANARY);
    connect(&mock, "globex", "globex-token");
    let first = client(&mock, &redis, KEY);
    assert_eq!(token(&first.credentials("slack").tenant_id("acme").send().await.unwrap()), CANARY);

    let dump = redis.dump().await;
    assert_eq!(dump.len(), 1);
    for (key, value) in &dump {
        assert!(key.starts_with("fastn-auth:c:"), "{key}");
        assert!(
            !key.contains(CANARY) && !value.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "canary in clear"
        );
        assert!(!value.windows(7).any(|w| w == b"REDIS-C"), "not even part of it");
    }
    let ttl: i64 = redis::cmd("PTTL").arg(&dump[0].0).query_async(&mut redis.raw().await).await.unwrap();
    assert!(ttl > 3_500_000 && ttl <= 3_600_000, "the key lives as long as the token: {ttl} ms");

    // A second replica with the same key reads it without Fastn.
    let second = client(&mock, &redis, KEY);
    assert_eq!(token(&second.credentials("slack").tenant_id("acme").send().await.unwrap()), CANARY);
    assert_eq!((upstream(&mock), second.cache_stats().unwrap().store_hits), (1, 1));

    // acme's sealed value copied under globex's key does not open there.
    let (acme_key, sealed) = &dump[0];
    let globex_key = acme_key.replace("/=acme/", "/=globex/");
    assert_ne!(&globex_key, acme_key);
    redis::cmd("SET").arg(&globex_key).arg(sealed).query_async::<()>(&mut redis.raw().await).await.unwrap();
    let third = client(&mock, &redis, KEY);
    let globex = third.credentials("slack").tenant_id("globex").send().await.unwrap();
    assert_eq!(token(&globex), "globex-token", "a copied entry is a miss, never another tenant's token");
    assert_eq!(upstream(&mock), 2);

    // Another encryption key: every value is a miss, nothing panics.
    let stranger = client(&mock, &redis, [9; 32]);
    assert_eq!(token(&stranger.credentials("slack").tenant_id("acme").send().await.unwrap()), CANARY);
    assert_eq!((upstream(&mock), stranger.cache_stats().unwrap().store_hits), (3, 0));
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_tenant_or_connection_id_is_refused_not_served_the_space_token() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    let key = ConnectionKey::new(MockServer::SPACE_ID, "slack");
    mock.insert_connection(key, Some(json!({ "access_token": CANARY, "expires_in": 3600 })));
    let first = client(&mock, &redis, KEY);
    assert_eq!(token(&first.credentials("slack").send().await.unwrap()), CANARY, "the space-level token");
    assert_eq!(upstream(&mock), 1);

    let cold = client(&mock, &redis, KEY);
    let by_tenant = cold.credentials("slack").tenant_id("").send().await.unwrap_err();
    let by_connection = cold.credentials("slack").connection_id("").send().await.unwrap_err();
    for err in [by_tenant, by_connection] {
        assert!(matches!(err.kind(), ErrorKind::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("it is empty"), "{err}");
    }
    assert_eq!(upstream(&mock), 1, "nothing asked of Fastn, nothing served from the store");
    assert_eq!(cold.cache_stats().unwrap().store_hits, 0);
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_another_api_key_asks_fastn_and_gets_its_401() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme", CANARY);
    let first = client(&mock, &redis, KEY);
    assert_eq!(token(&first.credentials("slack").tenant_id("acme").send().await.unwrap()), CANARY);

    let wrong = replica_with(&mock, &redis, |builder, cache| builder.api_key("revoked-key").cache(cache));
    let err = wrong.credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert!(err.is_unauthorized(), "Fastn's 401, not a cached token: {err:?}");
    assert_eq!(upstream(&mock), 2, "the wrong key's call reached Fastn");
    assert_eq!(wrong.cache_stats().unwrap().store_hits, 0);
    let names: Vec<String> = redis.dump().await.into_iter().map(|(name, _)| name).collect();
    assert!(
        names.iter().all(|name| !name.contains("revoked-key") && !name.contains(MockServer::API_KEY)),
        "{names:?}"
    );

    // Another deployment behind the same host and port: another path, another entry.
    let elsewhere = replica_with(&mock, &redis, |builder, cache| {
        builder
            .base_url(format!("{}/other-deployment/api", mock.base_url().trim_end_matches("/api")))
            .cache(cache)
    });
    let err = elsewhere.credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert!(err.is_not_found(), "the other path's own answer: {err:?}");
    assert_eq!(elsewhere.cache_stats().unwrap().store_hits, 0);
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_copied_under_another_prefix_does_not_open() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme", CANARY);
    let with_prefix = |prefix: &str| {
        let store = RedisStore::new(&redis.url(), KEY).unwrap().prefix(prefix);
        mock.client_builder().cache(CacheOptions::default().store(store)).build().unwrap()
    };
    assert_eq!(
        token(&with_prefix("svc-a").credentials("slack").tenant_id("acme").send().await.unwrap()),
        CANARY
    );
    let dump = redis.dump().await;
    let (name, sealed) = dump.iter().find(|(name, _)| name.starts_with("svc-a:c:")).unwrap();
    set_raw(&redis, &name.replacen("svc-a:", "svc-b:", 1), sealed).await;

    let b = with_prefix("svc-b");
    assert_eq!(token(&b.credentials("slack").tenant_id("acme").send().await.unwrap()), CANARY);
    assert_eq!((upstream(&mock), b.cache_stats().unwrap().store_hits), (2, 0), "the copy is a miss");
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_value_written_back_is_never_served_after_a_newer_one() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme", "token-1");
    let not_found_ttl = Duration::from_millis(50);
    let client =
        replica_with(&mock, &redis, |builder, cache| builder.cache(cache.not_found_ttl(not_found_ttl)));
    assert_eq!(token(&client.credentials("slack").tenant_id("acme").send().await.unwrap()), "token-1");
    let (name, old) = redis.dump().await.into_iter().next().unwrap();

    connect(&mock, "acme", "token-2");
    assert_eq!(
        token(&client.credentials("slack").tenant_id("acme").fresh().send().await.unwrap()),
        "token-2"
    );
    // The connection is revoked: Fastn now answers 404, and the replica forgets its token.
    mock.reset();
    let err = client.credentials("slack").tenant_id("acme").fresh().send().await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    // The old sealed value is written back (it opens: same key, same name), and the
    // newer one the store still holds would open too.
    set_raw(&redis, &name, &old).await;
    tokio::time::sleep(not_found_ttl * 2).await; // past the remembered 404
    let err = client.credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert!(err.is_not_found(), "Fastn asked again, no rolled-back token served: {err:?}");
    assert_eq!(client.cache_stats().unwrap().store_hits, 0);
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_with_no_expiry_costs_a_wait_within_the_callers_deadline() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme", CANARY);
    let first = client(&mock, &redis, KEY);
    first.credentials("slack").tenant_id("acme").send().await.unwrap();
    let (name, _) = redis.dump().await.into_iter().next().unwrap();
    // The value gone and its lock held forever (no TTL), as a crashed tool would leave it.
    redis::cmd("DEL").arg(&name).query_async::<()>(&mut redis.raw().await).await.unwrap();
    let lock = name.replacen(":c:", ":l:", 1);
    set_raw(&redis, &lock, b"stuck").await;

    // A 10 s lease (the default) and a 3 s deadline: the call must not fail on Redis.
    let cold = replica_with(&mock, &redis, |builder, cache| {
        builder.call_timeout(Duration::from_secs(3)).cache(cache)
    });
    let credentials = cold.credentials("slack").tenant_id("acme").send().await;
    assert_eq!(token(&credentials.expect("answered within its 3 s deadline")), CANARY);
    assert_eq!(upstream(&mock), 2);

    // Its answer was written back for the others, and the lock now expires.
    let names: Vec<String> = redis.dump().await.into_iter().map(|(name, _)| name).collect();
    assert!(names.contains(&name), "{names:?}");
    let ttl: i64 = redis::cmd("PTTL").arg(&lock).query_async(&mut redis.raw().await).await.unwrap();
    assert!(ttl > 0 && ttl <= 10_000, "the stuck lock got a lease's expiry: {ttl} ms");
    let another = client(&mock, &redis, KEY);
    another.credentials("slack").tenant_id("acme").send().await.unwrap();
    assert_eq!((upstream(&mock), another.cache_stats().unwrap().store_hits), (2, 1));
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "current_thread")]
async fn flow_handles_are_sealed_and_a_planted_or_copied_record_is_a_miss() {
    use fastn_auth_axum::{FlowRecord, HandleStore, RedisHandles};
    let Some(redis) = Redis::start() else { return };
    let handles = || RedisHandles::new(RedisStore::builder(KEY).url(redis.url()).build().unwrap());
    let expires_at = SystemTime::now() + Duration::from_secs(60);
    let record = |tenant: &str, state: &str| FlowRecord {
        tenant_id: tenant.to_owned(),
        handle: fastn_auth::SessionHandle::new("slack", state),
        expires_at,
    };
    let ttl = Duration::from_secs(60);
    handles().put("state-a", &record("tenant-a", "state-a"), ttl).await.unwrap();
    assert_eq!(
        handles().get("state-a").await.unwrap(),
        Some(record("tenant-a", "state-a")),
        "another replica reads it"
    );

    // Nothing readable at rest: no tenant, no state in clear.
    let dump = redis.dump().await;
    let (key_a, sealed_a) =
        dump.iter().find(|(key, _)| key.contains("flow/state-a")).expect("the record's key");
    assert!(!sealed_a.windows(8).any(|w| w == b"tenant-a"), "sealed");

    // Whoever can write to Redis but lacks the key: a planted record and a copy are misses.
    let planted = serde_json::to_vec(&record("tenant-b", "state-b")).unwrap();
    set_raw(&redis, &key_a.replace("state-a", "state-b"), &planted).await;
    assert_eq!(handles().get("state-b").await.unwrap(), None, "a planted record is a miss");
    set_raw(&redis, &key_a.replace("state-a", "state-c"), sealed_a).await;
    assert_eq!(
        handles().get("state-c").await.unwrap(),
        None,
        "a record copied under another state is a miss"
    );
    let other_key = RedisHandles::new(RedisStore::builder([9; 32]).url(redis.url()).build().unwrap());
    assert_eq!(other_key.get("state-a").await.unwrap(), None, "another fleet's key does not open it");
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_one_replica_spent_is_kept_by_another_without_a_429() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::builder().rate_limit(2, Duration::from_secs(10)).start().await.unwrap();
    let first = client(&mock, &redis, KEY);
    for _ in 0..2 {
        let _session = first.connect("slack").tenant_id("acme").send().await.unwrap();
    }
    assert_eq!(first.rate_limit().map(|limit| limit.remaining), Some(0));

    // Another replica, cold, whose calls may take 1 s: the reset is ~10 s away, so its call
    // fails at once, unsent, instead of spending a request on Fastn's 429.
    let other = replica_with(&mock, &redis, |builder, cache| {
        builder.call_timeout(Duration::from_secs(1)).cache(cache)
    });
    let err = other.connect("slack").tenant_id("acme").send().await.unwrap_err();
    assert!(err.is_rate_limited() && err.status_code().is_none(), "refused unsent: {err:?}");
    assert_eq!(mock.requests_to(Endpoint::Init), 2, "the second replica sent nothing");
    assert_eq!(other.rate_limit().map(|limit| limit.remaining), Some(0));
}

/// Waits until `count` connections listen on the store's health channel.
async fn health_listeners(redis: &Redis, count: i64) {
    let mut connection = redis.raw().await;
    for _ in 0..400 {
        let channels: Vec<String> =
            redis::cmd("PUBSUB").arg("CHANNELS").arg("*:h:*").query_async(&mut connection).await.unwrap();
        if let Some(channel) = channels.first() {
            let counts: Vec<(String, i64)> =
                redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query_async(&mut connection).await.unwrap();
            if counts.first().is_some_and(|(_, listening)| *listening >= count) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{count} replicas never listened on the health channel");
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_break_one_replica_sees_reaches_every_replica_once_and_stops_their_calls() {
    use std::io::{BufRead as _, BufReader};
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start().await.unwrap();
    connect(&mock, "acme", CANARY);
    let mut replicas: Vec<_> = (0..2).map(|_| spawn_replica("health", &mock, &redis, &[])).collect();
    let mut lines: Vec<_> =
        replicas.iter_mut().map(|child| BufReader::new(child.stdout.take().unwrap()).lines()).collect();
    let mut next_line = |index: usize| lines[index].next().unwrap().unwrap();
    for index in 0..2 {
        assert_eq!(next_line(index), "ready");
    }
    let client = client(&mock, &redis, KEY);
    let mut events = client.events();
    let slack = fastn_auth_tests::Slack::api(&client).tenant_id("acme");
    assert_eq!(slack.get("/auth.test").send().await.unwrap().status(), 200);
    health_listeners(&redis, 3).await;

    // This replica sees the provider refuse the token after a refresh: revoked.
    mock.break_connection("slack", "acme", fastn_auth_emulator::ConnectionBreak::Revoked);
    assert_eq!(slack.get("/auth.test").send().await.unwrap().status(), 401);
    let provider_calls = mock.requests_to(Endpoint::Api);
    for index in 0..2 {
        assert_eq!(next_line(index), "event broken", "replica {index}");
        assert_eq!(next_line(index), "call refused needs_reconnect=true", "replica {index}");
    }
    assert_eq!(mock.requests_to(Endpoint::Api), provider_calls, "no replica called with the revoked token");
    for (index, child) in replicas.iter_mut().enumerate() {
        drop(child.stdin.take());
        assert_eq!(next_line(index), "more events 0", "replica {index} heard it once");
    }
    for mut child in replicas {
        assert!(child.wait().unwrap().success());
    }
    let mut kinds = Vec::new();
    while let Some(Some(event)) =
        futures_util::FutureExt::now_or_never(futures_util::StreamExt::next(&mut events))
    {
        kinds.push(event.unwrap().kind.as_str().to_owned());
    }
    assert_eq!(kinds, ["broken"], "the replica that saw it heard it once, not again from the others");
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_starts_later_reads_that_the_connection_is_broken() {
    let Some(redis) = Redis::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme", CANARY);
    let first = client(&mock, &redis, KEY);
    mock.break_connection("slack", "acme", fastn_auth_emulator::ConnectionBreak::RefreshFailed);
    assert!(first.credentials("slack").tenant_id("acme").send().await.unwrap_err().needs_reconnect());
    // The state is written in the background: wait until the store holds it.
    let mut stored = false;
    for _ in 0..400 {
        stored = redis.dump().await.iter().any(|(name, _)| name.contains("/health"));
        if stored {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(stored, "the broken state was never stored");
    let asked = upstream(&mock);
    let later = client(&mock, &redis, KEY);
    let mut heard = later.events();
    let err = later.credentials("slack").tenant_id("acme").send().await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::ConnectionBroken { .. }),
        "known broken, refused unsent: {err:?}"
    );
    assert_eq!(upstream(&mock), asked, "the later replica did not ask Fastn");
    let health = later.health("slack").tenant_id("acme").send().await;
    assert!(matches!(health.state, fastn_auth::health::HealthState::Broken { .. }), "{health:?}");
    let told = futures_util::FutureExt::now_or_never(futures_util::StreamExt::next(&mut heard));
    assert!(told.is_none(), "a state read back is no event: {told:?}");
}
