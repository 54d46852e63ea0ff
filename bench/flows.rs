//! Flows: the SDK against a bare reqwest client issuing the same requests, and many
//! sessions waiting together.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fastn_auth::{FastnAuth, PollOptions, SessionHandle};
use fastn_auth_emulator::MockServer;
use serde_json::Value;

use crate::{Emulator, current_rss_mib, emulator_stats, peak_rss_mib, status_kib};

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

pub(crate) async fn flows_part(
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
pub(crate) struct BareClient {
    http: reqwest::Client,
    base_url: String,
}

impl BareClient {
    pub(crate) fn new(base_url: &str) -> Self {
        BareClient { http: reqwest::Client::new(), base_url: base_url.to_owned() }
    }

    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        tenant: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .header("x-fastn-space-id", "bench-space")
            .header("x-fastn-api-key", MockServer::API_KEY)
            .header("x-fastn-custom-auth", "true")
            .header("x-fastn-space-tenantid", tenant)
            .header("x-fastn-space-connection-id", "")
    }

    pub(crate) async fn json(&self, method: reqwest::Method, path: &str, tenant: &str) -> Option<Value> {
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

pub(crate) async fn waiting_part(
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
    // What every waiting session's task holds inline: its wait's future (never polled).
    let probe = client.resume(SessionHandle::new("slack", "probe"));
    let wait = probe.wait_for_completion(PollOptions::new(interval, Duration::from_secs(120)));
    println!("  the future of one wait: {} bytes", std::mem::size_of_val(&wait));
    drop(wait);
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
