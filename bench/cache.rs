//! The credentials cache: hits against uncached calls, `ApiClient` against bare reqwest, Redis.

use std::time::{Duration, Instant};

use fastn_auth::{CacheOptions, FastnAuth};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use fastn_auth_redis::RedisStore;

use crate::{Emulator, fastn, stats_of};

pub(crate) async fn cache_part(
    hits: usize,
    uncached: usize,
    tenants: usize,
    calls: usize,
    seconds: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockServer::builder().record_requests(false).start().await?;
    for t in 0..tenants {
        let key = ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(format!("t{t}"));
        let creds = serde_json::json!({
            "access_token": format!("xoxb-{t}"), "refresh_token": format!("r-{t}"), "expires_in": 3600,
            "team_id": format!("T{t}"), "team_name": "acme", "bot_user_id": "U1", "scope": "chat:write",
        });
        mock.insert_connection(key, Some(creds));
    }
    let cached = mock.client_builder().cache(CacheOptions::default()).build()?;
    let plain = mock.client();
    println!(
        "cache: one tenant, {hits} hits of each kind, {uncached} uncached calls against the in-process emulator"
    );
    println!("  {:<28} {:>10} {:>10} {:>10}", "call", "p50", "p99", "p99.9");
    let untyped =
        time_calls(hits, || async { cached.credentials("slack").tenant_id("t0").send().await.is_ok() }).await;
    report_latency("cache hit, untyped", &untyped);
    let typed = time_calls(hits, || async {
        fastn::Slack::credentials(&cached).tenant_id("t0").send().await.is_ok()
    })
    .await;
    report_latency("cache hit, typed (Slack)", &typed);
    let direct =
        time_calls(uncached, || async { plain.credentials("slack").tenant_id("t0").send().await.is_ok() })
            .await;
    report_latency("uncached (loopback emulator)", &direct);

    // A client of its own, so that no tenant starts warm.
    let cached = mock.client_builder().cache(CacheOptions::default()).build()?;
    let before = mock.requests_served();
    let spread = Duration::from_secs(seconds) / calls.max(1) as u32;
    let started = Instant::now();
    let tasks: Vec<_> = (0..tenants)
        .map(|t| {
            let client = cached.clone();
            tokio::spawn(async move {
                let mut failures = 0usize;
                let mut tick = (!spread.is_zero()).then(|| tokio::time::interval(spread));
                for _ in 0..calls {
                    if let Some(tick) = tick.as_mut() {
                        tick.tick().await;
                    }
                    failures += usize::from(
                        client.credentials("slack").tenant_id(format!("t{t}")).send().await.is_err(),
                    );
                }
                failures
            })
        })
        .collect();
    let mut failures = 0;
    for task in tasks {
        failures += task.await?;
    }
    let upstream = mock.requests_served() - before;
    println!(
        "  {tenants} tenants x {calls} calls over {:.1?}: {} calls, {failures} failed, {upstream} upstream requests (target: exactly {tenants})",
        started.elapsed(),
        tenants * calls
    );
    println!("  cache stats: {:?}", cached.cache_stats());
    Ok(())
}

