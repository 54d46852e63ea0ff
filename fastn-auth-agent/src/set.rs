//! [`ToolSet`]: the tools of a registry, the tool lists a model provider takes, and the
//! entry a model's name maps back to.

use std::sync::Arc;

use fastn_auth::tools::ToolCall;
use fastn_auth::{Error, FastnAuth, Result};
use fastn_auth_rules::model_text;
use fastn_auth_rules::shown_id as shown;
use serde_json::Value;

use crate::check::Checked;
use crate::format::ModelFormat;
use fastn_auth_rules::registry::{
    MAX_DESCRIPTION_CHARS, MAX_MODEL_NAME, Registry, RegistryError, RegistryTool, model_name, prompt_words,
    registry_key, relevance,
};

/// The most tool names listed in an error about an unknown one.
const MAX_NAMES_LISTED: usize = 20;

/// Tools handed to a language model ([`bind`](Self::bind) them to a client to run a
/// model's calls): from a registry ([`from_registry`](Self::from_registry))
/// or the manifest's selection (a generated `tool_set()`).
///
/// Each tool has a name unique across connectors and stable ([`model_name`]: `slack_send_message`),
/// the model's arguments schema (a single parameter group unwrapped), and its tool id, so a
/// model's call maps back to exactly one tool. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ToolSet {
    entries: Arc<[Entry]>,
    /// The registry's tools left out, and why.
    refused: Arc<[RegistryError]>,
}

/// One tool of a set.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) connector_key: String,
    pub(crate) connector_id: String,
    pub(crate) tool: RegistryTool,
    pub(crate) arguments: Checked,
    /// Runs only with a person's approval ([`ToolSet::require_approval`]).
    pub(crate) approve: bool,
}

impl Entry {
    /// The call of this tool with `arguments` (already checked) through `client`, named as a
    /// model names it.
    pub(crate) fn call(&self, client: &FastnAuth, arguments: Value) -> ToolCall {
        let parameters = self.tool.parameters(arguments);
        client.tools(&self.connector_id).call_id(&self.tool.id, parameters).named(&self.name)
    }

    /// What a model reads about the tool: the registry's description (or, without one or
    /// with an empty one, its name), escaped and cut as all model-facing text is.
    fn description(&self) -> String {
        fn given(text: Option<&str>) -> Option<&str> {
            text.filter(|text| !text.trim().is_empty())
        }
        let text = given(self.tool.description.as_deref())
            .or(given(self.tool.name.as_deref()))
            .unwrap_or(&self.tool.key);
        model_text(text, MAX_DESCRIPTION_CHARS)
    }
}

