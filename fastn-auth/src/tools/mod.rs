//! Fastn tools: actions a connector offers (Slack "send message", Gmail "create draft"),
//! run by Fastn with the tenant's connection, so the service never holds a provider token.
//!
//! - Typed: a manifest connector with `tools:` generates `Slack::tools(&client)` with one
//!   method per tool and an input type per tool, checked by the compiler.
//! - Untyped: [`FastnAuth::tools`](crate::FastnAuth::tools) gives a [`ToolClient`]; its
//!   [`call_id`](ToolClient::call_id) sends a tool id and parameters as they are.
//! - Checked against the registry's schemas, and for language models (the tool lists of
//!   OpenAI, Anthropic, Gemini and Bedrock, a model's call checked before sending): the
//!   crate `fastn-auth-agent`, on this module. This crate compiles no schema validator.
//!
//! Every call is `POST {base}/ucl/executeTool` and is **never sent twice once it may have
//! reached Fastn** (a message must not be posted twice), unless it says
//! [`idempotent`](ToolCall::idempotent); a connection that could not be made and a 429
//! with `Retry-After` are retried within the client's retries and the call's deadline,
//! which covers the answer's body too.

mod output;
mod value;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::inner::ClientInner;
use crate::target::Scope;
use crate::transport::{self, Budget, Outgoing, Resend};
use crate::wire::{self, Endpoint};

pub use crate::wire::tools::FoundTool;
pub use output::{RawToolOutput, ToolOutput};
pub use value::{Field, FromToolValue, OptionalField, TakeFields, ValueError, deserialize, read, write};

/// The largest answer of `executeTool` read, unless a call sets its own
/// ([`ToolCall::max_body`]): 16 MiB.
pub const DEFAULT_MAX_TOOL_ANSWER: usize = 16 * 1024 * 1024;
/// The deployment stage sent as `stage` unless the client sets another
/// ([`FastnAuthBuilder::stage`](crate::FastnAuthBuilder::stage)).
pub const DEFAULT_STAGE: &str = "LIVE";

/// A tool as generated code names it: which registry entry a typed input type belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolSpec {
    /// Fastn's id of the connector (`connectorId`).
    pub connector_id: &'static str,
    /// Fastn's id of the tool (`toolId`).
    pub tool_id: &'static str,
    /// The registry's key of the tool (`send_message`), for errors and tracing.
    pub key: &'static str,
    /// The parameter group the input's fields go in, when the schema has exactly one.
    pub group: Option<&'static str>,
}

/// A generated tool input: its fields are the tool's parameters (inside
/// [`ToolSpec::group`] when there is one).
pub trait ToolInput: serde::Serialize {
    /// The tool this is the input of.
    const SPEC: ToolSpec;
}

/// Checks a typed input against its tool's schema before the call is sent: the one check
/// of `fastn-auth-agent` (its `TypedChecks`, which the code `connectors!` generates for a
/// manifest's `tools:` passes to [`ToolClient::run`]), the same as a model's untyped call
/// gets. This crate compiles no schema validator.
pub trait ArgumentCheck: Sync {
    /// `Ok` when `arguments` — the input's fields, as its `Serialize` writes them (inside
    /// no group) — match the schema of `spec`'s tool.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArguments`](crate::ErrorKind::InvalidArguments) naming the first
    /// offending field; [`ErrorKind::Config`](crate::ErrorKind::Config) when the tool's
    /// schema cannot be used.
    fn check(&self, spec: &ToolSpec, arguments: &Value) -> Result<()>;
}