pub(crate) async fn api_part(calls: usize, rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
    use fastn_auth::ExposeSecret as _;
    // The emulator in a process of its own, so that its work does not share this
    // process's two worker threads with the clients measured.
    let emulator = Emulator::spawn(&[])?;
    let origin = emulator.base_url.trim_end_matches("/api").to_owned();
    let control = reqwest::Client::new();
    let made = control
        .post(format!("{origin}/_emulator/connections"))
        .header("x-fastn-api-key", MockServer::API_KEY)
        .json(&serde_json::json!({ "space_id": MockServer::SPACE_ID, "connector_id": "slack", "tenant_id": "t0" }))
        .send()
        .await?;
    if !made.status().is_success() {
        return Err(format!("the emulator did not make the connection: {}", made.status()).into());
    }
    let client = FastnAuth::builder(MockServer::SPACE_ID)
        .api_key(MockServer::API_KEY)
        .base_url(&emulator.base_url)
        .api_gateway(format!("{origin}/_provider"))
        .build()?;
    let slack = fastn::Slack::api(&client).tenant_id("t0");
    // The hand-written way: fetch the token once, copy it into each request.
    let credentials = client.credentials("slack").tenant_id("t0").send().await?;
    let token = credentials.access_token.ok_or("no access token")?.expose_secret().to_owned();
    let bare = reqwest::Client::new();
    let url = format!("{origin}/_provider/slack/auth.test");
    // Both read the whole answer, as a caller would.
    let sdk_call = || async {
        match slack.get("/auth.test").send().await {
            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
            Err(_) => false,
        }
    };
    let bare_call = || async {
        match bare.get(&url).bearer_auth(&token).send().await {
            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
            Err(_) => false,
        }
    };
    println!(
        "api: {rounds} rounds of {calls} sequential GETs per client, in blocks of {API_BLOCK} taking turns \
         (the order alternating), emulator in a child process, the token from a cache hit"
    );
    compare_in_rounds(("ApiClient", sdk_call), ("bare reqwest", bare_call), calls, rounds).await;
    let stats = stats_of(&control, &origin).await?;
    println!("  requests the emulator served, by endpoint: {}", stats["requests_to"]);
    Ok(())
}

/// Calls of one client in a row, in the `api` and `tools` parts.
const API_BLOCK: usize = 500;

/// Times two clients' calls in `rounds` rounds of `calls` each, in blocks of [`API_BLOCK`]
/// taking turns (the order alternating), after warming both; prints each round and the
/// ratio of the mean times, first ÷ second (target <= 1.05).
pub(crate) async fn compare_in_rounds<A, AF, B, BF>(
    (first_name, first): (&str, A),
    (second_name, second): (&str, B),
    calls: usize,
    rounds: usize,
) where
    A: Fn() -> AF,
    AF: std::future::Future<Output = bool>,
    B: Fn() -> BF,
    BF: std::future::Future<Output = bool>,
{
    // Warm both pools (and the cache).
    time_calls(200, &first).await;
    time_calls(200, &second).await;
    println!("  {:<28} {:>10} {:>10} {:>10} {:>10}", "call", "mean", "p50", "p99", "p99.9");
    let (mut all_first, mut all_second) = (Vec::new(), Vec::new());
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (mut a, mut b) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
        for block in 0..calls.div_ceil(API_BLOCK) {
            let size = API_BLOCK.min(calls - block * API_BLOCK);
            // Blocks, not single calls in turn: each client keeps its connection and its
            // code warm, as in a service that makes such calls all day.
            if (round + block) % 2 == 0 {
                a.extend(time_calls(size, &first).await);
                b.extend(time_calls(size, &second).await);
            } else {
                b.extend(time_calls(size, &second).await);
                a.extend(time_calls(size, &first).await);
            }
        }
        a.sort_unstable();
        b.sort_unstable();
        report_api(&format!("round {round}: {first_name}"), &a);
        report_api(&format!("round {round}: {second_name}"), &b);
        ratios.push(mean(&a) / mean(&b));
        all_first.extend(a);
        all_second.extend(b);
    }
    all_first.sort_unstable();
    all_second.sort_unstable();
    report_api(&format!("all: {first_name}"), &all_first);
    report_api(&format!("all: {second_name}"), &all_second);
    ratios.sort_by(f64::total_cmp);
    println!(
        "  mean-time ratio {first_name} / {second_name}: {:.3} over all calls (target <= 1.05); per round: {}",
        mean(&all_first) / mean(&all_second),
        ratios.iter().map(|r| format!("{r:.3}")).collect::<Vec<_>>().join(", "),
    );
}

fn mean(durations: &[Duration]) -> f64 {
    durations.iter().map(Duration::as_secs_f64).sum::<f64>() / durations.len().max(1) as f64
}

