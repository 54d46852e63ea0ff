//! Fastn tools for AI agents: an MCP server, on the official Rust MCP SDK ([`rmcp`]), whose
//! tools are a [`ToolSet`] run through Fastn for one tenant at a time.
//!
//! - `tools/list` gives each tool's name, description and arguments schema (the form models
//!   get); `tools/call` checks the arguments against the schema (a malformed call is a tool
//!   error naming the field, and nothing is sent), runs the tool through Fastn and returns
//!   its answer, cut to a bound, as text; a provider status of 400 or more is a tool error
//!   the model can read.
//! - **Connect on demand**: a call for a connector the tenant has not connected starts a
//!   connect flow and answers with its consent URL: as a URL-mode elicitation when the
//!   client declared that capability (then the call waits for the user and runs), else as
//!   a tool error whose text carries the URL and says to call again. The flow is reused
//!   while it is pending, not restarted on every call.
//! - **Transports**: stdio, one tenant per process ([`McpServer::serve_stdio`]), and
//!   streamable HTTP ([`McpServer::http`]), where the application's own auth decides the
//!   tenant of each request by inserting a [`Tenant`](fastn_auth_axum::Tenant), as for
//!   `fastn-auth-axum`'s connect router.
//! - The tenant's token and the space's key are never in anything the server sends: tools
//!   run in Fastn, and the server only sees their answers.
//!
//! ```no_run
//! use fastn_auth_mcp::McpServer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = fastn_auth::FastnAuth::from_env()?;
//! let tools = fastn_auth_agent::ToolSet::from_json(&std::fs::read_to_string(".fastn/registry.json")?)?;
//! McpServer::builder(&client, tools).tenant("acme").build().serve_stdio().await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "auth")]
pub mod auth;
mod connect;
mod handler;
mod http;
mod share;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fastn_auth::FastnAuth;
use fastn_auth_agent::{DEFAULT_MAX_MODEL_OUTPUT, ToolSet};
use rmcp::ServiceExt as _;

pub use http::{DEFAULT_MAX_BODY, DEFAULT_MAX_REQUESTS, DEFAULT_MAX_REQUESTS_PER_TENANT, McpHttp};

/// The most connect flows a server holds at once (over every tenant) unless
/// [`McpServerBuilder::max_pending_flows`] says otherwise.
pub const DEFAULT_MAX_PENDING_FLOWS: usize = 10_000;

/// How long a connect flow is handed out to the tenant's calls, unless
/// [`McpServerBuilder::flow_ttl`] says otherwise (as `fastn-auth-axum`'s router keeps one).
pub const DEFAULT_FLOW_TTL: Duration = Duration::from_secs(10 * 60);

/// How long a call answered by a URL elicitation waits for the user to connect, unless
/// [`McpServerBuilder::connect_wait`] says otherwise.
pub const DEFAULT_CONNECT_WAIT: Duration = Duration::from_secs(120);

/// An MCP server whose tools run through Fastn: made by [`McpServer::builder`]; served
/// over stdio ([`serve_stdio`](Self::serve_stdio)) or HTTP ([`http`](Self::http)).
///
/// Cheap to clone: the clones share the tools and the pending connect flows.
#[derive(Debug, Clone)]
pub struct McpServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: FastnAuth,
    tools: ToolSet,
    listed: Arc<[rmcp::model::Tool]>,
    /// The tenant of every call (stdio, the CLI's HTTP); else each request's [`Tenant`](fastn_auth_axum::Tenant).
    tenant: Option<String>,
    /// Registry key → the id a connect flow is started with.
    connect_ids: HashMap<String, String>,
    flows: connect::Flows,
    /// Each tenant's share of the client's request slots.
    shares: share::Shares,
    max_output: usize,
    connect_wait: Duration,
    poll_interval: Duration,
    budget: Option<fastn_auth_agent::Budget>,
    approvals: Option<fastn_auth_agent::Approvals>,
    /// `tools/list` gives `find_tools` and `call_tool` instead of every tool.
    search: bool,
}

