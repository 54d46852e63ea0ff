//! The registry read from Fastn's GraphQL API, as Fastn's CLI builds `.fastn/registry.json`
//! (`fastn-auth tools sync`): the connectors of every source, paged to the end, then the
//! tools of each. A source or connector that fails is reported, never dropped in silence.

use std::collections::HashSet;

use fastn_auth::tools::DEFAULT_MAX_TOOL_ANSWER;
use fastn_auth::wire::{self, Endpoint};
use fastn_auth::{Error, FastnAuth, Result};
use fastn_auth_rules::shown_id as shown;
use serde_json::{Map, Value, json};

use fastn_auth_rules::registry::{MAX_REGISTRY_CONNECTORS, MAX_TOOLS_PER_CONNECTOR, Registry, registry_key};

/// Connectors asked for per page.
const PAGE: usize = 500;
/// The most pages of one source, whatever `totalCount` says.
const MAX_PAGES: usize = MAX_REGISTRY_CONNECTORS.div_ceil(PAGE);

/// What a sync read: the registry and what could not be read.
#[derive(Debug, Clone)]
pub struct RegistrySync {
    /// The connectors and tools read.
    pub registry: Registry,
    /// Scopes and connectors that failed, in the order met.
    pub failures: Vec<SourceFailure>,
}

/// A source of the registry (the workspace, an org, the community), or one connector of it,
/// that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// The registry's source: `workspace`, `org` or `community`.
    pub source: &'static str,
    /// The connector (registry key), when only it failed.
    pub connector: Option<String>,
    /// Why.
    pub error: String,
}

/// One source: its name, the `x-fastn-space-id` and `orgId` it is asked with.
struct Source {
    name: &'static str,
    space: String,
    community: bool,
}

/// A connector found in a source.
struct Found {
    key: String,
    id: String,
    name: String,
    source: usize,
}

impl RegistrySync {
    /// Reads the registry of the client's space from Fastn: the workspace's connectors,
    /// then those of `org_id` when given, then the community's (the first source naming a
    /// connector wins), every page up to `totalCount`, and the tools of each.
    /// `progress(done, total)` is called after each connector's tools.
    ///
    /// # Errors
    /// Only when nothing could be read at all: the first source's error; else the failures
    /// are in [`RegistrySync::failures`].
    pub async fn read(
        client: &FastnAuth,
        org_id: Option<&str>,
        progress: impl FnMut(usize, usize),
    ) -> Result<RegistrySync> {
        Reader { client }.read(org_id, progress).await
    }
}

/// A sync under way, through one client.
struct Reader<'a> {
    client: &'a FastnAuth,
}