/// The `tenant_id` and `connection_id` setters of a builder holding a `scope: ToolScope`,
/// with their docs.
macro_rules! scope_setters {
    ($tenant_doc:literal, $connection_doc:literal) => {
        #[doc = $tenant_doc]
        ///
        /// A tenant is always said, or [`no_tenant`](Self::no_tenant): a call that said
        /// neither is an [`ErrorKind::Config`](crate::ErrorKind::Config), and nothing is sent.
        pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
            self.scope.tenant_id = Some(tenant_id.into());
            self.scope.no_tenant = false;
            self
        }

        /// The space's own connection, made without a tenant: said on purpose, since a
        /// forgotten `tenant_id` must not reach it.
        pub fn no_tenant(mut self) -> Self {
            self.scope.tenant_id = None;
            self.scope.no_tenant = true;
            self
        }

        #[doc = $connection_doc]
        pub fn connection_id(mut self, connection_id: impl Into<String>) -> Self {
            self.scope.connection_id = Some(connection_id.into());
            self
        }
    };
}

/// Runs one connector's tools for one tenant: made by
/// [`FastnAuth::tools`](crate::FastnAuth::tools) (and wrapped by a generated
/// `SlackTools`).
///
/// Owned, cheap to clone, `Send + Sync + 'static`.
#[derive(Debug, Clone)]
pub struct ToolClient {
    inner: Arc<ClientInner>,
    connector: Arc<str>,
    scope: ToolScope,
}

impl ToolClient {
    pub(crate) fn new(inner: Arc<ClientInner>, connector: &str) -> Self {
        ToolClient { inner, connector: connector.into(), scope: ToolScope::default() }
    }

    scope_setters!(
        "The tenant the tools run for (sent as `x-fastn-space-tenantid`).",
        "A specific connection of the tenant (`connectionId` in the body)."
    );

    /// The agent the calls are made as (`agentId`); default the client's
    /// ([`FastnAuthBuilder::agent_id`](crate::FastnAuthBuilder::agent_id)), else the
    /// space id.
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.scope.agent_id = Some(agent_id.into());
        self
    }

    /// The connector, as given.
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// Runs the tool of Fastn id `tool_id` with `parameters` sent as they are, for the
    /// connector id as given to [`FastnAuth::tools`](crate::FastnAuth::tools): no registry
    /// needed, nothing checked (`fastn-auth-agent` checks them against the registry first).
    pub fn call_id(&self, tool_id: &str, parameters: Value) -> ToolCall {
        self.prepared(Prepared {
            label: tool_id.to_owned(),
            connector_id: self.connector.to_string(),
            tool_id: tool_id.to_owned(),
            parameters,
        })
    }

    /// Runs a generated tool input (what a generated `SlackTools::send_message` calls),
    /// checked by `check` first: input that does not match its schema is refused by the
    /// call's `send` with [`ErrorKind::InvalidArguments`](crate::ErrorKind::InvalidArguments),
    /// and nothing is sent.
    pub fn run<I: ToolInput>(&self, input: &I, check: &dyn ArgumentCheck) -> ToolCall {
        let spec = I::SPEC;
        let (fields, refused) = match serde_json::to_value(input) {
            Ok(fields) => {
                let refused = check.check(&spec, &fields).err();
                (fields, refused)
            }
            Err(err) => (
                Value::Null,
                Some(Error::invalid_arguments(
                    spec.key,
                    "",
                    format!("the input does not serialize as JSON: {err}"),
                )),
            ),
        };
        let mut call = self.prepared(Prepared {
            label: spec.key.to_owned(),
            connector_id: spec.connector_id.to_owned(),
            tool_id: spec.tool_id.to_owned(),
            parameters: match spec.group {
                Some(group) => Value::Object(Map::from_iter([(group.to_owned(), fields)])),
                None => fields,
            },
        });
        call.refused = refused;
        call
    }

    fn prepared(&self, prepared: Prepared) -> ToolCall {
        ToolCall {
            inner: self.inner.clone(),
            connector: self.connector.clone(),
            prepared,
            refused: None,
            scope: self.scope.clone(),
            idempotent: false,
            timeout: None,
            max_body: DEFAULT_MAX_TOOL_ANSWER,
        }
    }
}

/// Who a tool call runs for: what the `tenant_id`, `connection_id` and `agent_id` setters of
/// [`ToolClient`] and [`ToolCall`] set, handed from one to the next.
#[derive(Debug, Clone, Default)]
struct ToolScope {
    tenant_id: Option<String>,
    /// `no_tenant()` was called: the space's own connection, on purpose.
    no_tenant: bool,
    connection_id: Option<String>,
    agent_id: Option<String>,
}