/// Builds an [`McpServer`].
#[derive(Debug)]
#[must_use = "call .build()"]
pub struct McpServerBuilder {
    client: FastnAuth,
    tools: ToolSet,
    tenant: Option<String>,
    connect_ids: HashMap<String, String>,
    max_output: usize,
    max_pending_flows: usize,
    max_calls_per_tenant: usize,
    flow_ttl: Duration,
    connect_wait: Duration,
    poll_interval: Duration,
    budget: Option<fastn_auth_agent::Budget>,
    approvals: Option<fastn_auth_agent::Approvals>,
    /// `tools/list` gives `find_tools` and `call_tool` instead of every tool.
    search: bool,
}

impl McpServer {
    /// A server for `tools` (a manifest's `tool_set()`, or [`ToolSet::from_registry`],
    /// optionally narrowed with [`ToolSet::only`]), run through `client`.
    pub fn builder(client: &FastnAuth, tools: ToolSet) -> McpServerBuilder {
        McpServerBuilder {
            client: client.clone(),
            tools,
            tenant: None,
            connect_ids: HashMap::new(),
            max_output: DEFAULT_MAX_MODEL_OUTPUT,
            max_pending_flows: DEFAULT_MAX_PENDING_FLOWS,
            max_calls_per_tenant: (client.max_in_flight() / 4).max(1),
            flow_ttl: DEFAULT_FLOW_TTL,
            connect_wait: DEFAULT_CONNECT_WAIT,
            poll_interval: Duration::from_secs(1),
            budget: None,
            approvals: None,
            search: false,
        }
    }

    /// The tools served.
    pub fn tool_set(&self) -> &ToolSet {
        &self.inner.tools
    }

    /// How many connect flows the server holds for users who have not answered them.
    pub fn pending_flows(&self) -> usize {
        self.inner.flows.len()
    }

    /// How many tool calls run now (over every tenant): a gauge for the operator. A call
    /// whose client hung up or sent `notifications/cancelled` stops at once and is not
    /// counted.
    pub fn calls_in_flight(&self) -> usize {
        self.inner.shares.running()
    }

    /// Serves MCP on the process's stdin and stdout until the client closes them: one
    /// tenant per process (the builder's [`tenant`](McpServerBuilder::tenant)).
    ///
    /// # Errors
    /// [`std::io::ErrorKind::InvalidInput`] without a tenant; what the transport failed with.
    pub async fn serve_stdio(self) -> std::io::Result<()> {
        if self.inner.tenant.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an MCP server on stdio serves one tenant: set McpServerBuilder::tenant",
            ));
        }
        let running = self.serve(rmcp::transport::stdio()).await.map_err(std::io::Error::other)?;
        running.waiting().await.map_err(std::io::Error::other)?;
        Ok(())
    }

    /// The streamable HTTP transport of this server, to configure and mount as an axum
    /// router.
    pub fn http(self) -> McpHttp {
        McpHttp::new(self)
    }
}

