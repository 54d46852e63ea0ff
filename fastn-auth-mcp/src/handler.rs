//! The MCP side of [`McpServer`]: `tools/list` from the [`ToolSet`], `tools/call` through
//! [`BoundTools`], and a call for a connector the tenant has not connected answered with
//! its consent URL (a URL-mode elicitation where the client can take one).

use std::sync::Arc;

use fastn_auth::Url;
use fastn_auth_agent::{BoundTools, Held, ModelReply, PendingApproval, Receipt, ToolSet};
use fastn_auth_axum::Tenant;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ElicitRequest,
    ElicitRequestParams, ElicitationAction, ElicitationSchema, InputRequest, InputRequests,
    InputRequiredResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::{ElicitationMode, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::McpServer;

/// The key of the consent elicitation in an `InputRequiredResult` (and of its answer).
const CONNECT: &str = "connect";

/// The key of the approval elicitation in an `InputRequiredResult` (and of its answer), and
/// of the yes in its form.
const APPROVE: &str = "approve";

/// What running a call came to.
enum Ran {
    /// An answer for the client.
    Done(CallToolResult),
    /// The tenant has not connected the tool's connector, or its connection is broken.
    NotConnected,
    /// The tool waits for the user's approval of these arguments.
    NeedsApproval(PendingApproval),
}

/// The most tools in one `tools/list` page.
const PAGE: usize = 500;

/// The tool that finds tools, in search mode.
const FIND_TOOLS: &str = "find_tools";
/// The tool that runs a found tool by name, in search mode.
const CALL_TOOL: &str = "call_tool";
/// The tools `find_tools` gives unless asked for fewer, and the most it gives.
const FOUND: (u64, u64) = (10, 50);

/// The two tools of search mode.
pub(crate) fn search_tools() -> Arc<[Tool]> {
    let schema = |value: Value| match value {
        Value::Object(schema) => Arc::new(schema),
        _ => Arc::new(JsonObject::new()),
    };
    let find = schema(serde_json::json!({"type": "object", "properties": {
        "query": {"type": "string", "description": "What the user wants done, in a few words (send a Slack message)."},
        "limit": {"type": "integer", "minimum": 1, "maximum": FOUND.1, "description": "At most this many tools (default 10)."}},
        "required": ["query"]}));
    let call = schema(serde_json::json!({"type": "object", "properties": {
        "name": {"type": "string", "description": "A tool's name, as find_tools gave it."},
        "arguments": {"type": "object", "description": "Its arguments, as its inputSchema says."}},
        "required": ["name", "arguments"]}));
    Arc::from([
        Tool::new(
            FIND_TOOLS,
            "Finds the tools that can do what the user asks: their names, descriptions and argument schemas. Call it first.",
            find,
        ),
        Tool::new(CALL_TOOL, "Runs a tool find_tools gave, by its name, with its arguments.", call),
    ])
}

/// The MCP tools of `set`: name, description (escaped and cut) and the unwrapped arguments
/// schema, always an object schema (a tool set serves no other).
pub(crate) fn listed(set: &ToolSet) -> Arc<[Tool]> {
    set.names()
        .map(|name| {
            let schema = match set.arguments_schema(name) {
                Some(Value::Object(schema)) => schema.clone(),
                _ => JsonObject::new(),
            };
            Tool::new(name.to_owned(), set.description(name).unwrap_or_default(), Arc::new(schema))
        })
        .collect()
}

/// A reply as MCP content: its text, an error when the model can act on it.
fn result(reply: &ModelReply) -> CallToolResult {
    let content = vec![ContentBlock::text(reply.text.clone())];
    if reply.is_error { CallToolResult::error(content) } else { CallToolResult::success(content) }
}

fn error_text(text: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(text)]).into()
}

/// How the client can be shown a consent URL.
enum Ask {
    /// In an `InputRequiredResult` (protocol 2026-07-28 and later).
    InputRequired,
    /// With an `elicitation/create` request of the server's own (earlier protocols, on a
    /// transport that carries requests to the client).
    Elicit,
    /// In the text of a tool error.
    Text,
}

