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

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::{Parser, Subcommand};
use fastn_auth_emulator::MockServer;
use serde_json::Value;

mod fastn {
    fastn_auth::connectors!("../connectors.yaml");
}

mod cache;
mod emulator;
mod flows;
mod impls;
mod macros;
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
    /// Peak memory of tool answers handed to a model: 16 concurrent 16 MiB answers.
    ModelAnswers {
        /// Concurrent calls.
        #[arg(long, default_value_t = 16)]
        calls: usize,
        /// The size of each answer, in MiB.
        #[arg(long, default_value_t = 16)]
        mib: usize,
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
    /// What each impl of a generated tool type costs `cargo check`: structs shaped like a
    /// generated input, bare and with one kind of impl at a time.
    MacroImpls {
        /// Structs in the crate.
        #[arg(long, default_value_t = 3000)]
        types: usize,
        /// Timed runs per row (the fastest is reported).
        #[arg(long, default_value_t = 2)]
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
            client()?.block_on(flows::flows_part(flows, concurrency, polls, runs, base_url))
        }
        Part::Waiting { sessions, interval, approve_after } => {
            client()?.block_on(flows::waiting_part(sessions, interval, approve_after))
        }
        Part::Emulator { seconds, concurrency } => {
            client()?.block_on(emulator::emulator_part(seconds, concurrency))
        }
        Part::EmulatorMemory { inits, flow_ttl } => {
            client()?.block_on(emulator::emulator_memory(inits, flow_ttl))
        }
        Part::Redis { redis_url, calls, tls_url, ca_file } => {
            let tls = match (tls_url, ca_file) {
                (Some(url), Some(ca)) => Some((url, std::fs::read(ca)?)),
                (None, None) => None,
                _ => return Err("--tls-url and --ca-file go together".into()),
            };
            client()?.block_on(cache::redis_part(&redis_url, calls, tls))
        }
        Part::Cache { hits, uncached, tenants, calls, seconds } => {
            client()?.block_on(cache::cache_part(hits, uncached, tenants, calls, seconds))
        }
        Part::Api { calls, rounds } => client()?.block_on(cache::api_part(calls, rounds)),
        Part::MacroScale { sizes, runs } => macros::macro_scale(&sizes, runs),
        Part::Tools { calls, rounds } => client()?.block_on(tools::tools_part(calls, rounds)),
        Part::ToolValidation { calls } => tools::validation_part(calls),
        Part::MacroTools { sizes, runs } => tools::macro_tools(&sizes, runs),
        Part::MacroImpls { types, runs } => impls::macro_impls(types, runs),
        Part::ModelAnswers { calls, mib } => client()?.block_on(tools::model_answers(calls, mib)),
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
// Process memory, from /proc.

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