impl Reader<'_> {
    async fn read(
        &self,
        org_id: Option<&str>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<RegistrySync> {
        let space = self.client.space_id().to_owned();
        let mut sources = vec![Source { name: "workspace", space: space.clone(), community: false }];
        if let Some(org) = org_id {
            sources.push(Source { name: "org", space: org.to_owned(), community: false });
        }
        sources.push(Source { name: "community", space: "community".to_owned(), community: true });
        let mut failures = Vec::new();
        let mut first_error = None;
        let mut any_read = false;
        let mut found: Vec<Found> = Vec::new();
        let mut keys = HashSet::new();
        for (index, source) in sources.iter().enumerate() {
            match self.connectors_of(source).await {
                Ok(connectors) => {
                    any_read = true;
                    for (id, name) in connectors {
                        let key = registry_key(&name);
                        if keys.insert(key.clone()) {
                            found.push(Found { key, id, name, source: index });
                        }
                    }
                    // Counted before any connector's tools are asked for.
                    if found.len() > MAX_REGISTRY_CONNECTORS {
                        return Err(Error::invalid(
                            Endpoint::Registry,
                            format!("the sources name more than {MAX_REGISTRY_CONNECTORS} connectors"),
                        ));
                    }
                }
                Err(err) => {
                    failures.push(SourceFailure {
                        source: source.name,
                        connector: None,
                        error: err.to_string(),
                    });
                    first_error.get_or_insert(err);
                }
            }
        }
        // Every source failed: Fastn's own error for the first (a server error stays one).
        if let Some(err) = first_error.filter(|_| !any_read) {
            return Err(err);
        }
        let mut connectors = Map::new();
        let total = found.len();
        for (done, connector) in found.iter().enumerate() {
            let source = &sources[connector.source];
            match self
                .tools_of(&connector.id, source, &space)
                .await
                .and_then(|tools| checked(connector, source, tools))
            {
                Ok(entry) => {
                    connectors.insert(connector.key.clone(), entry);
                }
                Err(err) => failures.push(SourceFailure {
                    source: source.name,
                    connector: Some(connector.key.clone()),
                    error: err.to_string(),
                }),
            }
            progress(done + 1, total);
        }
        let registry = Registry::from_value(&json!({"version": "1.0.0", "connectors": connectors}))
            .map_err(|err| Error::invalid(Endpoint::Registry, err.to_string()))?;
        Ok(RegistrySync { registry, failures })
    }

    /// `(id, name)` of every connector of `source`, page by page.
    async fn connectors_of(&self, source: &Source) -> Result<Vec<(String, String)>> {
        const QUERY: &str = "query searchDataSourceGroups($input: SearchDataModelInput!) { \
            searchDataSourceGroups(input: $input) { pageInfo { totalCount } \
            edges { node { id clientId name connectorType } } } }";
        let mut connectors = Vec::new();
        for page in 0..MAX_PAGES {
            let offset = page * PAGE;
            let search =
                json!({"input": {"limit": PAGE, "offset": offset, "sort": "asc", "query": "", "filter": {}}});
            let variables = json!({"input": {"clientId": source.space, "connectorId": source.space, "first": PAGE,
                "offset": offset, "isCommunity": source.community, "query": search.to_string()}});
            let data = self.graphql(QUERY, variables, &source.space).await?;
            let groups = &data["searchDataSourceGroups"];
            let total = groups["pageInfo"]["totalCount"].as_u64().ok_or_else(|| {
                Error::invalid(
                    Endpoint::Registry,
                    "searchDataSourceGroups: `pageInfo.totalCount` is not a count",
                )
            })?;
            if total > MAX_REGISTRY_CONNECTORS as u64 {
                return Err(Error::invalid(
                    Endpoint::Registry,
                    format!(
                        "searchDataSourceGroups: {total} connectors, more than {MAX_REGISTRY_CONNECTORS}"
                    ),
                ));
            }
            let edges = groups["edges"].as_array().ok_or_else(|| {
                Error::invalid(Endpoint::Registry, "searchDataSourceGroups: `edges` is not a list")
            })?;
            if edges.len() > PAGE {
                return Err(Error::invalid(
                    Endpoint::Registry,
                    format!(
                        "searchDataSourceGroups: a page of {} connectors, {PAGE} were asked for",
                        edges.len()
                    ),
                ));
            }
            for (at, edge) in edges.iter().enumerate() {
                let node = &edge["node"];
                let text = |key: &str| node[key].as_str().map(str::to_owned);
                let (Some(id), Some(name)) = (text("id"), text("name")) else {
                    return Err(Error::invalid(
                        Endpoint::Registry,
                        format!("searchDataSourceGroups: edge {} has no string `id` and `name`", offset + at),
                    ));
                };
                connectors.push((id, name));
            }
            if edges.is_empty() || (offset + edges.len()) as u64 >= total {
                return Ok(connectors);
            }
        }
        Err(Error::invalid(
            Endpoint::Registry,
            format!("searchDataSourceGroups: more than {MAX_REGISTRY_CONNECTORS} connectors in one source"),
        ))
    }

    /// The tools of connector `id` as `getConnectorRegisteredTools_v1` lists them.
    async fn tools_of(&self, id: &str, source: &Source, space: &str) -> Result<Vec<Value>> {
        const QUERY: &str = "query callCoreProjectFlow($input: CoreProjectFlowProxyInput!) { \
            callCoreProjectFlow(input: $input) { data statusCode message } }";
        let variables = json!({"input": {"operationName": "getConnectorRegisteredTools_v1",
            "input": {"connectorId": id, "orgId": source.space, "workspaceId": space, "gatewayId": space}}});
        let mut data = self.graphql(QUERY, variables, &source.space).await?;
        let flow = &mut data["callCoreProjectFlow"];
        match flow["statusCode"].as_u64() {
            Some(200..=299) | None => {}
            Some(status) => {
                let said = flow["message"].as_str().map(wire::sanitize).unwrap_or_default();
                return Err(Error::invalid(
                    Endpoint::Registry,
                    format!("the tools query answered {status}: {said}"),
                ));
            }
        }
        match flow["data"].take() {
            Value::Array(tools) if tools.len() > MAX_TOOLS_PER_CONNECTOR => Err(Error::invalid(
                Endpoint::Registry,
                format!("callCoreProjectFlow: {} tools, more than {MAX_TOOLS_PER_CONNECTOR}", tools.len()),
            )),
            Value::Array(tools) => Ok(tools),
            Value::Null => Ok(Vec::new()),
            _ => {
                Err(Error::invalid(Endpoint::Registry, "callCoreProjectFlow: `data` is not a list of tools"))
            }
        }
    }

    /// One GraphQL query asked as `space`; its `data`, or the first of its `errors`.
    async fn graphql(&self, query: &str, variables: Value, space: &str) -> Result<Value> {
        self.client.graphql(query, variables, space, DEFAULT_MAX_TOOL_ANSWER).await
    }
}

/// The registry entry of `connector`, its tools keyed by their names in snake_case, checked
/// as a registry file is.
fn checked(connector: &Found, source: &Source, tools: Vec<Value>) -> Result<Value> {
    let mut entries = Map::new();
    for (at, tool) in tools.into_iter().enumerate() {
        let name = tool["name"].as_str().unwrap_or_default();
        let key = fastn_auth_rules::snake_case(name);
        let schema = |field: &str| match &tool[field] {
            // Some answers carry a schema as JSON text.
            Value::String(text) => serde_json::from_str(text).map_err(|err| {
                let name = shown(name);
                Error::invalid(
                    Endpoint::Registry,
                    format!("tool `{name}`: `{field}` is text that is not JSON: {err}"),
                )
            }),
            other => Ok(other.clone()),
        };
        let entry = json!({"toolId": tool["id"], "name": name, "description": tool["description"],
            "inputSchema": schema("inputSchema")?, "outputSchema": schema("outputSchema")?});
        if key.is_empty() || entries.insert(key.clone(), entry).is_some() {
            return Err(Error::invalid(
                Endpoint::Registry,
                format!("tool {at} is named `{}`, which gives no key or one another tool has", shown(name)),
            ));
        }
    }
    let count = entries.len();
    let entry = json!({"id": connector.id, "display_name": connector.name, "source": source.name,
        "connector_type": "connector", "tools": entries, "tool_count": count});
    // The same checks as a registry file's: ids, schemas, limits.
    Registry::from_value(&json!({"connectors": {connector.key.clone(): entry.clone()}}))
        .map_err(|err| Error::invalid(Endpoint::Registry, err.to_string()))?;
    Ok(entry)
}