impl McpServer {
    fn tenant(&self, context: &RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let parts = context.extensions.get::<axum::http::request::Parts>();
        // A signed-in request's tenant is its token's, whatever else the server was given.
        #[cfg(feature = "auth")]
        if let Some(identity) = parts.and_then(|parts| parts.extensions.get::<crate::auth::Identity>()) {
            return Ok(identity.tenant.clone());
        }
        if let Some(tenant) = &self.inner.tenant {
            return Ok(tenant.clone());
        }
        match parts.and_then(|parts| parts.extensions.get::<Tenant>()) {
            Some(Tenant(tenant)) => Ok(tenant.clone()),
            None => Err(ErrorData::invalid_request("the request has no tenant", None)),
        }
    }

    fn ask(&self, context: &RequestContext<RoleServer>) -> Ask {
        let url_mode = context
            .client_capabilities()
            .and_then(|capabilities| capabilities.elicitation)
            .is_some_and(|elicitation| elicitation.url.is_some());
        let modern = context.protocol_version().is_some_and(|version| !version.has_initialize());
        match (url_mode, modern) {
            (true, true) => Ask::InputRequired,
            (true, false)
                // Stateless HTTP has no channel for the client's answer to a request of ours.
                if context.extensions.get::<axum::http::request::Parts>().is_none()
                    && context.peer.supported_elicitation_modes().contains(&ElicitationMode::Url) =>
            {
                Ask::Elicit
            }
            _ => Ask::Text,
        }
    }

    fn bound(&self, tenant: &str) -> BoundTools {
        let mut bound =
            self.inner.tools.bind(&self.inner.client).tenant_id(tenant).max_output(self.inner.max_output);
        if let Some(budget) = &self.inner.budget {
            bound = bound.budget(budget.clone());
        }
        if let Some(approvals) = &self.inner.approvals {
            bound = bound.approvals(approvals.clone());
        }
        bound
    }

    /// Whether the client can show the user a form: it declared form elicitation, or
    /// elicitation with no mode (which means form).
    fn can_show_form(context: &RequestContext<RoleServer>) -> bool {
        context
            .client_capabilities()
            .and_then(|capabilities| capabilities.elicitation)
            .is_some_and(|elicitation| elicitation.form.is_some() || elicitation.url.is_none())
    }

