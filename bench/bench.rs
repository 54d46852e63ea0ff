//! Benchmarks of the SDK and the emulator; see BENCH.md for figures and what they mean.
//!
//! ```text
//! cargo run --release -p fastn-auth-bench -- flows             # SDK vs bare reqwest, same run
//! cargo run --release -p fastn-auth-bench -- waiting           # 10,000 sessions waiting at once
//! cargo run --release -p fastn-auth-bench -- emulator          # requests/s the emulator serves
//! cargo run --release -p fastn-auth-bench -- emulator-memory   # emulator RSS over 100,000 inits
//! cargo run --release -p fastn-auth-bench -- cache             # cache hits vs uncached calls
//! cargo run --release -p fastn-auth-bench -- api               # ApiClient GET vs bare reqwest GET
//! cargo run --release -p fastn-auth-bench -- redis --redis-url redis://127.0.0.1:6379/
//! cargo run --release -p fastn-auth-bench -- macro-scale       # compile time vs manifest size
//! cargo run --release -p fastn-auth-bench -- tools             # typed tool call vs bare reqwest POST
//! cargo run --release -p fastn-auth-bench -- tool-validation   # checking a model's call
//! cargo run --release -p fastn-auth-bench -- macro-tools       # the macro on 250 x 15 tools
//! bash bench/compare-python.sh                             # SDK vs the official Python client
//! ```
//!
//! Unless `--base-url` is given, the emulator runs in a child process (this same binary,
//! `serve-emulator`), so that the client's memory and CPU are measured on their own.
//! `BENCH_CLIENT_THREADS` and `BENCH_EMULATOR_THREADS` set the tokio worker threads of each
//! process (default: one per core).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use fastn_auth::{CacheOptions, FastnAuth, PollOptions, RedisStore};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use serde_json::Value;

mod fastn {
    fastn_auth::connectors!("../connectors.yaml");
}

mod tools;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Part,
}

