//! [`BoundTools`]: a [`ToolSet`] bound to a client and a tenant, which checks a model's
//! call, maps it back to its tool, runs it and says what to hand back to the model.

use fastn_auth::tools::{ToolCall, ToolOutput};
use fastn_auth::{ErrorKind, FastnAuth, Result};
use fastn_auth_rules::shown_id as shown;
use serde_json::{Map, Value};

use crate::approval::{Approvals, PendingApproval, Receipt};
use crate::budget::{Budget, OverBudget};
use crate::set::{Entry, ToolSet};

/// The most characters of a tool's answer handed back to a model unless
/// [`BoundTools::max_output`] says otherwise.
pub const DEFAULT_MAX_MODEL_OUTPUT: usize = 20_000;

/// The largest tool answer read for a model unless [`BoundTools::max_answer_bytes`] says
/// otherwise (128 KiB): room for [`DEFAULT_MAX_MODEL_OUTPUT`] characters however the
/// provider spaces its JSON, and a bound on what decoding it may take (a JSON tree takes up
/// to twenty times its text).
pub const DEFAULT_MAX_MODEL_ANSWER_BYTES: usize = 128 * 1024;

/// A [`ToolSet`] bound to a client and a tenant: runs the calls a model makes.
#[derive(Debug, Clone)]
pub struct BoundTools {
    set: ToolSet,
    client: FastnAuth,
    tenant_id: Option<String>,
    /// `no_tenant()` was called: the space's own connection, on purpose.
    no_tenant: bool,
    connection_id: Option<String>,
    max_output: usize,
    max_answer: usize,
    budget: Option<Budget>,
    approvals: Option<Approvals>,
}

/// Why a call was held back rather than run: for the app to act on (the model reads the
/// reply's text).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Held {
    /// A limit of the [`Budget`] was met; nothing was sent.
    OverBudget(Box<OverBudget>),
    /// The tool runs only with a person's approval: show them this, and on their yes run
    /// it with [`BoundTools::call_approved`] and the receipt of
    /// [`Approvals::approve`].
    NeedsApproval(Box<PendingApproval>),
}

/// What to hand back to the model for one of its calls.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ModelReply {
    /// The text for the model: the provider's answer as JSON, or what was wrong with the
    /// call, cut to [`BoundTools::max_output`] characters.
    pub text: String,
    /// Whether the call failed in a way the model can act on: arguments that do not match
    /// the schema, an unknown tool, a provider status of 400 or more.
    pub is_error: bool,
    /// Whether `text` was cut.
    pub truncated: bool,
    /// The tool's whole answer, when it ran.
    pub output: Option<ToolOutput>,
    /// Why the call was held back, when it was: over budget, or waiting for a person.
    pub held: Option<Held>,
}

impl ModelReply {
    fn rejected(text: String, max: usize) -> Self {
        let (text, truncated) = bounded(text, max);
        ModelReply { text, is_error: true, truncated, output: None, held: None }
    }

    fn held(text: String, held: Held, max: usize) -> Self {
        ModelReply { held: Some(held), ..ModelReply::rejected(text, max) }
    }
}

impl ToolSet {
    /// These tools run through `client`: set the tenant, then [`BoundTools::call`] each call
    /// the model makes.
    pub fn bind(&self, client: &FastnAuth) -> BoundTools {
        BoundTools {
            set: self.clone(),
            client: client.clone(),
            tenant_id: None,
            no_tenant: false,
            connection_id: None,
            max_output: DEFAULT_MAX_MODEL_OUTPUT,
            max_answer: DEFAULT_MAX_MODEL_ANSWER_BYTES,
            budget: None,
            approvals: None,
        }
    }
}