    /// Asks the user to approve `pending` with a form showing its exact arguments: in an
    /// `InputRequiredResult` whose state is the receipt (bound to those arguments: a retry
    /// with others is refused), or with an `elicitation/create` of the server's own; a
    /// client that can show no form gets a tool error, and the tool does not run.
    async fn ask_approval(
        &self,
        context: &RequestContext<RoleServer>,
        tenant: &str,
        name: &str,
        arguments: Value,
        pending: PendingApproval,
    ) -> CallToolResponse {
        let Some(approvals) = &self.inner.approvals else {
            return error_text(format!(
                "`{}` runs only with the user's approval: it was not run",
                shown(name)
            ));
        };
        let receipt = match approvals.approve(&pending) {
            Ok(receipt) => receipt,
            Err(err) => return error_text(format!("`{}` was not run: {}", shown(name), err.brief())),
        };
        let message = format!("Allow this? {}", pending.summary());
        let schema = ElicitationSchema::builder()
            .required_bool_property(APPROVE, |yes| yes.description("Run it with exactly these arguments"))
            .build_unchecked();
        let params =
            ElicitRequestParams::FormElicitationParams { meta: None, message, requested_schema: schema };
        let modern = context.protocol_version().is_some_and(|version| !version.has_initialize());
        // Stateless HTTP has no channel for the client's answer to a request of ours.
        let sessionful = context.extensions.get::<axum::http::request::Parts>().is_none();
        match (Self::can_show_form(context), modern, sessionful) {
            (true, true, _) => {
                let asks = InputRequests::from([(
                    APPROVE.to_owned(),
                    InputRequest::Elicitation(ElicitRequest::new(params)),
                )]);
                InputRequiredResult::new(Some(asks), Some(format!("{APPROVE}:{}", receipt.as_str()))).into()
            }
            (true, false, true) => {
                let asked =
                    context.peer.create_elicitation_with_timeout(params, Some(self.inner.connect_wait));
                match asked.await {
                    Ok(answer) if approved(&answer.action, answer.content.as_ref()) => {
                        match self.run(tenant, name, arguments, Some(&receipt)).await {
                            Ran::Done(done) => done.into(),
                            _ => error_text(format!("`{}` could not run for this user", shown(name))),
                        }
                    }
                    Ok(_) => {
                        error_text(format!("The user did not approve `{}`, so it was not run.", shown(name)))
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "the client did not take the approval elicitation");
                        error_text(format!(
                            "`{}` was not run: the user could not be asked to approve it",
                            shown(name)
                        ))
                    }
                }
            }
            _ => error_text(format!(
                "`{}` runs only with the user's approval, and this client cannot ask them: it was not run",
                shown(name)
            )),
        }
    }

    /// The connect id of the connector of tool `name`.
    fn connector_of(&self, name: &str) -> Option<&str> {
        let key = self.inner.tools.connector_of(name)?;
        Some(self.inner.connect_ids.get(key).map_or(key, String::as_str))
    }

    /// Runs the call (with the receipt of the user's approval, when it has one).
    async fn run(&self, tenant: &str, name: &str, arguments: Value, receipt: Option<&Receipt>) -> Ran {
        let _turn = self.inner.shares.turn(tenant).await;
        let bound = self.bound(tenant);
        let ran = match receipt {
            Some(receipt) => bound.call_approved(name, arguments, receipt).await,
            None => bound.call_value(name, arguments).await,
        };
        // `name` is the client's (a model's): shown escaped and cut, never as written.
        match ran {
            Ok(ModelReply { held: Some(Held::NeedsApproval(pending)), .. }) => Ran::NeedsApproval(*pending),
            Ok(reply) => {
                if reply.output.is_some()
                    && let Some(connector) = self.connector_of(name)
                {
                    self.inner.flows.connected(tenant, connector);
                }
                Ran::Done(result(&reply))
            }
            // Not connected, or broken until the tenant connects again: the consent link.
            Err(err) if err.is_not_connected() || err.needs_reconnect() => Ran::NotConnected,
            Err(err) => {
                // Fastn's own words go to the operator's log, never to the model.
                tracing::warn!(error = %err, tenant, "a tool call failed");
                Ran::Done(CallToolResult::error(vec![ContentBlock::text(format!(
                    "`{}` could not run: {}",
                    shown(name),
                    err.brief()
                ))]))
            }
        }
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tenant = self.tenant(&context)?;
        let given = Value::Object(request.arguments.clone().unwrap_or_default());
        let (name, arguments) = match (self.inner.search, request.name.as_ref()) {
            (false, name) => (name.to_owned(), given),
            (true, FIND_TOOLS) => return Ok(self.find_tools(&given).into()),
            (true, CALL_TOOL) => match (given.get("name"), given.get("arguments")) {
                (Some(Value::String(called)), Some(arguments @ Value::Object(_))) => {
                    (called.clone(), arguments.clone())
                }
                _ => {
                    let text = "call_tool takes {\"name\": a tool's name, \"arguments\": an object}";
                    return Ok(error_text(text.to_owned()));
                }
            },
            (true, other) => {
                return Ok(error_text(format!(
                    "no tool `{}` here: find tools with find_tools, run them with call_tool",
                    shown(other)
                )));
            }
        };
        let name = name.as_str();
        let connector = self.connector_of(name).map(str::to_owned);
        if let (Some(answers), Some(receipt)) = (
            &request.input_responses,
            request.request_state.as_deref().and_then(|state| state.strip_prefix("approve:")),
        ) {
            // The retry of a call held for approval: the receipt binds the arguments the user
            // saw, so a retry with others is refused when it is redeemed.
            let answer = answers.get(APPROVE).cloned().unwrap_or(Value::Null);
            let action =
                if answer.accepted() { ElicitationAction::Accept } else { ElicitationAction::Decline };
            if !approved(&action, answer.get("content")) {
                return Ok(error_text(format!(
                    "The user did not approve `{}`, so it was not run.",
                    shown(name)
                )));
            }
            return Ok(
                match self.run(&tenant, name, arguments, Some(&Receipt::from(receipt.to_owned()))).await {
                    Ran::Done(done) => done.into(),
                    Ran::NeedsApproval(_) => {
                        error_text(format!("`{}` was not run: the approval is not for it", shown(name)))
                    }
                    Ran::NotConnected => error_text(format!(
                        "`{}` could not run: connect its app, then call it again",
                        shown(name)
                    )),
                },
            );
        }
        if let (Some(connector), Some(answers)) = (&connector, &request.input_responses) {
            // The retry of a call answered with an InputRequiredResult: the user saw the URL.
            let answer = answers.get(CONNECT).cloned().unwrap_or(Value::Null);
            return Ok(self.after_consent(&tenant, connector, name, arguments, &answer).await);
        }
        match self.run(&tenant, name, arguments.clone(), None).await {
            Ran::Done(done) => return Ok(done.into()),
            Ran::NeedsApproval(pending) => {
                return Ok(self.ask_approval(&context, &tenant, name, arguments, pending).await);
            }
            Ran::NotConnected => {}
        }
        let Some(connector) = connector else {
            return Ok(error_text(format!("`{}` is not one of this server's tools", shown(name))));
        };
        let url = match self.inner.flows.consent(&self.inner.client, &tenant, &connector).await {
            Ok(url) => url,
            Err(err) => return Ok(error_text(format!("{connector} is not connected, and {err}"))),
        };
        let message = format!("Connect {connector} so that `{name}` can run: open the link and approve.");
        match self.ask(&context) {
            Ask::InputRequired => {
                let params = ElicitRequestParams::UrlElicitationParams {
                    meta: None,
                    message,
                    url: url.to_string(),
                    elicitation_id: String::new(),
                };
                let asks = InputRequests::from([(
                    CONNECT.to_owned(),
                    InputRequest::Elicitation(ElicitRequest::new(params)),
                )]);
                Ok(InputRequiredResult::new(Some(asks), Some(format!("connect:{connector}"))).into())
            }
            Ask::Elicit => {
                // A client that never answers does not hold the call past the connect wait.
                let asked = context.peer.elicit_url(message, url.clone(), elicitation_id(&url));
                match tokio::time::timeout(self.inner.connect_wait, asked).await {
                    Ok(Ok(answer)) => {
                        Ok(self.after_consent(&tenant, &connector, name, arguments, &answer).await)
                    }
                    Ok(Err(err)) => {
                        tracing::debug!(error = %err, "the client did not take the consent elicitation");
                        Ok(not_connected(&connector, name, &url))
                    }
                    Err(_) => {
                        tracing::debug!("the client did not answer the consent elicitation in time");
                        Ok(not_connected(&connector, name, &url))
                    }
                }
            }
            Ask::Text => Ok(not_connected(&connector, name, &url)),
        }
    }

    /// The call once the user answered the consent elicitation: on `accept`, run when the
    /// flow is connected within the wait; otherwise a tool error — with the URL, never
    /// another elicitation, which a client would answer and retry round after round.
    async fn after_consent(
        &self,
        tenant: &str,
        connector: &str,
        name: &str,
        arguments: Value,
        answer: &impl Accepted,
    ) -> CallToolResponse {
        let inner = &self.inner;
        if !answer.accepted() {
            return error_text(format!("The user did not connect {connector}, so `{name}` was not run."));
        }
        inner.flows.wait(tenant, connector, inner.poll_interval, inner.connect_wait).await;
        match self.run(tenant, name, arguments, None).await {
            Ran::Done(done) => return done.into(),
            Ran::NeedsApproval(_) => {
                return error_text(format!(
                    "{connector} is connected now: call `{name}` again to approve it"
                ));
            }
            Ran::NotConnected => {}
        }
        match inner.flows.consent(&inner.client, tenant, connector).await {
            Ok(url) => not_connected(connector, name, &url),
            Err(err) => error_text(format!("{connector} is not connected, and {err}")),
        }
    }
}