impl McpServerBuilder {
    /// Every call runs for `tenant`: for stdio (one tenant per process), or an HTTP server
    /// of one tenant. Without it, an HTTP request's tenant is the
    /// [`Tenant`](fastn_auth_axum::Tenant) the application's auth inserted.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The connector ids of a manifest (`ConnectorId::ALL`'s names, `google-sheets`),
    /// which connect flows are started with; a tool set's connector that none of them
    /// names is connected by its registry key.
    pub fn connectors<S: AsRef<str>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        for id in ids {
            let id = id.as_ref();
            self.connect_ids.insert(fastn_auth_rules::registry::registry_key(id), id.to_owned());
        }
        self
    }

    /// The most characters of a tool's answer handed to the model; default
    /// [`DEFAULT_MAX_MODEL_OUTPUT`].
    pub fn max_output(mut self, chars: usize) -> Self {
        self.max_output = chars;
        self
    }

    /// The most connect flows held at once, over every tenant; default
    /// [`DEFAULT_MAX_PENDING_FLOWS`]. A call that would start one more is a tool error
    /// saying so.
    pub fn max_pending_flows(mut self, flows: usize) -> Self {
        self.max_pending_flows = flows;
        self
    }

    /// The most tool calls of one tenant run at once, however many it sends; default a
    /// quarter of the client's [`max_in_flight`](FastnAuth::max_in_flight) (16 of 64).
    /// Further calls wait for their turn, so a tenant never holds every request slot of
    /// the client and the others' calls always find some free.
    pub fn max_calls_per_tenant(mut self, calls: usize) -> Self {
        self.max_calls_per_tenant = calls.max(1);
        self
    }

    /// How long a connect flow is handed out to the tenant's calls; default
    /// [`DEFAULT_FLOW_TTL`]. Older, the next call starts another, and its place counts as
    /// free against [`max_pending_flows`](Self::max_pending_flows): a flow its user
    /// abandoned does not hold a place for ever.
    pub fn flow_ttl(mut self, ttl: Duration) -> Self {
        self.flow_ttl = ttl;
        self
    }

    /// How long a call answered with a URL elicitation waits for the user to connect, and
    /// for the client to answer the elicitation at all; default [`DEFAULT_CONNECT_WAIT`].
    /// After it, the call is a tool error with the URL.
    pub fn connect_wait(mut self, wait: Duration) -> Self {
        self.connect_wait = wait;
        self
    }

    /// How often that wait asks Fastn where the flow stands; default 1 s.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Caps each tenant's calls ([`Budget`](fastn_auth_agent::Budget)): a call over a
    /// limit is a tool error the model reads (when to try again), and nothing is sent.
    pub fn budget(mut self, budget: fastn_auth_agent::Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// How the tools the set marks ([`ToolSet::require_approval`], a manifest's `approve:`)
    /// are approved: the server asks the user with a form elicitation showing the exact
    /// arguments, and runs the call only on their yes, with a receipt bound to those
    /// arguments. A client that cannot be asked gets a tool error, and the tool never runs.
    /// Default: [`Approvals::ephemeral`](fastn_auth_agent::Approvals::ephemeral), a key of
    /// the process's own — give replicas behind one URL a shared key, since a 2026-07-28
    /// client's answer may reach another replica.
    pub fn approvals(mut self, approvals: fastn_auth_agent::Approvals) -> Self {
        self.approvals = Some(approvals);
        self
    }

    /// For a large tool set: `tools/list` gives two tools instead of every one —
    /// `find_tools` (`query`, `limit`: the tools most relevant to the query, with their
    /// descriptions and arguments schemas, ranked by [`ToolSet::ranked`]) and `call_tool`
    /// (`name`, `arguments`: runs a tool by name with the same checks, approvals, budget
    /// and connect on demand as a listed one) — so a model's context does not hold 500
    /// tools. Default off.
    pub fn search_mode(mut self, on: bool) -> Self {
        self.search = on;
        self
    }

    /// The server. When the set has tools that need approval and no
    /// [`approvals`](Self::approvals) were given, a key of the process's own signs them; a
    /// system without randomness leaves such tools refused (logged).
    pub fn build(self) -> McpServer {
        let approvals = self.approvals.or_else(|| {
            let needed = self.tools.names().any(|name| self.tools.needs_approval(name));
            needed.then(fastn_auth_agent::Approvals::ephemeral).and_then(|made| {
                made.map_err(|err| tracing::warn!(error = %err, "tools that need approval will not run")).ok()
            })
        });
        let listed = if self.search { handler::search_tools() } else { handler::listed(&self.tools) };
        McpServer {
            inner: Arc::new(Inner {
                client: self.client,
                tools: self.tools,
                listed,
                tenant: self.tenant,
                connect_ids: self.connect_ids,
                flows: connect::Flows::new(self.max_pending_flows, self.flow_ttl),
                shares: share::Shares::new(self.max_calls_per_tenant),
                max_output: self.max_output,
                connect_wait: self.connect_wait,
                poll_interval: self.poll_interval,
                budget: self.budget,
                approvals,
                search: self.search,
            }),
        }
    }
}
