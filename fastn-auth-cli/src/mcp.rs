//! `mcp`: a tenant's Fastn tools as an MCP server, on stdio (for an IDE or a desktop
//! assistant) or streamable HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use fastn_auth_agent::ToolSet;
use fastn_auth_mcp::McpServer;

use crate::tools::read_registry;
use crate::{Cli, Failure, usage};

/// The arguments of `mcp`.
#[derive(clap::Args)]
pub(crate) struct McpArgs {
    /// The tenant every call runs for. Not with --issuer, where each request's token says
    /// its tenant.
    #[arg(long, required_unless_present = "issuer", conflicts_with = "issuer")]
    tenant: Option<String>,
    /// The manifest: its connectors' `tools:` are served, from its `registry:`.
    #[arg(long, default_value = "connectors.yaml")]
    manifest: PathBuf,
    /// Serve every tool of this registry file instead of the manifest's selection.
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Only these tools (model names, comma-separated: slack_send_message,…).
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// Serve streamable HTTP on this address (`127.0.0.1:8790`) instead of stdio; the
    /// endpoint's URL is printed on stdout.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// A `Host` the HTTP server answers besides loopback; repeat for more.
    #[arg(long = "allowed-host")]
    allowed_hosts: Vec<String>,
    /// Serve --http on an address that is not loopback, where others can reach it. Needs
    /// an access token in FASTN_MCP_ACCESS_TOKEN (at least 32 characters), which every
    /// client must send as `Authorization: Bearer …`: the server runs the tenant's tools
    /// for whoever holds it.
    #[arg(long, requires = "http", conflicts_with = "issuer")]
    public: bool,
    /// Remote clients sign in: the OAuth authorization server (its issuer URL) whose JWTs
    /// are accepted, checked against its JWKS; the tenant of a request is its token's
    /// --tenant-claim. The server publishes its protected resource metadata (RFC 9728) and
    /// answers a request without a good token 401 pointing at it. Allowed off loopback.
    #[arg(long, requires_all = ["http", "audience"])]
    issuer: Option<String>,
    /// The audience (`aud`) tokens must be issued for: this server's identifier at the
    /// issuer.
    #[arg(long, requires = "issuer")]
    audience: Option<String>,
    /// The claim of a token holding the tenant.
    #[arg(long, default_value = "sub", requires = "issuer")]
    tenant_claim: String,
    /// The URL clients reach the MCP endpoint at (the metadata's `resource`); default
    /// `http://ADDR/mcp` of the address served.
    #[arg(long, requires = "issuer")]
    resource: Option<String>,
}

/// The variable holding the access token an HTTP client must send.
const ACCESS_TOKEN_VAR: &str = "FASTN_MCP_ACCESS_TOKEN";

/// The shortest access token accepted.
const MIN_ACCESS_TOKEN: usize = 32;

/// The tools served and the manifest's connector ids (which flows are started with).
fn tools(args: &McpArgs) -> Result<(ToolSet, Vec<String>), Failure> {
    let manifest = load_manifest(&args.manifest)?;
    let ids: Vec<String> =
        manifest.iter().flat_map(|(m, _)| m.connectors.iter().map(|c| c.id.clone())).collect();
    let set = match (&args.registry, manifest) {
        (Some(path), _) => ToolSet::from_registry(&read_registry(path)?),
        (None, Some((manifest, text))) => {
            let written = args.manifest.display().to_string();
            let loaded = fastn_auth_codegen::tools::load_registry(&manifest, &args.manifest, &text, &written)
                .map_err(|err| usage(err.to_string()))?
                .ok_or_else(|| {
                    usage(format!("{written} names no `registry:`; sync one or give --registry"))
                })?;
            let selected = fastn_auth_codegen::tools::select(&manifest, &loaded.registry, &text, &written)
                .map_err(|err| usage(err.to_string()))?;
            ToolSet::from_registry(&fastn_auth_codegen::tools::selected_registry(&selected))
        }
        (None, None) => {
            return Err(usage(format!(
                "no manifest at {}: give --manifest or --registry",
                args.manifest.display()
            )));
        }
    };
    let set = if args.tools.is_empty() { set } else { set.only(&args.tools)? };
    if set.is_empty() {
        return Err(usage("no tools to serve: the manifest selects none (`tools:` under a connector)"));
    }
    Ok((set, ids))
}

fn load_manifest(path: &Path) -> Result<Option<(fastn_auth_codegen::Manifest, String)>, Failure> {
    if !path.exists() {
        return Ok(None);
    }
    let written = path.display().to_string();
    let text = fastn_auth_codegen::read_text(path, &written).map_err(|err| usage(err.to_string()))?;
    let manifest = fastn_auth_codegen::load(path, &written).map_err(|err| usage(err.to_string()))?;
    Ok(Some((manifest, text)))
}