/// A client's answer to the consent elicitation: the `elicitation/create` result's action,
/// or the JSON of an `InputRequiredResult`'s answer.
trait Accepted {
    fn accepted(&self) -> bool;
}

impl Accepted for ElicitationAction {
    fn accepted(&self) -> bool {
        *self == ElicitationAction::Accept
    }
}

impl Accepted for Value {
    fn accepted(&self) -> bool {
        self.get("action").and_then(Value::as_str) == Some("accept")
    }
}

impl McpServer {
    /// `find_tools`: the tools most relevant to the query, as JSON a model reads.
    fn find_tools(&self, arguments: &Value) -> CallToolResult {
        let Some(query) = arguments.get("query").and_then(Value::as_str) else {
            return CallToolResult::error(vec![ContentBlock::text(
                "find_tools takes a `query`: what the user wants done",
            )]);
        };
        let limit = arguments.get("limit").and_then(Value::as_u64).unwrap_or(FOUND.0).clamp(1, FOUND.1);
        let tools = &self.inner.tools;
        let found: Vec<Value> = tools
            .ranked(query, usize::try_from(limit).unwrap_or(usize::MAX))
            .into_iter()
            .map(|name| {
                serde_json::json!({"name": name, "description": tools.description(name),
                    "inputSchema": tools.arguments_schema(name)})
            })
            .collect();
        if found.is_empty() {
            let text = "no tool matches: say what to do in other words (the app and the action)";
            return CallToolResult::success(vec![ContentBlock::text(text)]);
        }
        let text = Value::Array(found).to_string();
        let text: String = text.chars().take(self.inner.max_output).collect();
        CallToolResult::success(vec![ContentBlock::text(text)])
    }
}

