//! Fastn's tools, served from a registry: `executeTool` (parameters checked against the
//! tool's input schema, the tenant's connection required, an answer following the output
//! schema with an echo of the call, [`crate::example`]), `getTools`
//! (ranked by the prompt's words, in both shapes Fastn's clients read),
//! and the registry's GraphQL queries (`searchDataSourceGroups`, `callCoreProjectFlow`),
//! as `fastn-auth tools sync` and Fastn's own CLI ask them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::{App, header_text};
use crate::key::ConnectionBreak;
use crate::registry::ToolRegistry;
use fastn_auth::wire::{self, Endpoint};
use fastn_auth_rules::registry::{
    Registry, RegistryConnector, RegistryTool, model_name, prompt_words, registry_key, relevance,
};

/// The largest request body read.
const MAX_TOOL_REQUEST: usize = 1024 * 1024;
/// The most tools `getTools` lists.
const MAX_LISTED: usize = 100;

/// `{"error": CODE, "message": …}` with `status`: Fastn's error body, as the SDK reads it.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    crate::json::coded(status, code, message)
}

/// The registry and the request's JSON body, or the answer refusing them.
fn read<'a>(app: &'a App, body: &Bytes) -> Result<(&'a ToolRegistry, Value), Box<Response>> {
    let tools = &*app.tools;
    if body.len() > MAX_TOOL_REQUEST {
        return Err(Box::new(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BAD_REQUEST",
            "the request body is over 1 MiB",
        )));
    }
    let request = serde_json::from_slice(body).map_err(|err| {
        Box::new(refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("the body is not JSON: {err}")))
    })?;
    Ok((tools, request))
}

/// `POST /api/ucl/executeTool`.
pub(crate) async fn execute(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.serve(Endpoint::ExecuteTool, &headers, |_| answer_execute(&app, &headers, &body)).await
}

fn answer_execute(app: &App, headers: &HeaderMap, body: &Bytes) -> Response {
    let (tools, request) = match read(app, body) {
        Ok(read) => read,
        Err(refused) => return *refused,
    };
    let input = &request["input"];
    let text = |key: &str| input[key].as_str().unwrap_or_default();
    let tool_id = if text("toolId").is_empty() { text("actionId") } else { text("toolId") };
    let Some((connector, tool)) = tools.find(text("connectorId"), tool_id) else {
        let message = format!(
            "tool not found: no tool `{}` of connector `{}`",
            wire::sanitize(tool_id),
            wire::sanitize(text("connectorId"))
        );
        return refuse(StatusCode::NOT_FOUND, "TOOL_NOT_FOUND", &message);
    };
    let parameters = input.get("parameters").cloned().unwrap_or(Value::Null);
    if let Some(refused) = check_parameters(tools, tool, &parameters) {
        return refused;
    }
    let tenant = header_text(headers, wire::TENANT_ID);
    let connection = text("connectionId");
    match app.store.tool_connection(&connector.key, tenant, connection) {
        None => {
            let message = format!(
                "no active connection of connector `{}` for tenant `{}`: connect it first",
                connector.key,
                wire::sanitize(tenant)
            );
            return refuse(StatusCode::NOT_FOUND, "CONNECTION_NOT_FOUND", &message);
        }
        Some(Some(ConnectionBreak::Revoked)) => {
            let message = "the connector's credentials were refused by the provider";
            return refuse(StatusCode::UNAUTHORIZED, "CONN-AUTH-FAILED", message);
        }
        Some(Some(_)) => {
            let message = "the connection's refresh failed: reconnect it, this will not recover on its own";
            return refuse(StatusCode::UNAUTHORIZED, "CONN-REFRESH-FAILED", message);
        }
        Some(None) => {}
    }
    let echo = json!({"tool": tool.key, "toolId": tool.id, "connector": connector.key, "tenant": tenant,
        "connectionId": connection, "agentId": text("agentId"), "parameters": parameters});
    let echo = crate::example::answer(tool.output_schema.as_ref(), echo);
    axum::Json(json!({"statusCode": 200, "body": echo, "rawBody": echo.to_string()})).into_response()
}

