//! `emulator`: the Fastn API emulator on loopback until Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use fastn_auth_emulator::MockServer;

use crate::{Cli, Failure, usage};

/// Serves until Ctrl-C, accepting the key or token the clients use.
pub(crate) async fn run(
    cli: &Cli,
    port: u16,
    auto_approve: Option<Duration>,
    manifest: Option<&PathBuf>,
    registry: Option<&PathBuf>,
    quiet: bool,
) -> Result<(), Failure> {
    let mut builder = MockServer::builder().port(port).log_requests(!quiet);
    if let Some(delay) = auto_approve {
        builder = builder.auto_approve_after(delay);
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