impl BoundTools {
    /// The tenant the calls run for (sent as `x-fastn-space-tenantid`). A tenant is always
    /// said, or [`no_tenant`](Self::no_tenant): a call that said neither is an
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config), and nothing is sent.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self.no_tenant = false;
        self
    }

    /// The space's own connection, made without a tenant: said on purpose, since a
    /// forgotten `tenant_id` must not reach it.
    pub fn no_tenant(mut self) -> Self {
        self.tenant_id = None;
        self.no_tenant = true;
        self
    }

    /// A specific connection of the tenant (`connectionId` in the body).
    pub fn connection_id(mut self, connection_id: impl Into<String>) -> Self {
        self.connection_id = Some(connection_id.into());
        self
    }

    /// The most characters of a reply's text; default [`DEFAULT_MAX_MODEL_OUTPUT`].
    pub fn max_output(mut self, chars: usize) -> Self {
        self.max_output = chars;
        self
    }

    /// The largest tool answer read, in bytes; default [`DEFAULT_MAX_MODEL_ANSWER_BYTES`].
    /// A larger one is not read further nor decoded: the model's reply says so, and to ask
    /// for less.
    pub fn max_answer_bytes(mut self, bytes: usize) -> Self {
        self.max_answer = bytes;
        self
    }

    /// Caps the calls of each tenant ([`Budget`]): a call over a limit is held back
    /// ([`Held::OverBudget`]) with nothing sent, and the model reads when to try again.
    /// Counted by [`call`](Self::call), [`call_value`](Self::call_value) and
    /// [`call_approved`](Self::call_approved).
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// How tools marked by [`ToolSet::require_approval`] are approved: without this, such
    /// a tool never runs.
    pub fn approvals(mut self, approvals: Approvals) -> Self {
        self.approvals = Some(approvals);
        self
    }

    /// The tools.
    pub fn tool_set(&self) -> &ToolSet {
        &self.set
    }

    /// Runs the model's call of `name` with `arguments` as the model wrote them (JSON
    /// text; empty means `{}`).
    ///
    /// A name the set does not have, arguments that are not JSON or do not match the schema
    /// are answered with an error reply naming the problem and the field, and nothing is
    /// sent; a provider status of 400 or more is an error reply with the provider's answer.
    ///
    /// # Errors
    /// What the model cannot fix: Fastn refusing the tool or the space's key, a tenant
    /// without a connection (`is_not_found`: connect it, then call again), network failures
    /// and deadlines.
    pub async fn call(&self, name: &str, arguments: &str) -> Result<ModelReply> {
        let arguments = match arguments.trim() {
            "" => Value::Object(Map::new()),
            text => match serde_json::from_str(text) {
                Ok(value) => value,
                Err(err) => {
                    let text = format!(
                        "the arguments of `{}` are not JSON ({err}): send a JSON object",
                        shown(name)
                    );
                    return Ok(ModelReply::rejected(text, self.max_output));
                }
            },
        };
        self.call_value(name, arguments).await
    }

    /// [`call`](Self::call) with arguments already parsed (Anthropic's and Bedrock's
    /// `input`).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_value(&self, name: &str, arguments: Value) -> Result<ModelReply> {
        self.run(name, arguments, None).await
    }

    /// Runs a call a person approved: `receipt` ([`Approvals::approve`] of the
    /// [`PendingApproval`] the call was held with) must be for this tenant, this tool and
    /// exactly these arguments, unexpired and unused; else the reply says why and nothing
    /// is sent. A tool that needs no approval runs as with [`call_value`](Self::call_value).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_approved(&self, name: &str, arguments: Value, receipt: &Receipt) -> Result<ModelReply> {
        self.run(name, arguments, Some(receipt)).await
    }

    async fn run(&self, name: &str, arguments: Value, receipt: Option<&Receipt>) -> Result<ModelReply> {
        let (entry, arguments) = match self.checked(name, arguments) {
            Ok(checked) => checked,
            Err(rejected) => return Ok(rejected),
        };
        if entry.approve {
            let tenant = self.tenant_id.as_deref();
            match (&self.approvals, receipt) {
                (None, _) => {
                    let text = format!(
                        "`{}` runs only with a person's approval, which this app does not take: it was not run",
                        entry.name
                    );
                    return Ok(ModelReply::rejected(text, self.max_output));
                }
                (Some(_), None) => {
                    let pending = PendingApproval {
                        tool: entry.name.clone(),
                        tool_id: entry.tool.id.clone(),
                        tenant: tenant.map(str::to_owned),
                        arguments,
                    };
                    let text = format!(
                        "`{}` waits for the user's approval of exactly these arguments; the user has been asked. \
                         It has not run: do not call it again unless the user asks.",
                        entry.name
                    );
                    #[cfg(feature = "metrics")]
                    ::metrics::counter!("fastn_auth_agent_calls_held_total", "reason" => "approval")
                        .increment(1);
                    return Ok(ModelReply::held(
                        text,
                        Held::NeedsApproval(Box::new(pending)),
                        self.max_output,
                    ));
                }
                (Some(_), Some(_)) => {}
            }
        }
        if let Some(budget) = &self.budget
            && let Err(over) = budget.spend(self.tenant_id.as_deref().unwrap_or_default(), &entry.name).await
        {
            return Ok(ModelReply::held(
                format!("`{}` was not run: {over}", entry.name),
                Held::OverBudget(Box::new(over)),
                self.max_output,
            ));
        }
        // Redeemed last: a receipt is used up only by a call that runs.
        if let (true, Some(approvals), Some(receipt)) = (entry.approve, &self.approvals, receipt)
            && let Err(why) =
                approvals.redeem(receipt, self.tenant_id.as_deref(), &entry.tool.id, &arguments).await
        {
            let text = format!("`{}` was not run: {why}", entry.name);
            return Ok(ModelReply::rejected(text, self.max_output));
        }
        let call = self.scoped(entry, arguments);
        let output = match call.max_body(self.max_answer).send().await {
            Err(err) if err.is_too_large() => {
                let text = format!(
                    "the answer of `{}` is larger than {} bytes, more than is read for a model: ask for \
                     less (a filter, fewer fields, a smaller page)",
                    shown(name),
                    self.max_answer
                );
                return Ok(ModelReply::rejected(text, self.max_output));
            }
            answer => answer?,
        };
        let (text, truncated) = bounded(output_text(&output), self.max_output);
        Ok(ModelReply { text, is_error: !output.is_success(), truncated, output: Some(output), held: None })
    }

    /// The checked call of `name`, not yet sent, or the error reply for the model. A `null`
    /// for an optional field whose schema takes none (what a strict-mode model sends for a
    /// field it leaves out) is dropped first. The [`budget`](Self::budget) is not counted
    /// here: it counts the calls this set runs itself.
    ///
    /// # Errors
    /// The reply for a name the set does not have, arguments that do not match, or a tool
    /// that runs only with a person's approval (run it with
    /// [`call_approved`](Self::call_approved)).
    // The reply is what a model is handed, once per call; larger than clippy's bound only
    // where serde_json's `preserve_order` (which rig turns on) makes every `Value` larger.
    #[allow(clippy::result_large_err)]
    pub fn prepare(&self, name: &str, arguments: Value) -> std::result::Result<ToolCall, ModelReply> {
        let (entry, arguments) = self.checked(name, arguments)?;
        if entry.approve {
            let text =
                format!("`{}` runs only with a person's approval: it is run with call_approved", entry.name);
            return Err(ModelReply::rejected(text, self.max_output));
        }
        Ok(self.scoped(entry, arguments))
    }

    /// The entry of `name` and its arguments, checked (a strict-mode model's `null`s
    /// dropped), or the reply for the model.
    #[allow(clippy::result_large_err)] // As `prepare`'s.
    fn checked(&self, name: &str, mut arguments: Value) -> std::result::Result<(&Entry, Value), ModelReply> {
        let entry = self.set.entry(name).map_err(|text| ModelReply::rejected(text, self.max_output))?;
        // A strict-mode model's `null` for a field it leaves out, as the schema reads it.
        crate::drop_optional_nulls(entry.arguments.schema(), &mut arguments);
        if let Err(err) = entry.arguments.check(&entry.name, &arguments) {
            let text = match err.kind() {
                ErrorKind::InvalidArguments { message, .. } => {
                    format!("invalid arguments for `{}`: {message}. Fix them and call again.", entry.name)
                }
                _ => err.to_string(),
            };
            return Err(ModelReply::rejected(text, self.max_output));
        }
        Ok((entry, arguments))
    }

    /// The call of the tool `tool` (its registry key, `send_message`) of `connector` (a
    /// manifest id or registry key) with `arguments` in the form of
    /// [`RegistryTool::arguments_schema`](crate::RegistryTool::arguments_schema), checked
    /// against the schema: what a service calls by the tool's key rather than a model by
    /// its name.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config) for a connector or tool the set does not have (with the nearest
    /// names) or one that runs only with a person's approval, [`ErrorKind::InvalidArguments`](fastn_auth::ErrorKind::InvalidArguments) naming the field; nothing is sent.
    pub fn call_tool(&self, connector: &str, tool: &str, arguments: Value) -> Result<ToolCall> {
        let entry = self.set.entry_of(connector, tool)?;
        if entry.approve {
            return Err(fastn_auth::Error::config(format!(
                "`{}` runs only with a person's approval: run it with call_approved",
                entry.name
            )));
        }
        entry.arguments.check(&entry.name, &arguments)?;
        Ok(self.scoped(entry, arguments))
    }

    /// The call of `entry` for this tenant and connection.
    fn scoped(&self, entry: &Entry, arguments: Value) -> ToolCall {
        let mut call = entry.call(&self.client, arguments);
        if let Some(tenant) = &self.tenant_id {
            call = call.tenant_id(tenant);
        } else if self.no_tenant {
            call = call.no_tenant();
        }
        if let Some(connection) = &self.connection_id {
            call = call.connection_id(connection);
        }
        call
    }
}

/// What a model reads of an answer: the body as JSON, or the raw body, with the status when
/// it is an error.
fn output_text(output: &ToolOutput) -> String {
    let body = match (output.body(), output.raw_body()) {
        (Value::Null, Some(raw)) => raw.to_owned(),
        (body, _) => body.to_string(),
    };
    match output.status() {
        Some(status) if status >= 400 => format!("the provider answered {status}: {body}"),
        _ => body,
    }
}

/// `text` cut to `max` characters, with a note saying so.
fn bounded(text: String, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        None => (text, false),
        Some((at, _)) => {
            let total = text.len();
            let mut cut = text[..at].to_owned();
            cut.push_str(&format!(" … [cut: the answer has {total} bytes]"));
            (cut, true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_and_says_so() {
        let (text, cut) = bounded("é".repeat(10), 4);
        assert!(cut && text.starts_with("éééé …") && text.contains("20 bytes"), "{text}");
        assert_eq!(bounded("abc".into(), 3), ("abc".to_owned(), false));
    }
}
