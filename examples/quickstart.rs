//! A whole connector flow: start it for a tenant, send the user to the consent page, wait,
//! print the typed credentials (tokens redacted).
//!
//! ```text
//! cargo run --example quickstart              # offline: the emulator approves by itself
//! cargo run --example quickstart -- --manual  # offline: you click Approve in a browser
//! FASTN_SPACE_ID=… FASTN_API_KEY=… cargo run --example quickstart   # the live API
//! ```

use std::process::ExitCode;
use std::time::Duration;

use fastn_auth::PollOptions;
use fastn_auth_emulator::MockServer;
use indicatif::{ProgressBar, ProgressStyle};

mod fastn {
    // Typed connectors from the manifest next to Cargo.toml.
    fastn_auth::connectors!("connectors.yaml");
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().any(|arg| arg == "--manual")).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(manual: bool) -> Result<(), Box<dyn std::error::Error>> {
    // The live API when FASTN_SPACE_ID is set; otherwise a local emulator.
    let emulator = MockServer::builder().connectors(fastn::MANIFEST);
    let emulator = if manual { emulator } else { emulator.auto_approve_after(Duration::from_secs(2)) };
    // `emulator` keeps the local emulator alive for as long as the flow runs.
    let (client, emulator) = emulator.start_unless_live().await?;
    let interval = match (&emulator, manual) {
        (None, _) => {
            println!("Using the Fastn API at {}", client.base_url());
            Duration::from_secs(2)
        }
        (Some(_), true) => {
            println!("Using the local Fastn emulator: open the URL below and click Approve");
            Duration::from_millis(500)
        }
        (Some(_), false) => {
            println!("Using the local Fastn emulator (it approves by itself in 2 s)");
            Duration::from_millis(500)
        }
    };

    let session = fastn::GoogleSheets::connect(&client).tenant_id("acme").send().await?;
    if let Some(url) = session.redirect_url() {
        println!("Send the user to: {url}");
    }

    let spinner = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} waiting for the user to authorize… {elapsed}")?);
    spinner.enable_steady_tick(Duration::from_millis(100));
    let outcome = session.wait_for_completion(PollOptions::new(interval, Duration::from_secs(300))).await;
    spinner.finish_and_clear();

    let credentials = outcome?;
    println!("Connected google-sheets for tenant acme.");
    println!("scope: {}", credentials.extra.scope);
    if let Some(at) = credentials.expires_at() {
        let left = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
        println!("expires in: {} s", left.as_secs());
    }
    println!("credentials: {credentials:#?}");
    Ok(())
}
