//! `fastn-auth`: connect a test tenant, look at its credentials, call the connected app's
//! API, check a connectors manifest in CI, see what `connectors!` generates, run the Fastn
//! API emulator.
//!
//! Exit codes: 0 done; 1 usage or configuration (a missing variable, a broken manifest);
//! 2 the flow failed or timed out; 3 Fastn (or the app's API) could not be reached or
//! answered with an error; 4 the app's API answered with a status that is not 2xx.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use fastn_auth::{
    Credentials, ErrorCode, ExposeSecret as _, FastnAuth, FastnAuthBuilder, PollOptions, SessionHandle,
};
use fastn_auth_emulator::MockServer;
use serde_json::{Value, json};

/// Fastn connector authentication from the terminal.
#[derive(Parser)]
#[command(name = "fastn-auth", version, about, long_about = None)]
struct Cli {
    /// The space id (`x-fastn-space-id`).
    #[arg(long, global = true, env = fastn_auth::env::SPACE_ID, hide_env_values = true)]
    space_id: Option<String>,
    /// The API key; or set --auth-token. The emulator accepts it too.
    #[arg(long, global = true, env = fastn_auth::env::API_KEY, hide_env_values = true)]
    api_key: Option<String>,
    /// A bearer token instead of an API key.
    #[arg(long, global = true, env = fastn_auth::env::AUTH_TOKEN, hide_env_values = true)]
    auth_token: Option<String>,
    /// The API's base URL (default `https://live.fastn.ai/api`).
    #[arg(long, global = true, env = fastn_auth::env::BASE_URL, hide_env_values = true)]
    base_url: Option<String>,
    /// Send `api` calls to `{URL}/{connector}/…` instead of the app itself: the emulator's
    /// provider API (`http://127.0.0.1:8787/_provider`).
    #[arg(long, global = true, env = fastn_auth::env::API_GATEWAY, hide_env_values = true)]
    api_gateway: Option<String>,
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
    /// Calls the connected app's own API for a tenant with its token, like `gh api`:
    /// `fastn-auth api slack GET /auth.test --tenant acme`. Prints the status on stderr and
    /// the body on stdout (`--json`: one object with both).
    Api {
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
    },
    /// Checks or expands a connectors manifest.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Runs the Fastn API emulator on loopback until Ctrl-C.
    Emulator {
        /// Port on 127.0.0.1 (0: any free one).
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// Approve each flow by itself this long after init, e.g. 2s (0s: at once).
        #[arg(long, value_parser = humantime::parse_duration)]
        auto_approve: Option<Duration>,
        /// Give each extra field this manifest declares a value of its type.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Print no line per request.
        #[arg(long)]
        quiet: bool,
    },
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

/// Which connection: org, tenant, connection.
#[derive(clap::Args)]
struct Target {
    /// The tenant (your customer).
    #[arg(long)]
    tenant: Option<String>,
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
            ErrorCode::ConfigError => 1,
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

async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Connect { connector, target, open, timeout, interval } => {
            let client = client(&cli)?;
            let session = with_target!(client.connect(connector.clone()), target).send().await?;
            match session.redirect_url() {
                Some(url) => {
                    eprintln!("Authorize {connector} at: {url}");
                    if *open {
                        open_browser(url.as_str());
                    }
                }
                None => eprintln!("The flow has no authorization URL; waiting for it to complete."),
            }
            let spinner = spinner(&format!("waiting for {connector} to be authorized…"));
            let outcome = session.wait_for_completion(PollOptions::new(*interval, *timeout)).await;
            spinner.finish_and_clear();
            let credentials = outcome?;
            print_credentials(&cli, &credentials, Some(session.handle()));
        }
        Command::Status { connector, state, tenant, connection } => {
            let client = client(&cli)?;
            let mut handle = SessionHandle::new(connector.clone(), state.clone());
            if let Some(tenant) = tenant {
                handle = handle.with_tenant_id(tenant.clone());
            }
            if let Some(connection) = connection {
                handle = handle.with_connection_id(connection.clone());
            }
            let status = client.resume(handle).get_status().await?;
            if cli.json {
                print_json(
                    &json!({ "state": state, "status": status.status.as_str(), "error_message": status.error_message }),
                );
            } else {
                match status.error_message {
                    Some(message) => println!("{}: {}", status.status, escaped(&message)),
                    None => println!("{}", status.status),
                }
            }
        }
        Command::Credentials { connector, target } => {
            let client = client(&cli)?;
            let credentials = with_target!(client.credentials(connector.clone()), target).send().await?;
            print_credentials(&cli, &credentials, None);
        }
        Command::Api { connector, method, path, target, data, headers, api_base_url, manifest, max_body } => {
            let client = client(&cli)?;
            let method = http_method(method)?;
            let mut api = with_target!(
                api_client(&client, connector, manifest, api_base_url.is_some(), cli.api_gateway.is_some())?,
                target
            );
            if let Some(base_url) = api_base_url {
                api = api.base_url(base_url);
            }
            let mut request = api.request(method, path).max_body(*max_body);
            for header in headers {
                let (name, value) = header
                    .split_once(':')
                    .ok_or_else(|| usage(format!("-H `{}`: expected `Name: value`", escaped(header))))?;
                request = request.header(name.trim(), value.trim());
            }
            if let Some(data) = data {
                let body: Value =
                    serde_json::from_str(data).map_err(|err| usage(format!("--data is not JSON: {err}")))?;
                request = request.json(&body);
            }
            let response = request.send().await?;
            let status = response.status();
            if !cli.json {
                eprintln!("HTTP {status}");
            }
            print_body(cli.json, response).await?;
            if !status.is_success() {
                return Err(Failure { code: 4, message: format!("the API answered {status}") });
            }
        }
        Command::Manifest(ManifestCommand::Check { path }) => {
            let manifest = fastn_auth_codegen::load(path, &path.display().to_string())
                .map_err(|err| usage(err.to_string()))?;
            let ids: Vec<&str> = manifest.connectors.iter().map(|c| c.id.as_str()).collect();
            if cli.json {
                print_json(&json!({ "path": path, "connectors": ids }));
            } else {
                println!("{}: {} connectors: {}", path.display(), ids.len(), ids.join(", "));
            }
        }
        Command::Manifest(ManifestCommand::Expand { path }) => {
            let manifest = fastn_auth_codegen::load(path, &path.display().to_string())
                .map_err(|err| usage(err.to_string()))?;
            let items = fastn_auth_codegen::codegen::generate(&manifest, path.to_str());
            let code = fastn_auth_codegen::pretty(items).map_err(usage)?;
            print!("{code}");
        }
        Command::Emulator { port, auto_approve, manifest, quiet } => {
            let mut builder = MockServer::builder().port(*port).log_requests(!quiet);
            if let Some(delay) = auto_approve {
                builder = builder.auto_approve_after(*delay);
            }
            if let Some(path) = manifest {
                let written = path.display().to_string();
                let text =
                    fastn_auth_codegen::read_text(path, &written).map_err(|err| usage(err.to_string()))?;
                builder = builder.connectors(text);
            }
            // It accepts the key or token the clients use (--api-key, FASTN_API_KEY, …)
            // instead of the public defaults.
            if let Some(key) = &cli.api_key {
                builder = builder.api_key(key.clone());
            }
            if let Some(token) = &cli.auth_token {
                builder = builder.auth_token(token.clone());
            }
            let mock =
                builder.start().await.map_err(|err| usage(format!("the emulator did not start: {err}")))?;
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
        }
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "fastn-auth", &mut std::io::stdout());
        }
    }
    Ok(())
}