/// Whether the user said yes in the approval form: accepted, with `approve: true`.
fn approved(action: &ElicitationAction, content: Option<&Value>) -> bool {
    *action == ElicitationAction::Accept
        && content.and_then(|content| content.get(APPROVE)) == Some(&Value::Bool(true))
}

/// A client's text (a tool name) as an answer may hold it: escaped, at most 100 characters.
fn shown(text: &str) -> String {
    fastn_auth_rules::escape(text, 100)
}

/// The tool error for a call whose connector is not connected yet.
fn not_connected(connector: &str, name: &str, url: &Url) -> CallToolResponse {
    error_text(format!(
        "{connector} is not connected for this user yet. Ask the user to open {url} and approve \
         the connection, then call `{name}` again."
    ))
}

/// The elicitation's id: the flow's state, which the URL carries already.
fn elicitation_id(url: &Url) -> String {
    url.query_pairs()
        .find(|(name, _)| name == "state")
        .map_or_else(|| url.to_string(), |(_, value)| value.into())
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_instructions(
            "Tools that act in the user's connected apps through Fastn. A tool whose app the user \
             has not connected answers with a link for the user to approve; call it again after.",
        )
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.tenant(&context)?;
        let listed = &self.inner.listed;
        let start = match request.and_then(|request| request.cursor) {
            None => 0,
            Some(cursor) => match cursor.parse::<usize>() {
                Ok(start) if start <= listed.len() => start,
                _ => return Err(ErrorData::invalid_params("the cursor is not one this server gave", None)),
            },
        };
        let end = listed.len().min(start + PAGE);
        let mut page = ListToolsResult::with_all_items(listed[start..end].to_vec());
        page.next_cursor = (end < listed.len()).then(|| end.to_string());
        Ok(page)
    }

    /// The call, stopped (its Fastn request, its wait for the user) as soon as its client
    /// hangs up or cancels it: rmcp runs it in a task of its own and only says so through
    /// the request's cancellation token.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let cancelled = context.ct.clone();
        tokio::select! {
            biased;
            () = cancelled.cancelled() => {
                Err(ErrorData::internal_error("the client cancelled the call", None))
            }
            answer = self.call(request, context) => answer,
        }
    }
}
