//! The emulator's memory over many inits, and the requests per second it serves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::flows::BareClient;
use crate::{Emulator, status_kib};

pub(crate) async fn emulator_memory(
    inits: usize,
    flow_ttl: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
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

pub(crate) async fn emulator_part(
    seconds: u64,
    concurrency: usize,
) -> Result<(), Box<dyn std::error::Error>> {
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