impl ToolScope {
    /// The tenant and connection as the transport sends them (as `Target::scope` gives a
    /// credentials call's).
    fn wire(&self) -> Scope<'_> {
        Scope { tenant_id: self.tenant_id.as_deref(), connection_id: self.connection_id.as_deref() }
    }
}

/// What a call sends, checked.
#[derive(Debug, Clone)]
struct Prepared {
    /// How errors name the tool.
    label: String,
    connector_id: String,
    tool_id: String,
    parameters: Value,
}

/// One tool call; `.send().await` it.
#[derive(Debug)]
#[must_use = "a tool call does nothing until .send().await"]
pub struct ToolCall {
    inner: Arc<ClientInner>,
    /// The connector as the caller named it (the connect id, for a generated client): what
    /// the connection's health is kept by.
    connector: Arc<str>,
    prepared: Prepared,
    /// Why the call is refused unsent: its input did not pass its [`ArgumentCheck`].
    refused: Option<Error>,
    scope: ToolScope,
    idempotent: bool,
    timeout: Option<Duration>,
    max_body: usize,
}

impl ToolCall {
    scope_setters!(
        "The tenant of this call, replacing the client's.",
        "The connection of this call, replacing the client's."
    );

    /// Says that running the tool twice has the effect of running it once (a read), so a
    /// call that may have reached Fastn is retried after a transient failure too.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// The deadline of the whole call, retries and the answer's body included; at most the
    /// client's call timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The largest answer read, in bytes; default [`DEFAULT_MAX_TOOL_ANSWER`].
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How errors and traces name this call (a model's name of the tool,
    /// `slack_send_message`); default the tool's key or id.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.prepared.label = name.into();
        self
    }

    /// Runs the tool.
    ///
    /// # Errors
    /// What the call could not do: [`ErrorKind::Config`](crate::ErrorKind::Config) or [`ErrorKind::InvalidArguments`](crate::ErrorKind::InvalidArguments)
    /// before sending; [`ErrorKind::ToolRefused`](crate::ErrorKind::ToolRefused) when Fastn refused (`is_tool_not_found`,
    /// `is_tool_not_enabled`, `is_not_found` for a tenant without a connection); a 401 of
    /// Fastn for the space's key (`is_unauthorized`); network failures and deadlines. A
    /// provider's own error status is an `Ok` [`ToolOutput`].
    pub async fn send(self) -> Result<ToolOutput> {
        self.send_decoded(output::decode).await
    }