/// The token clients must send, from [`ACCESS_TOKEN_VAR`]: required off loopback (with
/// --public, which a non-loopback address requires unless clients sign in with --issuer),
/// used on loopback when set.
fn access_token(addr: SocketAddr, public: bool, signed_in: bool) -> Result<Option<String>, Failure> {
    if signed_in {
        return Ok(None);
    }
    if !addr.ip().is_loopback() && !public {
        return Err(usage(format!(
            "--http {addr} is not a loopback address: anyone who reaches it could run the tenant's tools. \
             Serve on 127.0.0.1, let clients sign in with --issuer, or pass --public with an access token in \
             {ACCESS_TOKEN_VAR}"
        )));
    }
    let token = std::env::var(ACCESS_TOKEN_VAR).ok().filter(|token| !token.is_empty());
    match token {
        Some(token) if token.chars().count() < MIN_ACCESS_TOKEN || token.chars().any(char::is_whitespace) => {
            Err(usage(format!(
                "{ACCESS_TOKEN_VAR} must be at least {MIN_ACCESS_TOKEN} characters without spaces"
            )))
        }
        None if public => Err(usage(format!(
            "--public needs an access token in {ACCESS_TOKEN_VAR} (at least {MIN_ACCESS_TOKEN} characters), \
             which clients send as `Authorization: Bearer …`"
        ))),
        token => Ok(token),
    }
}

/// Serves only requests bearing the access token (compared in constant time); others are
/// `401` with `WWW-Authenticate: Bearer`.
async fn bearer(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    let sent = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let sent = sent.and_then(|value| value.strip_prefix("Bearer ")).unwrap_or_default();
    let differs = sent.len() != token.len()
        || sent.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0;
    if differs {
        let mut refused = (StatusCode::UNAUTHORIZED, "an access token is required").into_response();
        refused.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return refused;
    }
    next.run(request).await
}

/// The resource server of --issuer: tokens of `issuer` for --audience, the tenant from
/// --tenant-claim, the metadata's `resource` --resource or the URL served.
fn sign_in(
    args: &McpArgs,
    issuer: &str,
    local: SocketAddr,
) -> Result<fastn_auth_mcp::auth::McpAuth, Failure> {
    let parse = |what: &str, url: &str| {
        fastn_auth::Url::parse(url).map_err(|err| {
            usage(format!("{what} `{}` is not a URL: {err}", fastn_auth_rules::escape(url, 200)))
        })
    };
    parse("--issuer", issuer)?;
    let resource = parse("--resource", args.resource.as_deref().unwrap_or(&format!("http://{local}/mcp")))?;
    let verifier = fastn_auth_mcp::auth::JwtVerifier::builder(issuer)
        .audience(args.audience.clone().unwrap_or_default())
        .tenant_claim(args.tenant_claim.clone())
        .build()
        .map_err(|err| usage(err.to_string()))?;
    Ok(fastn_auth_mcp::auth::McpAuth::new(resource, issuer, verifier))
}

/// `mcp`: serves until the client closes stdin (stdio) or Ctrl-C (HTTP).
pub(crate) async fn run(cli: &Cli, args: &McpArgs) -> Result<(), Failure> {
    let (set, ids) = tools(args)?;
    let client = crate::client(cli)?;
    let mut builder = McpServer::builder(&client, set).connectors(ids);
    if let Some(tenant) = &args.tenant {
        builder = builder.tenant(tenant.clone());
    }
    let server = builder.build();
    let Some(addr) = args.http else {
        return server.serve_stdio().await.map_err(|err| Failure { code: 3, message: err.to_string() });
    };
    let token = access_token(addr, args.public, args.issuer.is_some())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| usage(format!("cannot listen on {addr}: {err}")))?;
    let local = listener.local_addr().map_err(|err| usage(err.to_string()))?;
    let mut hosts: Vec<String> = fastn_auth_rules::api::LOOPBACK_HOSTS.map(str::to_owned).into();
    hosts.extend(args.allowed_hosts.iter().cloned());
    let mut http = server.http().allowed_hosts(hosts);
    if let Some(issuer) = &args.issuer {
        http = http.auth(sign_in(args, issuer, local)?);
    }
    let mut router: axum::Router = http.router();
    if let Some(token) = token {
        router = router.layer(axum::middleware::from_fn_with_state(Arc::<str>::from(token), bearer));
    }
    if !local.ip().is_loopback() && args.issuer.is_none() {
        eprintln!(
            "warning: serving tenant `{}`'s tools on {local}, reachable from other hosts; only clients \
             sending {ACCESS_TOKEN_VAR} are served",
            fastn_auth_rules::escape(args.tenant.as_deref().unwrap_or_default(), 64)
        );
    }
    println!("http://{local}/mcp");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|err| Failure { code: 3, message: format!("the HTTP server failed: {err}") })
}
