//! `fastn-auth`: connect a test tenant, look at its credentials, call the connected app's
//! API, run Fastn tools and sync their registry, check a connectors manifest in CI, see
//! what `connectors!` generates, serve a tenant's tools to agents over MCP, run the Fastn
//! API emulator.
//!
//! Exit codes: 0 done; 1 usage or configuration (a missing variable, a broken manifest);
//! 2 the flow failed or timed out; 3 Fastn (or the app's API) could not be reached or
//! answered with an error; 4 the app's API (or a tool's provider) answered with a status
//! that is not 2xx.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use fastn_auth::{ErrorCode, FastnAuth, FastnAuthBuilder};
use serde_json::json;

use output::print_json;

/// Fastn connector authentication from the terminal. The connection's flags (or their
/// FASTN_* variables) come before the command: `fastn-auth --api-key K credentials slack`.
#[derive(Parser)]
#[command(name = "fastn-auth", version, about, long_about = None)]
struct Cli {
    /// The space id (`x-fastn-space-id`).
    #[arg(long, env = fastn_auth::env::SPACE_ID, hide_env_values = true)]
    space_id: Option<String>,
    /// The API key; or set --auth-token. The emulator accepts it too.
    #[arg(long, env = fastn_auth::env::API_KEY, hide_env_values = true)]
    api_key: Option<String>,
    /// A bearer token instead of an API key.
    #[arg(long, env = fastn_auth::env::AUTH_TOKEN, hide_env_values = true)]
    auth_token: Option<String>,
    /// The API's base URL (default `https://live.fastn.ai/api`).
    #[arg(long, env = fastn_auth::env::BASE_URL, hide_env_values = true)]
    base_url: Option<String>,
    /// Send `api` calls to `{URL}/{connector}/…` instead of the app itself: the emulator's
    /// provider API (`http://127.0.0.1:8787/_provider`).
    #[arg(long, env = fastn_auth::env::API_GATEWAY, hide_env_values = true)]
    api_gateway: Option<String>,
    /// Allow a plain-http base URL to a host that is not loopback: the key travels
    /// unencrypted (a test deployment behind a trusted network only).
    #[arg(long)]
    allow_insecure_http: bool,
    /// Print JSON for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Print tokens and secret-looking fields in clear.
    #[arg(long, global = true)]
    reveal: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Starts a flow, prints where the user authorizes, waits, prints the credentials.
    Connect {
        /// The connector id, e.g. slack.
        connector: String,
        #[command(flatten)]
        target: Target,
        /// Open the authorization page in the browser.
        #[arg(long)]
        open: bool,
        /// How long to wait for the user, e.g. 90s, 5m.
        #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Time between status polls.
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        interval: Duration,
    },
    /// Where a flow stands, by its state.
    Status {
        /// The connector id the flow was started for, e.g. slack.
        connector: String,
        /// The flow's state (its session id).
        state: String,
        /// The tenant the flow was started for.
        #[arg(long)]
        tenant: Option<String>,
        /// The connection the flow was started for.
        #[arg(long)]
        connection: Option<String>,
    },
    /// The credentials of a connection made earlier.
    Credentials {
        /// The connector id, e.g. slack.
        connector: String,
        #[command(flatten)]
        target: Target,
    },
    /// Whether a tenant's connection works, asked of Fastn now: prints healthy, broken (with
    /// why) or disconnected. Exit 0 healthy, 2 when the tenant must connect again, 3 when
    /// Fastn could not tell.
    Health {
        /// The connector id, e.g. slack.
        connector: String,
        #[command(flatten)]
        target: Target,
    },
    /// Prints every change of a connection's health that the service's replicas sharing a
    /// Redis store see (broken, reconnected, …), one JSON object per line, until Ctrl-C.
    /// Configure it as the service is (the same space, key and base URL).
    Events {
        /// The replicas' Redis.
        #[arg(long, env = "FASTN_REDIS_URL", hide_env_values = true)]
        redis_url: Option<String>,
        /// The store's key, 64 hex characters.
        #[arg(long = "cache-key", env = "FASTN_CACHE_KEY", hide_env_values = true)]
        cache_key: Option<String>,
    },
    /// Calls the connected app's own API for a tenant with its token, like `gh api`:
    /// `fastn-auth api slack GET /auth.test --tenant acme`. Prints the status on stderr and
    /// the body on stdout (`--json`: one object with both).
    Api(ApiArgs),
    /// Checks or expands a connectors manifest.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Fastn tools: list them, print them for a model, run one for a tenant, sync the
    /// registry from Fastn.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Serves a tenant's tools to an AI agent as an MCP server: on stdio (an IDE or a
    /// desktop assistant starts it), or streamable HTTP with --http. A call for an app the
    /// tenant has not connected answers with the link to connect it.
    Mcp(mcp::McpArgs),
    /// Runs the Fastn API emulator on loopback until Ctrl-C.
    Emulator(emulator::EmulatorArgs),
    /// Prints shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// Exits 1 with the macro's own errors (file:line:col) when the manifest is broken.
    Check {
        /// The manifest.
        #[arg(default_value = "connectors.yaml")]
        path: PathBuf,
    },
    /// Prints the Rust that `connectors!` generates for the manifest, formatted.
    Expand {
        /// The manifest.
        #[arg(default_value = "connectors.yaml")]
        path: PathBuf,
    },
}