impl ToolSet {
    /// Every tool of `registry` whose arguments can be described to a model and checked (a
    /// tool the registry marks — `requiresApproval`, a manifest's `approve:`, or MCP's
    /// `destructiveHint` — runs only with a person's approval, as after
    /// [`require_approval`](Self::require_approval)): a
    /// tool whose input schema is not an object schema, or has a `pattern` the linear-time
    /// engine cannot take, is left out (and logged), never served half-typed; the others are
    /// all served ([`refused`](Self::refused) says which and why).
    pub fn from_registry(registry: &Registry) -> ToolSet {
        let mut entries = Vec::new();
        let mut refused = Vec::new();
        for connector in &registry.connectors {
            for tool in &connector.tools {
                let usable = tool.arguments_schema().and_then(|schema| {
                    Checked::new(schema).compiled_if_patterned().map_err(|message| RegistryError {
                        path: format!("tools.{}.inputSchema", model_text(&tool.key, 80)),
                        message,
                    })
                });
                match usable {
                    Ok(arguments) => entries.push(Entry {
                        name: model_name(&connector.key, &tool.key),
                        connector_key: connector.key.clone(),
                        connector_id: connector.id.clone(),
                        arguments,
                        tool: tool.clone(),
                        approve: tool.requires_approval,
                    }),
                    Err(mut err) => {
                        err.path = format!("connectors.{}.{}", model_text(&connector.key, 80), err.path);
                        tracing::warn!(error = %err, "a registry tool is not served");
                        refused.push(err);
                    }
                }
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        ToolSet { entries: entries.into(), refused: refused.into() }
    }

    /// The registry's tools this set leaves out, each with the registry path and the
    /// reason (an input schema that is not an object schema).
    pub fn refused(&self) -> &[RegistryError] {
        &self.refused
    }

    /// Every tool of the registry in `json` (Fastn's `.fastn/registry.json` format).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config) saying where the registry is wrong.
    pub fn from_json(json: &str) -> Result<ToolSet> {
        let registry =
            Registry::parse(json).map_err(|err| Error::config(format!("the tool registry: {err}")))?;
        Ok(ToolSet::from_registry(&registry))
    }

    /// The tools of this set named in `names` (an allow-list of model names).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config) for a name the set does not have, with the nearest one.
    pub fn only<S: AsRef<str>>(&self, names: impl IntoIterator<Item = S>) -> Result<ToolSet> {
        let mut kept = Vec::new();
        for name in names {
            kept.push(self.entry(name.as_ref()).map_err(Error::config)?.clone());
        }
        kept.sort_by(|a, b| a.name.cmp(&b.name));
        kept.dedup_by(|a, b| a.name == b.name);
        Ok(ToolSet { entries: kept.into(), refused: Arc::default() })
    }

    /// This set with the tools named in `names` (model names) running only with a person's
    /// approval of their exact arguments ([`crate::approval`]): tools that write, send or
    /// delete.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](fastn_auth::ErrorKind::Config) for a name the set does not have, with the nearest one.
    pub fn require_approval<S: AsRef<str>>(&self, names: impl IntoIterator<Item = S>) -> Result<ToolSet> {
        let mut entries = self.entries.to_vec();
        for name in names {
            let name = &self.entry(name.as_ref()).map_err(Error::config)?.name;
            if let Some(entry) = entries.iter_mut().find(|entry| &entry.name == name) {
                entry.approve = true;
            }
        }
        Ok(ToolSet { entries: entries.into(), refused: self.refused.clone() })
    }

    /// Whether the tool a model knows as `name` runs only with a person's approval.
    pub fn needs_approval(&self, name: &str) -> bool {
        self.find(name).is_some_and(|entry| entry.approve)
    }

    /// The tools of this set most relevant to `prompt`, at most `limit`: for a model whose
    /// context should not hold 500 tools (hand it `search(prompt, 20).openai()`). The
    /// ranking is [`ranked`](Self::ranked)'s.
    pub fn search(&self, prompt: &str, limit: usize) -> ToolSet {
        let names = self.ranked(prompt, limit);
        self.subset(|entry| names.contains(&entry.name.as_str()))
    }

    /// The tools of this set `keep` keeps, in the set's order.
    fn subset(&self, keep: impl Fn(&Entry) -> bool) -> ToolSet {
        let entries: Vec<Entry> = self.entries.iter().filter(|entry| keep(entry)).cloned().collect();
        ToolSet { entries: entries.into(), refused: Arc::default() }
    }

    /// Every entry, in name order.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// As [`search`](Self::search), ranked by Fastn's own `getTools`
    /// ([`FastnAuth::find_tools`]): the tools of this set among the `limit` Fastn finds for
    /// `prompt`. A tool Fastn names that the set does not have is left out — the set is the
    /// allow-list.
    ///
    /// # Errors
    /// What [`FastnAuth::find_tools`] fails with.
    pub async fn search_fastn(&self, client: &FastnAuth, prompt: &str, limit: usize) -> Result<ToolSet> {
        let found = client.find_tools(prompt, limit).await?;
        Ok(self.subset(|entry| found.iter().any(|tool| tool.tool_id == entry.tool.id)))
    }

    /// The model names of the tools most relevant to `prompt`, best first, at most `limit`;
    /// none when no word matches. A local, documented ranking
    /// ([`relevance`](fastn_auth_rules::registry::relevance)): how many of the prompt's
    /// words (three letters or more, at most 64) occur in the connector's key and the tool's
    /// key, name and description; ties in name order.
    pub fn ranked(&self, prompt: &str, limit: usize) -> Vec<&str> {
        let words = prompt_words(prompt);
        let mut scored: Vec<(usize, &str)> = self
            .entries
            .iter()
            .map(|entry| (relevance(&words, &entry.connector_key, &entry.tool), entry.name.as_str()))
            .filter(|(score, _)| *score > 0)
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored.into_iter().take(limit).map(|(_, name)| name).collect()
    }

    /// How many tools.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The model names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.name.as_str())
    }

    /// The registry entry of the tool a model knows as `name`.
    pub fn tool(&self, name: &str) -> Option<&RegistryTool> {
        self.find(name).map(|entry| &entry.tool)
    }

    /// The registry key of the connector of the tool a model knows as `name`.
    pub fn connector_of(&self, name: &str) -> Option<&str> {
        self.find(name).map(|entry| entry.connector_key.as_str())
    }

    /// The schema a model is given for `name`'s arguments.
    pub fn arguments_schema(&self, name: &str) -> Option<&Value> {
        self.find(name).map(|entry| entry.arguments.schema())
    }

    /// The description a model is given for `name`.
    pub fn description(&self, name: &str) -> Option<String> {
        self.find(name).map(Entry::description)
    }

    /// The tool list in `format`.
    pub fn format(&self, format: ModelFormat) -> Value {
        let tools = self
            .entries
            .iter()
            .map(|entry| format.tool(&entry.name, &entry.description(), entry.arguments.schema()))
            .collect();
        format.list(tools)
    }

    /// [`format`](Self::format) for OpenAI's Chat Completions `tools`.
    pub fn openai(&self) -> Value {
        self.format(ModelFormat::OpenAi)
    }

    /// [`format`](Self::format) for OpenAI's Chat Completions `tools` in strict mode: every
    /// object closed, every property required, optional ones nullable
    /// ([`strict_schema`](crate::strict_schema)); a model's `null` for an optional field is
    /// dropped when its call is run.
    pub fn openai_strict(&self) -> Value {
        self.format(ModelFormat::OpenAiStrict)
    }

    /// [`format`](Self::format) for OpenAI's Responses API `tools` (the flat function tool).
    pub fn openai_responses(&self) -> Value {
        self.format(ModelFormat::OpenAiResponses)
    }

    /// [`openai_responses`](Self::openai_responses) in strict mode, as
    /// [`openai_strict`](Self::openai_strict).
    pub fn openai_responses_strict(&self) -> Value {
        self.format(ModelFormat::OpenAiResponsesStrict)
    }

    /// [`format`](Self::format) for Anthropic's Messages `tools`.
    pub fn anthropic(&self) -> Value {
        self.format(ModelFormat::Anthropic)
    }

    /// [`format`](Self::format) for one Gemini `Tool` (its `function_declarations`, each
    /// schema as `parametersJsonSchema`).
    pub fn gemini(&self) -> Value {
        self.format(ModelFormat::Gemini)
    }

    /// [`format`](Self::format) for Bedrock's Converse `toolConfig.tools`.
    pub fn bedrock(&self) -> Value {
        self.format(ModelFormat::Bedrock)
    }

    fn find(&self, name: &str) -> Option<&Entry> {
        self.entries.binary_search_by(|entry| entry.name.as_str().cmp(name)).ok().map(|at| &self.entries[at])
    }

    /// The entry of `name`, or what to say about a name the set does not have. A name longer
    /// than any model name is refused before it is looked up or compared with anything.
    pub(crate) fn entry(&self, name: &str) -> std::result::Result<&Entry, String> {
        if name.len() > MAX_MODEL_NAME {
            return Err(format!(
                "no tool `{}`: a tool's name has at most {MAX_MODEL_NAME} characters, this one {} bytes",
                shown(name),
                name.len()
            ));
        }
        self.find(name).ok_or_else(|| {
            let names: Vec<&str> = self.names().collect();
            let hint = fastn_auth_rules::did_you_mean(name, &names)
                .map(|near| format!(" (did you mean `{near}`?)"))
                .unwrap_or_default();
            let listed = names.iter().take(MAX_NAMES_LISTED).copied().collect::<Vec<_>>().join(", ");
            let more = names.len().saturating_sub(MAX_NAMES_LISTED);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            format!("no tool `{}`{hint}; the tools are: {listed}{more}", shown(name))
        })
    }

    /// The entry of tool key `tool` of `connector` (a manifest id or registry key).
    pub(crate) fn entry_of(&self, connector: &str, tool: &str) -> Result<&Entry> {
        let key = registry_key(connector);
        let of_connector: Vec<&Entry> =
            self.entries.iter().filter(|entry| entry.connector_key == key).collect();
        if of_connector.is_empty() {
            return Err(Error::config(format!("the tool set has no connector `{}`", shown(connector))));
        }
        if let Some(entry) = of_connector.iter().find(|entry| entry.tool.key == tool) {
            return Ok(entry);
        }
        let keys: Vec<&str> = of_connector.iter().map(|entry| entry.tool.key.as_str()).collect();
        let hint = fastn_auth_rules::did_you_mean(tool, &keys)
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        Err(Error::config(format!(
            "connector `{}` has no tool `{}` in the tool set{hint}",
            shown(connector),
            shown(tool)
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set() -> ToolSet {
        ToolSet::from_json(
            r#"{"connectors": {
                "slack": {"id": "c-slack", "tools": {"send_message": {"toolId": "t-send", "description": "Send a message.",
                    "inputSchema": {"type": "object", "properties": {"body": {"type": "object",
                        "properties": {"channel": {"type": "string"}, "text": {"type": "string"}},
                        "required": ["channel", "text"]}}}}}},
                "hubspot": {"id": "c-hub", "tools": {"send_message": {"toolId": "t-hub"}}}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn names_are_unique_across_connectors_and_formats_carry_the_models_schema() {
        let set = set();
        assert_eq!(set.names().collect::<Vec<_>>(), ["hubspot_send_message", "slack_send_message"]);
        let openai = set.openai();
        assert_eq!(openai[1]["function"]["name"], "slack_send_message");
        assert_eq!(openai[1]["function"]["parameters"]["required"], json!(["channel", "text"]));
        assert_eq!(set.anthropic()[1]["input_schema"]["properties"]["text"]["type"], "string");
        assert_eq!(set.gemini()["function_declarations"][0]["name"], "hubspot_send_message");
        assert_eq!(set.bedrock()[1]["toolSpec"]["inputSchema"]["json"]["type"], "object");
        assert_eq!(set.connector_of("slack_send_message"), Some("slack"));
        assert_eq!(set.tool("hubspot_send_message").unwrap().id, "t-hub");
    }

    #[test]
    fn search_ranks_by_the_prompts_words_and_keeps_only_matches() {
        let set = ToolSet::from_json(
            r#"{"connectors": {
                "slack": {"id": "c-slack", "tools": {
                    "send_message": {"toolId": "t1", "description": "Posts a message to a channel."},
                    "list_channels": {"toolId": "t2", "description": "Lists the channels."}}},
                "hubspot": {"id": "c-hub", "tools": {"create_contact": {"toolId": "t3", "description": "Creates a contact."}}}}}"#,
        )
        .unwrap();
        assert_eq!(set.ranked("send a Slack message", 10), ["slack_send_message", "slack_list_channels"]);
        assert_eq!(set.ranked("new CRM contact", 10), ["hubspot_create_contact"]);
        assert!(set.ranked("the weather in Paris", 10).is_empty());
        let found = set.search("slack channels", 1);
        assert_eq!(found.names().collect::<Vec<_>>(), ["slack_list_channels"]);
        assert_eq!(found.openai().as_array().unwrap().len(), 1);
    }

    #[test]
    fn an_allow_list_keeps_only_its_names_and_refuses_unknown_ones() {
        let set = set();
        assert_eq!(set.only(["slack_send_message"]).unwrap().len(), 1);
        let err = set.only(["slack_send_mesage"]).unwrap_err();
        assert!(err.to_string().contains("did you mean `slack_send_message`"), "{err}");
    }

    #[tokio::test]
    async fn a_models_bad_call_is_a_reply_it_can_act_on() {
        let client = FastnAuth::builder("s").api_key("k").base_url("http://127.0.0.1:9").build().unwrap();
        let bound = set().bind(&client).tenant_id("acme");
        let reply = bound.call("slack_send_message", r#"{"channel": 5}"#).await.unwrap();
        assert!(reply.is_error && reply.output.is_none(), "{reply:?}");
        assert!(reply.text.contains("/channel") && reply.text.contains("text"), "{}", reply.text);
        let reply = bound.call("slack_send", "{}").await.unwrap();
        assert!(reply.is_error && reply.text.contains("slack_send_message"), "{}", reply.text);
        let reply = bound.call("slack_send_message", "{not json").await.unwrap();
        assert!(reply.is_error && reply.text.contains("not JSON"), "{}", reply.text);
    }

    #[test]
    fn a_name_longer_than_any_tools_is_refused_before_lookup_and_near_names_found_among_many() {
        let tools: String = (0..2_000)
            .map(|i| format!(r#""tool_{i:04}": {{"toolId": "t{i}"}}"#))
            .collect::<Vec<_>>()
            .join(",");
        let set =
            ToolSet::from_json(&format!(r#"{{"connectors": {{"c": {{"id": "c", "tools": {{{tools}}}}}}}}}"#))
                .unwrap();
        let long = "x".repeat(200_000);
        let err = set.entry(&long).unwrap_err();
        assert!(err.contains("at most 64 characters, this one 200000 bytes"), "{}", &err[..200]);
        assert!(err.len() < 300, "the name is shown cut: {} bytes", err.len());
        let err = set.entry("c_tool_01x3").unwrap_err();
        assert!(!err.contains("did you mean"), "several are as near: {}", &err[..100]);
        let err = set.entry("C_TOOL_0123").unwrap_err();
        assert!(err.contains("did you mean `c_tool_0123`"), "{}", &err[..100]);
    }
}