fn report_api(what: &str, sorted: &[Duration]) {
    let at = |q: f64| sorted.get(((sorted.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    let mean = Duration::from_secs_f64(mean(sorted));
    println!("  {what:<28} {mean:>10.2?} {:>10.2?} {:>10.2?} {:>10.2?}", at(0.50), at(0.99), at(0.999));
}

pub(crate) async fn redis_part(
    redis_url: &str,
    calls: usize,
    tls: Option<(String, Vec<u8>)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockServer::builder().record_requests(false).start().await?;
    for tenant in ["a", "b"] {
        let key = ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(tenant);
        mock.insert_connection(key, None);
    }
    // One in-process entry and two tenants taken in turn: every call misses the first
    // level and is answered by Redis.
    let shared_client = |store: RedisStore| -> Result<FastnAuth, fastn_auth::Error> {
        mock.client_builder().cache(CacheOptions::default().store(store).max_entries(1)).build()
    };
    let plain_store = RedisStore::builder([42; 32]).url(redis_url).key_prefix("fastn-auth-bench").build()?;
    let mut stores = vec![("Redis-level hit", shared_client(plain_store)?)];
    if let Some((url, ca)) = &tls {
        let store = RedisStore::builder([42; 32])
            .url(url)
            .root_certificate_pem(ca)
            .key_prefix("fastn-auth-bench")
            .build()?;
        stores.push(("Redis-level hit, TLS", shared_client(store)?));
    }
    let plain = mock.client();
    for (_, client) in &stores {
        for tenant in ["a", "b"] {
            client.credentials("slack").tenant_id(tenant).send().await?;
        }
    }
    let before = mock.requests_served();
    println!("redis: {calls} calls of each kind, Redis at {redis_url}, the in-process level kept cold");
    println!("  {:<28} {:>10} {:>10} {:>10}", "call", "p50", "p99", "p99.9");
    // In blocks that take turns, so that plain and TLS see the same machine.
    let mut timed: Vec<Vec<Duration>> = vec![Vec::new(); stores.len()];
    for block in 0..calls.div_ceil(API_BLOCK) {
        let size = API_BLOCK.min(calls - block * API_BLOCK);
        for (index, (_, client)) in stores.iter().enumerate() {
            let mut turn = 0usize;
            timed[index].extend(
                time_calls(size, || {
                    turn += 1;
                    let tenant = if turn.is_multiple_of(2) { "a" } else { "b" };
                    let request = client.credentials("slack").tenant_id(tenant);
                    async move { request.send().await.is_ok() }
                })
                .await,
            );
        }
    }
    let upstream = mock.requests_served() - before;
    for ((what, _), durations) in stores.iter().zip(&mut timed) {
        durations.sort_unstable();
        report_latency(what, durations);
    }
    let direct =
        time_calls(calls / 4, || async { plain.credentials("slack").tenant_id("a").send().await.is_ok() })
            .await;
    report_latency("uncached (loopback emulator)", &direct);
    if let [plain_hits, tls_hits] = &timed[..] {
        println!(
            "  TLS / plain, p50: {:.3}; mean: {:.3}",
            tls_hits[tls_hits.len() / 2].as_secs_f64() / plain_hits[plain_hits.len() / 2].as_secs_f64(),
            mean(tls_hits) / mean(plain_hits)
        );
    }
    for (what, client) in &stores {
        let stats = client.cache_stats().unwrap_or_default();
        println!("  {what}: store hits {}, store errors {}", stats.store_hits, stats.store_errors);
    }
    println!("  upstream requests during the Redis hits: {upstream}");
    Ok(())
}

/// Runs `call` `count` times one after another and returns each call's duration, sorted.
async fn time_calls<F, Fut>(count: usize, mut call: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut durations = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let ok = call().await;
        durations.push(started.elapsed());
        assert!(ok, "a timed call failed");
    }
    durations.sort_unstable();
    durations
}

fn report_latency(what: &str, sorted: &[Duration]) {
    let at = |q: f64| sorted.get(((sorted.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    println!("  {what:<28} {:>10.2?} {:>10.2?} {:>10.2?}", at(0.50), at(0.99), at(0.999));
}
