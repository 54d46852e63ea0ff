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
use fastn_auth::mock::MockServer;
use fastn_auth_workspace::{Backend, GoogleSheets, client_from_env};
use indicatif::{ProgressBar, ProgressStyle};

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
    let emulator = MockServer::builder();
    let emulator = if manual { emulator } else { emulator.auto_approve_after(Duration::from_secs(2)) };
    let (client, backend) = client_from_env(emulator).await?;
    match &backend {
        Backend::Live => println!("Using the Fastn API at {}", client.base_url()),
        Backend::Emulator(_) if manual => {
            println!("Using the local Fastn emulator: open the URL below and click Approve")
        }
        Backend::Emulator(_) => println!("Using the local Fastn emulator (it approves by itself in 2 s)"),
    }

    let session = GoogleSheets::connect(&client).tenant_id("acme").send().await?;
    println!("Send the user to: {}", session.redirect_url());

    let spinner = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} waiting for the user to authorize… {elapsed}")?);
    spinner.enable_steady_tick(Duration::from_millis(100));
    let interval =
        if matches!(backend, Backend::Live) { Duration::from_secs(2) } else { Duration::from_millis(500) };
    let outcome = session.wait_for_completion(PollOptions::new(interval, Duration::from_secs(300))).await;
    spinner.finish_and_clear();

    let credentials = outcome?.credentials.ok_or("the flow completed without credentials")?;
    println!("Connected google-sheets for tenant acme.");
    println!("scope: {}", credentials.extra.scope);
    println!("expires_in: {:?}", credentials.expires_in);
    println!("credentials: {credentials:#?}");
    Ok(())
}
