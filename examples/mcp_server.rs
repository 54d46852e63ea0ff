//! A tenant's Fastn tools for AI agents, as an MCP server inside your axum app: the
//! streamable HTTP transport at `/mcp`, each request's tenant decided by your own auth
//! (here a bearer token per tenant), and a tool whose app the tenant has not connected
//! answered with the link to connect it.
//!
//! ```text
//! cargo run --example mcp_server --features mcp   # then point an MCP client at http://127.0.0.1:3001/mcp
//! ```
//!
//! Offline it runs against the emulator, where tenant `acme` (token `acme-secret`) has
//! Slack connected and nothing else.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use fastn_auth_agent::ToolSet;
use fastn_auth_axum::Tenant;
use fastn_auth_emulator::{ConnectionKey, MockServer};
use fastn_auth_mcp::McpServer;

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}

/// Your own auth decides who the tenant is: here, a bearer token per tenant.
async fn your_auth(mut request: Request, next: Next) -> Response {
    let bearer = request.headers().get("authorization").and_then(|value| value.to_str().ok());
    let tenant = match bearer {
        Some("Bearer acme-secret") => "acme",
        Some("Bearer globex-secret") => "globex",
        _ => return StatusCode::UNAUTHORIZED.into_response(),
    };
    request.extensions_mut().insert(Tenant(tenant.to_owned()));
    next.run(request).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The live API when FASTN_SPACE_ID is set; otherwise a local emulator.
    let (client, emulator) = MockServer::builder()
        .connectors(fastn::MANIFEST)
        .registry(fastn::REGISTRY)
        .start_unless_live()
        .await?;
    if let Some(emulator) = &emulator {
        emulator.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    }
    // The manifest's selected tools; the connector ids are what connect flows start with.
    let server = McpServer::builder(&client, ToolSet::from_json(fastn::REGISTRY)?)
        .connectors(fastn::ConnectorId::ALL.iter().map(|id| id.as_str()))
        .build();
    let app: axum::Router = server.http().router().layer(middleware::from_fn(your_auth));

    let port = std::env::var("PORT").unwrap_or_else(|_| "3001".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let url = format!("http://{}/mcp", listener.local_addr()?);
    println!("MCP server on {url}; a client's configuration:");
    println!(
        r#"{{"mcpServers": {{"acme-tools": {{"url": "{url}", "headers": {{"Authorization": "Bearer acme-secret"}}}}}}}}"#
    );
    axum::serve(listener, app).with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) }).await?;
    Ok(())
}