/// A 400 naming the JSON pointer of the first value that does not match the schema.
fn check_parameters(tools: &ToolRegistry, tool: &RegistryTool, parameters: &Value) -> Option<Response> {
    let Some(schema) = &tool.input_schema else {
        let body_is_object = parameters.get("body").is_some_and(Value::is_object);
        return (!body_is_object).then(|| {
            let message = "invalid parameters at `/body`: a tool without a schema takes {\"body\": {…}}";
            refuse(StatusCode::BAD_REQUEST, "INVALID_PARAMETERS", message)
        });
    };
    let validator = tools.validator(tool, schema);
    let validator = match validator.as_ref() {
        Ok(validator) => validator,
        Err(err) => return Some(refuse(StatusCode::INTERNAL_SERVER_ERROR, "BAD_SCHEMA", err)),
    };
    let first = validator.iter_errors(parameters).next()?;
    let pointer = first.instance_path().to_string();
    let message = format!("invalid parameters at `{pointer}`: {}", first.masked());
    let mut response = refuse(StatusCode::BAD_REQUEST, "INVALID_PARAMETERS", &message);
    if let Ok(value) = axum::http::HeaderValue::from_str(&pointer) {
        response.headers_mut().insert("x-emulator-pointer", value);
    }
    Some(response)
}

/// `POST /api/ucl/getTools`: the registry's tools as a model's function list, filtered by
/// `connectorId`, `connectorName` and `toolName`, at most `limit`.
pub(crate) async fn get_tools(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.serve(Endpoint::ExecuteTool, &headers, |_| {
        let (tools, request) = match read(&app, &body) {
            Ok(read) => read,
            Err(refused) => return *refused,
        };
        let input = &request["input"];
        let filter = |key: &str| input[key].as_str().filter(|text| !text.is_empty());
        let limit = input["limit"].as_u64().map_or(MAX_LISTED, |n| (n as usize).min(MAX_LISTED));
        let prompt = input["prompt"].as_str().unwrap_or_default();
        // The documented ranking `ToolSet::search` shares (`relevance`).
        let words = prompt_words(prompt);
        let mut found: Vec<(usize, &RegistryConnector, &RegistryTool)> = tools
            .registry
            .connectors
            .iter()
            .filter(|c| filter("connectorId").is_none_or(|id| c.id == id))
            .filter(|c| filter("connectorName").is_none_or(|name| c.key == registry_key(name)))
            .flat_map(|c| c.tools.iter().map(move |t| (c, t)))
            .filter(|(_, t)| {
                filter("toolName").is_none_or(|name| t.key == name || t.name.as_deref() == Some(name))
            })
            .map(|(c, t)| (relevance(&words, &c.key, t), c, t))
            .collect();
        // Best first; ties in registry order (the sort is stable).
        found.sort_by_key(|(score, _, _)| std::cmp::Reverse(*score));
        let scripted = app.store.prompt_parameters(prompt);
        let listed: Vec<Value> = found
            .into_iter()
            .take(limit)
            .enumerate()
            .map(|(rank, (_, c, t))| {
                // Both shapes Fastn's clients read: the CLI's `function`, the library's flat
                // `name`/`description`/`inputSchema`; the top tool carries what the model
                // filled in for the prompt, when scripted.
                let mut tool = json!({"toolId": t.id, "actionId": t.id, "type": "function",
                    "function": {"name": t.key, "description": t.description, "parameters": t.input_schema},
                    "name": model_name(&c.key, &t.key), "description": t.description.clone().unwrap_or_default(),
                    "inputSchema": t.input_schema.clone().unwrap_or_else(|| json!({"type": "object"}))});
                if let (0, Some(parameters)) = (rank, &scripted) {
                    tool["parameters"] = parameters.clone();
                }
                tool
            })
            .collect();
        axum::Json(Value::Array(listed)).into_response()
    })
    .await
}