/// The client from the flags and `FASTN_*` variables.
fn client(cli: &Cli) -> Result<FastnAuth, Failure> {
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
    Ok(builder.build()?)
}

/// The API client of `connector` as the manifest's `api:` block describes it; untyped
/// (base URL from `--api-base-url`) when the manifest is absent or does not declare it.
fn api_client(
    client: &FastnAuth,
    connector: &str,
    manifest: &std::path::Path,
    base_url_given: bool,
    gateway: bool,
) -> Result<fastn_auth::ApiClient, Failure> {
    let written = manifest.display().to_string();
    let shown = escaped(connector);
    // No manifest is fine when the base URL is given or a gateway routes the calls (a
    // bearer token, then); a broken one never is.
    if !manifest.exists() {
        if base_url_given || gateway {
            return Ok(client.api(connector.to_owned()));
        }
        return Err(usage(format!(
            "no manifest at {written} to read the `api:` block of `{shown}` from; give --manifest, --api-base-url, \
             or a gateway (--api-gateway, {})",
            fastn_auth::env::API_GATEWAY
        )));
    }
    let manifest = fastn_auth_codegen::load(manifest, &written).map_err(|err| usage(err.to_string()))?;
    let ids: Vec<String> = manifest.connectors.iter().map(|spec| spec.id.clone()).collect();
    let Some(spec) = manifest.connectors.into_iter().find(|spec| spec.id == connector) else {
        if base_url_given {
            return Ok(client.api(connector.to_owned()));
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let hint = fastn_auth_codegen::manifest::did_you_mean(connector, &ids)
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        return Err(usage(format!(
            "`{shown}` is not a connector of {written}{hint}; it declares: {}; or give --api-base-url",
            ids.join(", ")
        )));
    };
    match &spec.api {
        Some(_) => Ok(client.api_with(ManifestConnector::new(spec))),
        None if base_url_given || gateway => Ok(client.api(connector.to_owned())),
        None => Err(usage(format!(
            "`{shown}` has no `api:` block in {written} to say where its API is; add one, or give --api-base-url"
        ))),
    }
}

/// The HTTP method `name` (any case): GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
fn http_method(name: &str) -> Result<fastn_auth::Method, Failure> {
    use fastn_auth::Method;
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    known.into_iter().find(|method| method.as_str().eq_ignore_ascii_case(name)).ok_or_else(|| {
        usage(format!(
            "`{}` is not an HTTP method: use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
            escaped(name)
        ))
    })
}

/// A connector read from a manifest at run time: what `connectors!` generates, for the one
/// connector this process calls.
#[derive(Clone)]
struct ManifestConnector {
    id: String,
    org_id: Option<String>,
    api: Option<fastn_auth::connector::ApiSpec>,
}

impl ManifestConnector {
    fn new(spec: fastn_auth_codegen::manifest::ConnectorSpec) -> Self {
        // The manifest's `api:` block is the runtime's `ApiSpec` already.
        ManifestConnector { id: spec.id, org_id: spec.org_id, api: spec.api }
    }
}

impl fastn_auth::Connector for ManifestConnector {
    type Extra = fastn_auth::credentials::ExtraMap;

    fn id(&self) -> &str {
        &self.id
    }

    fn default_org(&self) -> Option<&str> {
        self.org_id.as_deref()
    }

    fn api_spec(&self) -> Option<fastn_auth::connector::ApiSpec> {
        self.api.clone()
    }
}

/// The credentials, redacted unless `--reveal`, as text or JSON.
fn print_credentials(cli: &Cli, credentials: &Credentials, handle: Option<&SessionHandle>) {
    let mut shown = if cli.reveal {
        json!({
            "access_token": credentials.access_token.as_ref().map(|t| t.expose_secret().to_owned()),
            "refresh_token": credentials.refresh_token.as_ref().map(|t| t.expose_secret().to_owned()),
            "expires_at": credentials.to_redacted_json()["expires_at"],
            "extra": *credentials.extra,
        })
    } else {
        credentials.to_redacted_json()
    };
    if let Some(handle) = handle {
        shown["state"] = json!(handle.state());
    }
    if cli.json {
        print_json(&shown);
        return;
    }
    for (key, value) in shown.as_object().into_iter().flatten() {
        match value {
            Value::Object(extra) if key == "extra" => {
                for (field, value) in extra {
                    println!("{}: {}", escaped(field), escaped(&text(value)));
                }
            }
            Value::Null => {}
            value => println!("{}: {}", escaped(key), escaped(&text(value))),
        }
    }
}

/// An API answer's body on stdout, read under the call's deadline and body limit: with
/// `--json` one object `{"status", "body"}`; else a JSON body pretty-printed, any other
/// streamed as it arrives, line by line, escaped.
async fn print_body(json: bool, mut response: fastn_auth::ApiResponse) -> Result<(), Failure> {
    let status = response.status();
    let is_json = response
        .headers()
        .get(fastn_auth::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if json || is_json {
        let bytes = response.bytes().await?;
        let body = serde_json::from_slice::<Value>(&bytes).ok();
        if json {
            let body = body.unwrap_or_else(|| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            print_json(&json!({ "status": status.as_u16(), "body": body }));
            return Ok(());
        }
        match body {
            Some(body) => println!(
                "{}",
                fastn_auth_rules::terminal_json(&serde_json::to_string_pretty(&body).unwrap_or_default())
            ),
            None => print_lines(&String::from_utf8_lossy(&bytes)),
        }
        return Ok(());
    }
    // Streamed: whole lines as they come, a character cut between two pieces kept for the
    // next one.
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        // Only the new piece is searched for the last line break.
        let end = chunk.iter().rposition(|&byte| byte == b'\n').map(|at| pending.len() + at);
        pending.extend_from_slice(&chunk);
        if let Some(end) = end {
            let rest = pending.split_off(end + 1);
            print_lines(&String::from_utf8_lossy(&pending));
            pending = rest;
        }
    }
    if !pending.is_empty() {
        print_lines(&String::from_utf8_lossy(&pending));
    }
    Ok(())
}

/// Each line of `text`, escaped, on stdout.
fn print_lines(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for line in text.lines() {
        let _ = writeln!(out, "{}", escaped(line));
    }
}

/// A JSON value on stdout on one line, every character a terminal would not show as
/// itself (bidi and C1 controls, invisible format characters) as a `\\u` escape.
fn print_json(value: &Value) {
    println!("{}", fastn_auth_rules::terminal_json(&value.to_string()));
}

/// Text from the server for a terminal: control characters (escape sequences, line breaks
/// that would forge another line) and bidirectional overrides shown escaped, never obeyed.
fn escaped(text: &str) -> String {
    fastn_auth_rules::escape(text, usize::MAX)
}

/// A JSON value as a person reads it: strings without quotes.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A spinner on stderr when it is a terminal; nothing otherwise (scripts, CI logs).
fn spinner(message: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let spinner = indicatif::ProgressBar::new_spinner().with_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// Opens `url` in the desktop's browser; says so when it cannot.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        std::process::Command::new("open").arg(url).status()
    } else if cfg!(windows) {
        std::process::Command::new("cmd").args(["/C", "start", "", url]).status()
    } else {
        std::process::Command::new("xdg-open").arg(url).status()
    };
    if !opener.is_ok_and(|status| status.success()) {
        eprintln!("Could not open a browser; open the URL above yourself.");
    }
}
