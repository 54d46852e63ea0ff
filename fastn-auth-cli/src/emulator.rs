//! `emulator`: the Fastn API emulator on loopback until Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use fastn_auth_emulator::{ErrorShape, MockServer};

use crate::{Cli, Failure, usage};

/// The arguments of `emulator`.
#[derive(clap::Args)]
pub(crate) struct EmulatorArgs {
    /// Port on 127.0.0.1 (0: any free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Approve each flow by itself this long after init, e.g. 2s (0s: at once).
    #[arg(long, value_parser = humantime::parse_duration)]
    auto_approve: Option<Duration>,
    /// Give each extra field this manifest declares a value of its type, and serve the
    /// tools of its `registry:`.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Serve the tools of this registry file (instead of the manifest's).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// A rate limit per key, as Fastn announces one: LIMIT/WINDOW, e.g. 100/60s (every
    /// answer carries X-RateLimit-*; past it, 429 RATE_LIMITED).
    #[arg(long, value_parser = rate_limit)]
    rate_limit: Option<(u64, Duration)>,
    /// The shape of error answers: Fastn's documented envelope, or an older one.
    #[arg(long, value_enum, default_value_t = Shape::Documented)]
    error_shape: Shape,
    /// Print no line per request.
    #[arg(long)]
    quiet: bool,
}

/// `--error-shape`'s values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Shape {
    /// {"error": {"code", "message"}}
    Documented,
    /// {"error": "CODE", "message"}
    ErrorString,
    /// {"code": "CODE", "statusCode", "message"}
    CodeAndStatus,
}

/// `LIMIT/WINDOW` (`100/60s`): a limit of at least 1 per a window of at least a second.
fn rate_limit(text: &str) -> Result<(u64, Duration), String> {
    let expected =
        || format!("expected LIMIT/WINDOW such as 100/60s, got {}", fastn_auth_rules::escape(text, 40));
    let (limit, window) = text.split_once('/').ok_or_else(expected)?;
    let limit: u64 = limit.trim().parse().ok().filter(|limit| *limit > 0).ok_or_else(expected)?;
    let window = humantime::parse_duration(window.trim()).map_err(|_| expected())?;
    if window < Duration::from_secs(1) {
        return Err(format!("the window is at least 1s, got {}", fastn_auth_rules::escape(text, 40)));
    }
    Ok((limit, window))
}

/// Serves until Ctrl-C, accepting the key or token the clients use.
pub(crate) async fn run(cli: &Cli, args: &EmulatorArgs) -> Result<(), Failure> {
    let EmulatorArgs { port, auto_approve, manifest, registry, rate_limit, error_shape, quiet } = args;
    let port = *port;
    let shape = match error_shape {
        Shape::Documented => ErrorShape::Documented,
        Shape::ErrorString => ErrorShape::ErrorString,
        Shape::CodeAndStatus => ErrorShape::CodeAndStatus,
    };
    let mut builder = MockServer::builder().port(port).log_requests(!quiet).error_shape(shape);
    if let Some(delay) = auto_approve {
        builder = builder.auto_approve_after(*delay);
    }
    if let Some((limit, window)) = rate_limit {
        builder = builder.rate_limit(*limit, *window);
    }
    if let Some(path) = manifest {
        let written = path.display().to_string();
        let text = fastn_auth_codegen::read_text(path, &written).map_err(|err| usage(err.to_string()))?;
        builder = builder.connectors(text);
    }
    // The tools of the registry given, else of the manifest's `registry:`.
    let registry = match (registry, manifest) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(manifest)) => crate::tools::manifest_registry(manifest)?,
        (None, None) => None,
    };
    if let Some(path) = registry {
        // Checked when the emulator starts, which names what is wrong.
        let text = std::fs::read_to_string(&path)
            .map_err(|err| usage(format!("cannot read {}: {err}", path.display())))?;
        builder = builder.registry(text);
    }
    // It accepts the key or token the clients use (--api-key, FASTN_API_KEY, …)
    // instead of the public defaults.
    if let Some(key) = &cli.api_key {
        builder = builder.api_key(key.clone());
    }
    if let Some(token) = &cli.auth_token {
        builder = builder.auth_token(token.clone());
    }
    let mock = builder.start().await.map_err(|err| {
        let what = match err.kind() {
            std::io::ErrorKind::AddrInUse => {
                format!("port {port} on 127.0.0.1 is in use; pick another with --port")
            }
            _ => err.to_string(),
        };
        Failure { code: 3, message: format!("the emulator did not start: {what}") }
    })?;
    println!("{}", mock.base_url());
    let accepts = if cli.api_key.is_some() || cli.auth_token.is_some() {
        "the API key or token you gave (--api-key, FASTN_API_KEY, …)".to_owned()
    } else {
        format!("API key `{}` (or bearer `{}`)", MockServer::API_KEY, MockServer::AUTH_TOKEN)
    };
    eprintln!(
        "Fastn emulator on {}; space {}, {accepts}, also for its control API; provider APIs \
         under {} (FASTN_API_GATEWAY); Ctrl-C stops it",
        mock.base_url(),
        MockServer::SPACE_ID,
        mock.provider_url(),
    );
    tokio::signal::ctrl_c().await.map_err(|err| usage(format!("cannot wait for Ctrl-C: {err}")))?;
    Ok(())
}