/// `POST /api/graphql`: the two queries a registry is built from.
pub(crate) async fn graphql(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.serve(Endpoint::Registry, &headers, |space| {
        let (tools, request) = match read(&app, &body) {
            Ok(read) => read,
            Err(refused) => return *refused,
        };
        let query = request["query"].as_str().unwrap_or_default();
        let input = &request["variables"]["input"];
        let data = if query.contains("searchDataSourceGroups") {
            search(&tools.registry, space, input)
        } else if query.contains("callCoreProjectFlow") {
            core_flow(&tools.registry, space, input)
        } else {
            return axum::Json(json!({"errors": [{"message": "this emulator answers searchDataSourceGroups and callCoreProjectFlow only"}]}))
                .into_response();
        };
        axum::Json(json!({ "data": data })).into_response()
    })
    .await
}

/// The scope a connector is served in: its `source`, the workspace when it has none.
fn scope_of(connector: &RegistryConnector) -> &str {
    connector.source.as_deref().unwrap_or("workspace")
}

/// Which scope a query asks: the community's, the workspace's (the space itself) or an
/// org's.
fn asked_scope<'a>(space: &str, community: bool) -> &'a str {
    match (community, space) {
        (true, _) | (_, "community") => "community",
        (_, fastn_space) if fastn_space == crate::MockServer::SPACE_ID => "workspace",
        _ => "org",
    }
}

fn search(registry: &Registry, space: &str, input: &Value) -> Value {
    let scope = asked_scope(space, input["isCommunity"].as_bool().unwrap_or(false));
    let of_scope: Vec<&RegistryConnector> =
        registry.connectors.iter().filter(|c| scope_of(c) == scope).collect();
    let offset = input["offset"].as_u64().unwrap_or(0) as usize;
    let first = input["first"].as_u64().map_or(500, |n| (n as usize).min(500));
    let edges: Vec<Value> = of_scope
        .iter()
        .skip(offset)
        .take(first)
        .map(|c| {
            // A name that gives back the key, so a registry synced from here has the same keys.
            let name = c
                .display_name
                .clone()
                .filter(|name| registry_key(name) == c.key)
                .unwrap_or_else(|| c.key.clone());
            json!({"node": {"id": c.id, "clientId": space, "name": name, "connectorType": "connector"}})
        })
        .collect();
    json!({"searchDataSourceGroups": {"pageInfo": {"totalCount": of_scope.len()}, "edges": edges}})
}

fn core_flow(registry: &Registry, space: &str, input: &Value) -> Value {
    let flow = if input["operationName"] == "getConnectorRegisteredTools_v1" {
        let id = input["input"]["connectorId"].as_str().unwrap_or_default();
        match registry.connector_by_id(id) {
            Some(connector)
                if scope_of(connector) == asked_scope(space, false) || scope_of(connector) == "community" =>
            {
                let tools: Vec<Value> = connector
                    .tools
                    .iter()
                    .map(|t| {
                        let name = t.name.clone().filter(|name| fastn_auth_rules::snake_case(name) == t.key);
                        json!({"id": t.id, "name": name.unwrap_or_else(|| t.key.clone()),
                            "description": t.description, "inputSchema": t.input_schema, "outputSchema": t.output_schema})
                    })
                    .collect();
                json!({"data": tools, "statusCode": 200, "message": "ok"})
            }
            _ => {
                json!({"data": null, "statusCode": 404, "message": format!("no connector `{}` in this scope", wire::sanitize(id))})
            }
        }
    } else {
        json!({"data": null, "statusCode": 400, "message": "unknown operationName"})
    };
    json!({ "callCoreProjectFlow": flow })
}
