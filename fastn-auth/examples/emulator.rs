//! The Fastn API emulator as a standalone server, for curl, other clients and manual tests.
//!
//! ```text
//! cargo run -p fastn-auth --features mock --example emulator -- --port 8787 --auto-approve 50ms
//! ```
//! Prints its base URL on stdout, then serves until Ctrl-C, logging a line per request on
//! stderr unless `--quiet`. Scripts drive it over HTTP under `/_emulator/` (see the README).

use std::time::Duration;

use clap::Parser;
use fastn_auth::mock::{KeyCase, MockServer, Wrapping};

/// A local emulator of the Fastn connect API.
#[derive(Parser)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Approve each flow by itself this long after init (`0ms`: at once), e.g. `50ms`, `2s`.
    #[arg(long, value_parser = humantime::parse_duration)]
    auto_approve: Option<Duration>,
    /// Approve each flow by itself on its n-th poll.
    #[arg(long, conflicts_with = "auto_approve")]
    auto_approve_polls: Option<u32>,
    /// Accept this API key as well as `mock-api-key` (repeatable).
    #[arg(long = "api-key")]
    api_keys: Vec<String>,
    /// Send credentials as the bare object instead of the success envelope.
    #[arg(long)]
    bare: bool,
    /// Spell the common credential keys in camelCase (client 1.0.4).
    #[arg(long)]
    camel_case: bool,
    /// Keep no request log (for long benchmarks).
    #[arg(long)]
    no_log: bool,
    /// Give each extra field this connectors manifest declares a value of its type.
    #[arg(long)]
    manifest: Option<std::path::PathBuf>,
    /// Print no line per request.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut builder =
        MockServer::builder().port(args.port).record_requests(!args.no_log).log_requests(!args.quiet);
    if let Some(manifest) = args.manifest {
        builder = builder.manifest(manifest);
    }
    builder = builder.credentials_shape(
        if args.bare { Wrapping::Bare } else { Wrapping::Envelope },
        if args.camel_case { KeyCase::Camel } else { KeyCase::Snake },
    );
    if let Some(delay) = args.auto_approve {
        builder = builder.auto_approve_after(delay);
    }
    if let Some(polls) = args.auto_approve_polls {
        builder = builder.auto_approve_after_polls(polls);
    }
    for key in args.api_keys {
        builder = builder.api_key(key);
    }
    let mock = builder.start().await?;
    println!("{}", mock.base_url());
    eprintln!(
        "Fastn emulator listening; API key `{}` or bearer `{}`; Ctrl-C stops it",
        MockServer::API_KEY,
        MockServer::AUTH_TOKEN
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
