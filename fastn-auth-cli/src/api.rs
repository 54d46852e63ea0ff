//! `api`: the connected app's API for a tenant, like `gh api`.

use fastn_auth::FastnAuth;
use serde_json::{Value, json};

use crate::output::{escaped, print_json, print_lines};
use crate::{ApiArgs, Cli, Failure, client, usage};

/// Sends the request, prints the status on stderr and the body on stdout; exit code 4 for
/// a status that is not 2xx.
pub(crate) async fn run(cli: &Cli, args: &ApiArgs) -> Result<(), Failure> {
    let ApiArgs { connector, method, path, target, data, headers, api_base_url, manifest, max_body } = args;
    let client = client(cli)?;
    let method = http_method(method)?;
    let mut api = with_target!(
        api_client(&client, connector, manifest, api_base_url.is_some(), cli.api_gateway.is_some())?,
        target
    );
    if target.no_tenant {
        api = api.no_tenant();
    }
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
    Ok(())
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