#[derive(Subcommand)]
enum Part {
    /// Complete flows at a concurrency: the SDK and a bare reqwest client, alternating.
    Flows {
        /// Flows per run.
        #[arg(long, default_value_t = 20_000)]
        flows: usize,
        /// Flows in progress at once.
        #[arg(long, default_value_t = 100)]
        concurrency: usize,
        /// The poll on which the emulator approves (1: the first poll sees ACTIVE).
        #[arg(long, default_value_t = 3)]
        polls: u32,
        /// Runs of each client (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Only the SDK, once, against this emulator (for bench/compare-python.sh).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Many sessions waiting together: client memory and errors.
    Waiting {
        /// Sessions started at once.
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
        /// Poll interval.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        interval: Duration,
        /// When the emulator approves each flow.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        approve_after: Duration,
    },
    /// Simple requests per second the emulator answers.
    Emulator {
        /// Seconds of load.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Requests in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Emulator memory over many inits: flows expire, so RSS stays flat.
    EmulatorMemory {
        /// Inits in all.
        #[arg(long, default_value_t = 100_000)]
        inits: usize,
        /// How long the emulator keeps a flow.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        flow_ttl: Duration,
    },
    /// Credentials cache: hit latency, typed and untyped, against uncached calls; and the
    /// upstream requests of many tenants calling for a while.
    Cache {
        /// Timed cache hits of each kind.
        #[arg(long, default_value_t = 200_000)]
        hits: usize,
        /// Timed uncached calls.
        #[arg(long, default_value_t = 5_000)]
        uncached: usize,
        /// Tenants calling together.
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Calls per tenant.
        #[arg(long, default_value_t = 1_000)]
        calls: usize,
        /// Seconds the tenants' calls are spread over (0: as fast as they go).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// `ApiClient` GETs (token from a cache hit) against bare reqwest GETs with the token
    /// copied in by hand, to the same emulator endpoint, in alternating rounds.
    Api {
        /// Timed calls of each client per round.
        #[arg(long, default_value_t = 5_000)]
        calls: usize,
        /// Rounds (each client's medians are compared per round).
        #[arg(long, default_value_t = 9)]
        rounds: usize,
    },
    /// Hits of the shared Redis level with the in-process level cold, against uncached
    /// calls. Needs a Redis server: start a throwaway one with
    /// `redis-server --port 6390 --save ''`.
    Redis {
        /// The Redis server.
        #[arg(long)]
        redis_url: String,
        /// Timed calls of each kind.
        #[arg(long, default_value_t = 20_000)]
        calls: usize,
        /// A TLS server too (`rediss://…`), timed against the plain one in the same run.
        #[arg(long)]
        tls_url: Option<String>,
        /// The CA (PEM) of the TLS server's certificate.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Incremental `cargo check` time against manifest size.
    MacroScale {
        /// Manifest sizes, in connectors.
        #[arg(long, value_delimiter = ',', default_value = "10,265,500")]
        sizes: Vec<usize>,
        /// Timed runs per size (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Typed tool calls against bare reqwest POSTs of the same envelope, same endpoint.
    Tools {
        /// Timed calls of each client per round.
        #[arg(long, default_value_t = 5_000)]
        calls: usize,
        /// Rounds.
        #[arg(long, default_value_t = 9)]
        rounds: usize,
    },
    /// What checking a model's tool call costs.
    ToolValidation {
        /// Calls per timed run.
        #[arg(long, default_value_t = 100_000)]
        calls: usize,
    },
    /// `cargo check` and generated code size of `tools: all` on large registries.
    MacroTools {
        /// Registry sizes, in connectors of 15 tools.
        #[arg(long, value_delimiter = ',', default_value = "50,250")]
        sizes: Vec<usize>,
        /// Timed incremental runs per size (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Runs the emulator in this process and prints its base URL (used by the other parts).
    #[command(hide = true)]
    ServeEmulator {
        #[arg(long)]
        approve_polls: Option<u32>,
        #[arg(long, value_parser = humantime::parse_duration)]
        approve_after: Option<Duration>,
        #[arg(long, value_parser = humantime::parse_duration)]
        flow_ttl: Option<Duration>,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let runtime = |threads_var: &str| -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(threads) = std::env::var(threads_var).ok().and_then(|n| n.parse::<usize>().ok()) {
            builder.worker_threads(threads);
        }
        builder.enable_all().build()
    };
    // Each process builds only its own runtime: the emulator child gets no idle client threads.
    let client = || runtime("BENCH_CLIENT_THREADS");
    match cli.command {
        Part::Flows { flows, concurrency, polls, runs, base_url } => {
            client()?.block_on(flows_part(flows, concurrency, polls, runs, base_url))
        }
        Part::Waiting { sessions, interval, approve_after } => {
            client()?.block_on(waiting_part(sessions, interval, approve_after))
        }
        Part::Emulator { seconds, concurrency } => client()?.block_on(emulator_part(seconds, concurrency)),
        Part::EmulatorMemory { inits, flow_ttl } => client()?.block_on(emulator_memory(inits, flow_ttl)),
        Part::Redis { redis_url, calls, tls_url, ca_file } => {
            let tls = match (tls_url, ca_file) {
                (Some(url), Some(ca)) => Some((url, std::fs::read(ca)?)),
                (None, None) => None,
                _ => return Err("--tls-url and --ca-file go together".into()),
            };
            client()?.block_on(redis_part(&redis_url, calls, tls))
        }
        Part::Cache { hits, uncached, tenants, calls, seconds } => {
            client()?.block_on(cache_part(hits, uncached, tenants, calls, seconds))
        }
        Part::Api { calls, rounds } => client()?.block_on(api_part(calls, rounds)),
        Part::MacroScale { sizes, runs } => macro_scale(&sizes, runs),
        Part::Tools { calls, rounds } => client()?.block_on(tools::tools_part(calls, rounds)),
        Part::ToolValidation { calls } => tools::validation_part(calls),
        Part::MacroTools { sizes, runs } => tools::macro_tools(&sizes, runs),
        Part::ServeEmulator { approve_polls, approve_after, flow_ttl } => runtime("BENCH_EMULATOR_THREADS")?
            .block_on(serve_emulator(approve_polls, approve_after, flow_ttl)),
    }
}

// ---------------------------------------------------------------------------------------
// The emulator in a child process.

async fn serve_emulator(
    approve_polls: Option<u32>,
    approve_after: Option<Duration>,
    flow_ttl: Option<Duration>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder =
        MockServer::builder().connectors(fastn::MANIFEST).registry(fastn::REGISTRY).record_requests(false);
    if let Some(ttl) = flow_ttl {
        builder = builder.flow_ttl(ttl);
    }
    if let Some(polls) = approve_polls {
        builder = builder.auto_approve_after_polls(polls);
    }
    if let Some(delay) = approve_after {
        builder = builder.auto_approve_after(delay);
    }
    let mock = builder.start().await?;
    println!("{}", mock.base_url());
    // Serve until the parent closes our stdin (or kills us).
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await??;
    Ok(())
}

struct Emulator {
    child: Child,
    base_url: String,
}

impl Emulator {
    fn spawn(args: &[&str]) -> Result<Emulator, Box<dyn std::error::Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve-emulator")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?),
            &mut line,
        )?;
        Ok(Emulator { child, base_url: line.trim().to_owned() })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /_emulator/stats` of the emulator at `origin` (the control API asks for its key).
async fn stats_of(http: &reqwest::Client, origin: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let stats = http
        .get(format!("{origin}/_emulator/stats"))
        .header("x-fastn-api-key", MockServer::API_KEY)
        .send()
        .await?
        .json()
        .await?;
    Ok(stats)
}

async fn emulator_stats(
    http: &reqwest::Client,
    base_url: &str,
) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let stats = stats_of(http, base_url.trim_end_matches("/api")).await?;
    let field = |name: &str| stats[name].as_u64().ok_or_else(|| format!("stats lack {name}"));
    Ok((field("connections_accepted")?, field("requests_served")?))
}

// ---------------------------------------------------------------------------------------
// Flows: the SDK against a bare reqwest client issuing the same requests.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Contender {
    Sdk,
    Bare,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Sdk => "fastn-auth",
            Contender::Bare => "bare reqwest",
        }
    }
}

struct RunResult {
    flows_per_sec: f64,
    requests_per_sec: f64,
    p50: Duration,
    p99: Duration,
    connections_per_flow: f64,
    errors: usize,
}

async fn flows_part(
    flows: usize,
    concurrency: usize,
    polls: u32,
    runs: usize,
    base_url: Option<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (_emulator, base_url) = match base_url {
        Some(url) => (None, url),
        None => {
            let emulator = Emulator::spawn(&["--approve-polls", &polls.to_string()])?;
            let url = emulator.base_url.clone();
            (Some(emulator), url)
        }
    };
    let only_sdk = _emulator.is_none();
    println!(
        "flows: {flows} per run, concurrency {concurrency}, approval on poll {polls}, emulator at {base_url}"
    );
    let mut sdk = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..if only_sdk { 1 } else { runs } {
        let contenders: &[Contender] =
            if only_sdk { &[Contender::Sdk] } else { &[Contender::Bare, Contender::Sdk] };
        for &contender in contenders {
            let result = run_flows(contender, &base_url, flows, concurrency).await?;
            println!(
                "  {:<13} {:>9.0} flows/s {:>9.0} requests/s  p50 {:>7.2?}  p99 {:>7.2?}  {:.4} connections/flow  {} errors",
                contender.name(),
                result.flows_per_sec,
                result.requests_per_sec,
                result.p50,
                result.p99,
                result.connections_per_flow,
                result.errors
            );
            if contender == Contender::Sdk { &mut sdk } else { &mut bare }.push(result);
        }
    }
    let median = |results: &mut Vec<RunResult>| {
        results.sort_by(|a, b| a.flows_per_sec.total_cmp(&b.flows_per_sec));
        results.get(results.len() / 2).map(|r| r.flows_per_sec)
    };
    let sdk_rate = median(&mut sdk).unwrap_or_default();
    println!("peak RSS of this process (client side): {:.1} MiB", peak_rss_mib());
    if let Some(bare_rate) = median(&mut bare) {
        println!(
            "median: fastn-auth {sdk_rate:.0} flows/s, bare reqwest {bare_rate:.0} flows/s, ratio {:.3} (target >= 0.90)",
            sdk_rate / bare_rate
        );
    } else {
        let connections = sdk.first().map_or(0.0, |r| r.connections_per_flow);
        println!("RESULT flows_per_sec={sdk_rate:.1} connections_per_flow={connections:.4}");
    }
    Ok(())
}

async fn run_flows(
    contender: Contender,
    base_url: &str,
    flows: usize,
    concurrency: usize,
) -> Result<RunResult, Box<dyn std::error::Error>> {
    let stats_http = reqwest::Client::new();
    let (connections_before, requests_before) = emulator_stats(&stats_http, base_url).await?;
    let sdk = FastnAuth::builder("bench-space").api_key(MockServer::API_KEY).base_url(base_url).build()?;
    let bare = Arc::new(BareClient::new(base_url));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (sdk, bare, next) = (sdk.clone(), bare.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let flow = next.fetch_add(1, Ordering::Relaxed);
                    if flow >= flows {
                        return (latencies, errors);
                    }
                    let tenant = format!("tenant-{flow}");
                    let began = Instant::now();
                    let ok = match contender {
                        Contender::Sdk => sdk_flow(&sdk, &tenant).await,
                        Contender::Bare => bare.flow(&tenant).await,
                    };
                    if ok {
                        latencies.push(began.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(flows);
    let mut errors = 0;
    for worker in workers {
        let (mut done, failed) = worker.await?;
        latencies.append(&mut done);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop((sdk, bare));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (connections_after, requests_after) = emulator_stats(&stats_http, base_url).await?;
    latencies.sort();
    let quantile =
        |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    // One of the counted connections is our own stats call (control calls are not counted
    // as requests).
    let connections = connections_after.saturating_sub(connections_before + 1);
    let requests = requests_after.saturating_sub(requests_before);
    Ok(RunResult {
        flows_per_sec: latencies.len() as f64 / elapsed,
        requests_per_sec: requests as f64 / elapsed,
        p50: quantile(0.50),
        p99: quantile(0.99),
        connections_per_flow: connections as f64 / flows as f64,
        errors,
    })
}

async fn sdk_flow(client: &FastnAuth, tenant: &str) -> bool {
    let Ok(session) = client.connect("slack").tenant_id(tenant).send().await else {
        return false;
    };
    // The shortest interval: the bare client does not pause between polls either.
    session
        .wait_for_completion(PollOptions::new(Duration::from_nanos(1), Duration::from_secs(60)))
        .await
        .is_ok()
}

/// The same request sequence with no SDK logic: no validation, retries or typing.
struct BareClient {
    http: reqwest::Client,
    base_url: String,
}

impl BareClient {
    fn new(base_url: &str) -> Self {
        BareClient { http: reqwest::Client::new(), base_url: base_url.to_owned() }
    }

    fn request(&self, method: reqwest::Method, path: &str, tenant: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .header("x-fastn-space-id", "bench-space")
            .header("x-fastn-api-key", MockServer::API_KEY)
            .header("x-fastn-custom-auth", "true")
            .header("x-fastn-space-tenantid", tenant)
            .header("x-fastn-space-connection-id", "")
    }

    async fn json(&self, method: reqwest::Method, path: &str, tenant: &str) -> Option<Value> {
        self.request(method, path, tenant).send().await.ok()?.json().await.ok()
    }

    async fn flow(&self, tenant: &str) -> bool {
        let Some(init) = self.json(reqwest::Method::POST, "/connect/init/community/slack", tenant).await
        else {
            return false;
        };
        let Some(state) = init["state"].as_str() else { return false };
        loop {
            let Some(status) =
                self.json(reqwest::Method::GET, &format!("/connect/status/{state}"), tenant).await
            else {
                return false;
            };
            match status["status"].as_str() {
                Some("ACTIVE") => break,
                Some("INACTIVE") => continue,
                _ => return false,
            }
        }
        self.json(reqwest::Method::GET, "/connect/credentials/community/slack", tenant).await.is_some()
    }
}

// ---------------------------------------------------------------------------------------
// Many sessions waiting together.

async fn waiting_part(
    sessions: usize,
    interval: Duration,
    approve_after: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let emulator =
        Emulator::spawn(&["--approve-after", &humantime::format_duration(approve_after).to_string()])?;
    let client = FastnAuth::builder("bench-space")
        .api_key(MockServer::API_KEY)
        .base_url(&emulator.base_url)
        .build()?;
    // Warm up: one flow, so that the pool, TLS-less connector and runtime are in place.
    drop(client.connect("slack").send().await?);
    let before = current_rss_mib();
    println!(
        "waiting: {sessions} sessions, poll every {interval:?}, approval after {approve_after:?}; client RSS before: {before:.1} MiB"
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..sessions)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let session = client.connect("slack").tenant_id(format!("tenant-{i}")).send().await?;
                let result =
                    session.wait_for_completion(PollOptions::new(interval, Duration::from_secs(120))).await;
                // Keep only the outcome, as an app that stores the credentials away would.
                result.map(drop)
            })
        })
        .collect();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        if let Err(err) = task.await? {
            errors += 1;
            first_error.get_or_insert(err.to_string());
        }
    }
    let peak = peak_rss_mib();
    let (connections, requests) = emulator_stats(&reqwest::Client::new(), &emulator.base_url).await?;
    println!(
        "  all done in {:.2?}: {errors} errors{}; {requests} requests over {connections} connections",
        started.elapsed(),
        first_error.map(|e| format!(" (first: {e})")).unwrap_or_default()
    );
    println!("  client peak RSS {peak:.1} MiB, growth {:.1} MiB (target <= 64 MiB, 0 errors)", peak - before);
    let emulator_peak = status_kib(&format!("/proc/{}/status", emulator.child.id()), "VmHWM:") / 1024.0;
    println!(
        "  emulator process peak RSS {emulator_peak:.1} MiB with {sessions} sessions (target: well under 100 MiB)"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The credentials cache.

async fn cache_part(
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

async fn api_part(calls: usize, rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
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
async fn compare_in_rounds<A, AF, B, BF>(
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

async fn redis_part(
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

// ---------------------------------------------------------------------------------------
// Emulator memory.

async fn emulator_memory(inits: usize, flow_ttl: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::spawn(&["--flow-ttl", &humantime::format_duration(flow_ttl).to_string()])?;
    let bare = Arc::new(BareClient::new(&emulator.base_url));
    let status = format!("/proc/{}/status", emulator.child.id());
    println!("emulator-memory: {inits} inits, flows expire after {flow_ttl:?}");
    let step = (inits / 10).max(1);
    let started = Instant::now();
    let mut done = 0;
    while done < inits {
        let batch = step.min(inits - done);
        let tasks: Vec<_> = (0..32)
            .map(|worker| {
                let bare = bare.clone();
                tokio::spawn(async move {
                    let mut ok = 0usize;
                    for i in (worker..batch).step_by(32) {
                        let tenant = format!("t{i}");
                        ok += usize::from(
                            bare.json(reqwest::Method::POST, "/connect/init/community/slack", &tenant)
                                .await
                                .is_some(),
                        );
                    }
                    ok
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            ok += task.await?;
        }
        done += batch;
        let rss = status_kib(&status, "VmRSS:") / 1024.0;
        println!(
            "  {done:>7} inits ({ok}/{batch} ok) after {:.1?}: emulator RSS {rss:.1} MiB",
            started.elapsed()
        );
    }
    let peak = status_kib(&status, "VmHWM:") / 1024.0;
    println!("  emulator peak RSS {peak:.1} MiB (target: flat, not growing with the inits)");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Emulator capacity.

async fn emulator_part(seconds: u64, concurrency: usize) -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::spawn(&[])?;
    let bare = Arc::new(BareClient::new(&emulator.base_url));
    let init =
        bare.json(reqwest::Method::POST, "/connect/init/community/slack", "").await.ok_or("init failed")?;
    let path = format!("/connect/status/{}", init["state"].as_str().ok_or("no state")?);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (bare, path) = (bare.clone(), path.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let response = bare.request(reqwest::Method::GET, &path, "").send().await;
                    if let Ok(response) = response
                        && response.status().is_success()
                        && response.bytes().await.is_ok()
                    {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let started = Instant::now();
    let mut total = 0;
    for worker in workers {
        total += worker.await?;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "emulator: {rate:.0} status requests/s over {seconds} s at concurrency {concurrency} (target >= 20,000), load generator on the same 2 cores"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Macro scale: incremental `cargo check` of a crate whose manifest grows.

/// A crate `name` under the target directory whose lib is `connectors!("connectors.yaml")`
/// on the workspace's fastn-auth; its directory.
fn macro_crate(name: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    // The workspace root: this package is its `bench/`.
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let dir = target.join(format!("bench-{name}"));
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nfastn-auth = {{ path = {:?} }}\n\n[workspace]\n",
            root.join("fastn-auth")
        ),
    )?;
    std::fs::write(
        dir.join("src/lib.rs"),
        "//! A benchmark of the macro.\n#![allow(missing_docs)]\nfastn_auth::connectors!(\"connectors.yaml\");\n",
    )?;
    Ok(dir)
}

fn macro_scale(sizes: &[usize], runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = macro_crate("macro-scale")?;
    let manifest = dir.join("connectors.yaml");
    println!("macro scale: incremental `cargo check` after touching a manifest, median of {runs} runs");
    let mut medians: Vec<(usize, Duration, usize)> = Vec::new();
    for &size in sizes {
        std::fs::write(&manifest, generated_manifest(size))?;
        cargo_check(&dir)?; // warm: dependencies and the first expansion
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                std::fs::write(&manifest, generated_manifest(size))?;
                cargo_check(&dir)
            })
            .collect::<Result<_, _>>()?;
        times.sort();
        let median = times[times.len() / 2];
        let lines = expanded_lines(&dir)?;
        println!("  {size:>4} connectors: {median:>8.2?}  ({lines} lines after expansion)");
        medians.push((size, median, lines));
    }
    if let (Some(&(small, t_small, l_small)), Some(&(large, t_large, l_large))) =
        (medians.first(), medians.last())
    {
        let connectors = (large - small) as f64;
        let marginal = (t_large.as_secs_f64() - t_small.as_secs_f64()) * 1000.0 / connectors;
        let lines = (l_large as f64 - l_small as f64) / connectors;
        println!(
            "  marginal: {marginal:.2} ms and {lines:.1} expanded lines per connector ({small} → {large}; target <= 5 ms)"
        );
    }
    Ok(())
}

fn generated_manifest(size: usize) -> String {
    let mut yaml = String::from("version: 1\nconnectors:\n");
    for i in 0..size {
        yaml.push_str(&format!(
            "  connector-{i}:\n    description: Connector number {i}.\n    extra:\n      instanceUrl: url\n      \
             team_id: string\n      hub_id: integer\n      signing_secret: secret?\n      scopes: list<string>?\n"
        ));
    }
    yaml
}

fn cargo_check(dir: &Path) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let status = Command::new(env!("CARGO")).args(["check", "--quiet"]).current_dir(dir).status()?;
    if !status.success() {
        return Err(format!("cargo check failed in {}", dir.display()).into());
    }
    Ok(started.elapsed())
}

/// Lines of the crate after macro expansion, formatted (nightly's `-Zunpretty=expanded`
/// when available; 0 otherwise).
fn expanded_lines(dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let output = Command::new("cargo")
        .args(["+nightly", "rustc", "--quiet", "--lib", "--profile", "check", "--", "-Zunpretty=expanded"])
        .env("CARGO_TARGET_DIR", dir.join("target-nightly"))
        .current_dir(dir)
        .stderr(Stdio::null())
        .output()?;
    Ok(if output.status.success() { String::from_utf8_lossy(&output.stdout).lines().count() } else { 0 })
}

// ---------------------------------------------------------------------------------------

fn status_kib(file: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(file).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn peak_rss_mib() -> f64 {
    status_kib("/proc/self/status", "VmHWM:") / 1024.0
}

fn current_rss_mib() -> f64 {
    status_kib("/proc/self/status", "VmRSS:") / 1024.0
}