#[derive(Subcommand)]
enum ToolsCommand {
    /// A line per tool: the name a model calls it by, connector, tool, description.
    List {
        /// Only this connector's tools.
        connector: Option<String>,
        #[command(flatten)]
        source: tools::Source,
    },
    /// The tools as a model provider's tool list (JSON).
    Schema {
        /// Only this connector's tools.
        connector: Option<String>,
        /// openai, openai-responses, anthropic, gemini or bedrock.
        #[arg(long, default_value = "openai")]
        format: String,
        /// OpenAI's strict mode (openai and openai-responses): every object closed, every
        /// property required, optional ones nullable.
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        source: tools::Source,
    },
    /// Runs a tool for a tenant: `fastn-auth tools run slack send_message --tenant acme
    /// '{"channel": "C1", "text": "hi"}'`. The provider's status on stderr, the body on
    /// stdout; exit code 4 for a status of 400 or more.
    Run(tools::RunArgs),
    /// Writes the registry (the manifest's `registry:`, else .fastn/registry.json) from
    /// Fastn: every scope and page; nothing is written when a part fails.
    Sync {
        /// The file to write.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also read this org's connectors (between the workspace's and the community's).
        #[arg(long)]
        org: Option<String>,
        /// Write what could be read even when a scope or connector failed.
        #[arg(long)]
        partial: bool,
        /// The manifest whose `registry:` names the file.
        #[arg(long, default_value = "connectors.yaml")]
        manifest: PathBuf,
    },
}

/// The arguments of `api`.
#[derive(clap::Args)]
struct ApiArgs {
    /// The connector id, e.g. slack.
    connector: String,
    /// The HTTP method: GET, POST, PUT, PATCH, DELETE, …
    method: String,
    /// The path under the API's base URL, query included: `/users/me?limit=2`.
    path: String,
    #[command(flatten)]
    target: Target,
    /// A JSON body.
    #[arg(long)]
    data: Option<String>,
    /// A header, `Name: value`; repeat for more.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// The API's base URL, `{field}` placeholders allowed; default the manifest's `api:`.
    #[arg(long)]
    api_base_url: Option<String>,
    /// The manifest holding the connector's `api:` block (base URL, headers, token).
    #[arg(long, default_value = "connectors.yaml")]
    manifest: PathBuf,
    /// The most bytes of answer body read (default 16 MiB); past it the command fails.
    #[arg(long, default_value_t = fastn_auth::limits::DEFAULT_MAX_API_BODY)]
    max_body: u64,
}

/// Which connection: org, tenant, connection.
#[derive(clap::Args)]
struct Target {
    /// The tenant (your customer). `api` and `tools run` need it, or --no-tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// The space's own connection, made without a tenant (for `api` and `tools run`, which
    /// refuse to guess it when --tenant is forgotten).
    #[arg(long, conflicts_with = "tenant")]
    no_tenant: bool,
    /// The org (default community).
    #[arg(long)]
    org: Option<String>,
    /// The connection instance.
    #[arg(long)]
    connection: Option<String>,
}

/// What ended a command, with its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl From<fastn_auth::Error> for Failure {
    fn from(err: fastn_auth::Error) -> Self {
        let code = match err.code() {
            ErrorCode::ConfigError | ErrorCode::InvalidArguments => 1,
            ErrorCode::Timeout | ErrorCode::AuthFailed => 2,
            _ => 3,
        };
        Failure { code, message: err.to_string() }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure { code: 1, message: message.into() }
}