    /// As [`send`](Self::send), the provider's body kept as the JSON text Fastn sent, not
    /// decoded into a tree: for an answer to write out or to parse as a stream (a tree of a
    /// large answer takes up to twenty times its size).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_raw(self) -> Result<RawToolOutput> {
        self.send_decoded(output::decode_raw).await
    }

    async fn send_decoded<T>(
        self,
        decode: fn(&[u8]) -> std::result::Result<T, wire::DecodeError>,
    ) -> Result<T> {
        transport::in_runtime()?;
        if let Some(refused) = self.refused {
            return Err(refused);
        }
        let prepared = self.prepared;
        if self.scope.tenant_id.is_none() && !self.scope.no_tenant {
            return Err(Error::config(format!(
                "tool `{}` has no tenant: call .tenant_id(…) for your customer's connection, or \
                 .no_tenant() for the space's own",
                transport::shown(&prepared.label)
            )));
        }
        let settings = &self.inner.tools;
        let agent = self.scope.agent_id.as_deref().unwrap_or(&settings.agent_id);
        let scope = self.scope.wire();
        let connection = self.scope.connection_id.as_deref();
        let body = wire::tools::request_body(
            prepared.tool_id,
            prepared.connector_id,
            agent,
            prepared.parameters,
            connection,
        )
        .map_err(|err| Error::config(format!("the call cannot be serialized: {err}")))?;
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(
            HeaderName::from_static(wire::TENANT_ID),
            transport::header_value("tenant_id", scope.tenant_id)?,
        );
        headers.insert(HeaderName::from_static(wire::CUSTOM_AUTH), HeaderValue::from_static("false"));
        headers.insert(
            HeaderName::from_static(wire::tools::REALM),
            HeaderValue::from_static(wire::tools::REALM_FASTN),
        );
        headers.insert(HeaderName::from_static(wire::tools::STAGE), settings.stage.clone());
        let transport = &self.inner.transport;
        let outgoing = Outgoing {
            endpoint: Endpoint::ExecuteTool,
            url: settings.execute_url.clone(),
            scope,
            headers,
            body: Some(body.into()),
            resend: if self.idempotent { Resend::OnTransient } else { Resend::OnlyUnacted },
            max_body: self.max_body,
        };
        let deadline = self.timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let budget = Budget { retries: transport.retry.max_retries, deadline };
        let span = tracing::debug_span!("fastn_auth.tool", tool = %prepared.label);
        let sent = tracing::Instrument::instrument(transport.send(&outgoing, budget, decode), span).await;
        let sent = sent.map_err(|err| output::refusal(&err).unwrap_or(err));
        // What Fastn answered is recorded for the connection's health, by the connector as
        // the caller named it. Not gated: a client made with a registry id (`BoundTools`)
        // names the connector otherwise than its flows do, and a gate could hold a mended
        // connection's calls until the next probe; Fastn answers a broken one's call itself.
        let key = crate::target::Key {
            connector_id: &self.connector,
            org_id: wire::DEFAULT_ORG_ID,
            tenant_id: self.scope.tenant_id.as_deref(),
            connection_id: self.scope.connection_id.as_deref(),
        };
        match &sent {
            Ok(_) => self.inner.accepted(key),
            Err(err) => self.inner.learn_from(key, err),
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use serde::ser::{Serialize, Serializer};

    use super::*;

    /// What a generated struct's `Serialize` is: `write` over its fields.
    struct Input {
        text: String,
        count: i64,
        ratio: f64,
        tags: Vec<Option<bool>>,
        absent: Option<String>,
        present: Option<i64>,
    }

    impl Serialize for Input {
        fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
            write(
                serializer,
                &[("text", &self.text), ("count", &self.count), ("ratio", &self.ratio), ("tags", &self.tags)],
                &[("absent", &self.absent), ("present", &self.present)],
                None,
            )
        }
    }

    #[test]
    fn generated_values_are_the_json_the_schema_declares() {
        let input = Input {
            text: "hi".to_owned(),
            count: 3,
            ratio: f64::NAN,
            tags: vec![Some(true), None],
            absent: None,
            present: Some(7),
        };
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            serde_json::json!({"text": "hi", "count": 3, "ratio": null, "tags": [true, null], "present": 7})
        );
    }

    #[test]
    fn a_generated_struct_reads_back_with_a_pointer_to_what_does_not_fit() {
        let build = |(text, (count, tags)): (String, (Option<i64>, Vec<Option<bool>>)),
                     rest: Map<String, Value>| { (text, count, tags, rest) };
        let value = serde_json::json!({"text": "hi", "tags": [true, null], "extra": 1});
        assert_eq!(
            read(value, &["text", "count", "tags"], build).unwrap(),
            ("hi".to_owned(), None, vec![Some(true), None], Map::from_iter([("extra".to_owned(), 1.into())]))
        );
        let err =
            read(serde_json::json!({"text": "hi", "tags": [true, 2]}), &["text", "count", "tags"], build)
                .unwrap_err();
        assert_eq!(err.to_string(), "/tags/1: expected true or false");
        let err = read(serde_json::json!({"tags": []}), &["text", "count", "tags"], build).unwrap_err();
        assert_eq!(err.to_string(), "/text: expected a value (the field is required)");
        assert_eq!(
            read(serde_json::json!([]), &["text", "count", "tags"], build).unwrap_err().to_string(),
            "the value: expected an object"
        );
    }
}