#[tokio::main]
async fn main() -> ExitCode {
    let parsed =
        Cli::command().try_get_matches().and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        // --help and --version print and succeed; a usage error is exit code 1.
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(u8::from(err.use_stderr()));
        }
    };
    for (id, flag, variable) in [
        ("api_key", "--api-key", fastn_auth::env::API_KEY),
        ("auth_token", "--auth-token", fastn_auth::env::AUTH_TOKEN),
    ] {
        if matches.value_source(id) == Some(ValueSource::CommandLine) {
            eprintln!(
                "warning: {flag} on the command line is kept in your shell history and shown to other users by ps; set {variable} instead"
            );
        }
    }
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if json {
                print_json(&json!({ "error": failure.message, "exit_code": failure.code }));
            } else {
                eprintln!("error: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

/// `$request` (a connect or credentials request: they share these setters) with the
/// target's ids set.
macro_rules! with_target {
    ($request:expr, $target:expr) => {{
        let mut request = $request;
        if let Some(org) = &$target.org {
            request = request.org_id(org.clone());
        }
        if let Some(tenant) = &$target.tenant {
            request = request.tenant_id(tenant.clone());
        }
        if let Some(connection) = &$target.connection {
            request = request.connection_id(connection.clone());
        }
        request
    }};
}

mod api;
mod emulator;
mod flows;
mod health;
mod manifest;
mod mcp;
mod output;
mod tools;

async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Connect { connector, target, open, timeout, interval } => {
            flows::connect(&cli, connector, target, *open, *timeout, *interval).await
        }
        Command::Status { connector, state, tenant, connection } => {
            flows::status(&cli, connector, state, tenant.as_ref(), connection.as_ref()).await
        }
        Command::Credentials { connector, target } => flows::credentials(&cli, connector, target).await,
        Command::Health { connector, target } => health::health(&cli, connector, target).await,
        Command::Events { redis_url, cache_key } => {
            health::events(&cli, redis_url.as_deref(), cache_key.as_deref()).await
        }
        Command::Api(args) => api::run(&cli, args).await,
        Command::Manifest(ManifestCommand::Check { path }) => manifest::check(&cli, path),
        Command::Manifest(ManifestCommand::Expand { path }) => manifest::expand(path),
        Command::Tools(ToolsCommand::List { connector, source }) => {
            tools::list(&cli, source, connector.as_deref())
        }
        Command::Tools(ToolsCommand::Schema { connector, format, strict, source }) => {
            tools::schema(source, format, *strict, connector.as_deref())
        }
        Command::Tools(ToolsCommand::Run(args)) => tools::run(&cli, args).await,
        Command::Tools(ToolsCommand::Sync { out, org, partial, manifest }) => {
            tools::sync(&cli, out.as_deref(), org.as_deref(), *partial, manifest).await
        }
        Command::Mcp(args) => mcp::run(&cli, args).await,
        Command::Emulator(args) => emulator::run(&cli, args).await,
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "fastn-auth", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// The client from the flags and `FASTN_*` variables.
fn client(cli: &Cli) -> Result<FastnAuth, Failure> {
    Ok(builder(cli)?.build()?)
}

/// The client's builder from the flags and `FASTN_*` variables.
fn builder(cli: &Cli) -> Result<FastnAuthBuilder, Failure> {
    let space = cli.space_id.clone().ok_or_else(|| usage("set FASTN_SPACE_ID or --space-id"))?;
    let mut builder: FastnAuthBuilder = FastnAuth::builder(space);
    // Which of the two may be set is the builder's rule; this only names the variables.
    if cli.api_key.is_none() && cli.auth_token.is_none() {
        return Err(usage("set FASTN_API_KEY or FASTN_AUTH_TOKEN (or --api-key / --auth-token)"));
    }
    if let Some(key) = &cli.api_key {
        builder = builder.api_key(key.clone());
    }
    if let Some(token) = &cli.auth_token {
        builder = builder.auth_token(token.clone());
    }
    if let Some(base_url) = &cli.base_url {
        builder = builder.base_url(base_url.clone());
    }
    if let Some(gateway) = &cli.api_gateway {
        builder = builder.api_gateway(gateway.clone());
    }
    if cli.allow_insecure_http {
        builder = builder.allow_insecure_http(true);
    }
    Ok(builder)
}
