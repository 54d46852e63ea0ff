//! "Connect Salesforce" in a web app, with `fastn-auth-axum`: a button opens the consent page
//! in a popup, and the page learns the outcome by itself, without a reload. The router keeps
//! each flow's handle (here in memory; `RedisHandles` for several replicas) and streams its
//! status to the browser. Without JavaScript the button is a plain form post.
//!
//! ```text
//! cargo run --example web_app        # then open http://127.0.0.1:3000
//! ```

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{Html, Response};
use axum::routing::get;
use fastn_auth::FastnAuth;
use fastn_auth_axum::{ConnectRouter, HandleStore, Tenant};
use fastn_auth_emulator::MockServer;

/// Your own sign-in decides who the tenant is; in this example every visitor is `acme`.
async fn your_auth(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Tenant("acme".into()));
    next.run(request).await
}

/// The page with the button, and the integration routes under `/integrations`.
pub fn app(client: FastnAuth, handles: impl HandleStore) -> axum::Router {
    let routes = ConnectRouter::new(client, ["salesforce"]).handles(handles).into_router();
    axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .nest("/integrations", routes)
        .layer(middleware::from_fn(your_auth))
}

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>Acme CRM</title>
<script src="/integrations/connect.js" defer></script>
<h1>Integrations</h1>
<form method="post" action="/integrations/salesforce/connect">
  <button data-fastn-connect="salesforce">Connect Salesforce</button>
</form>
<p id="result">Salesforce is not connected yet.</p>
<script>
  addEventListener("fastn:connected", () => { result.textContent = "Salesforce connected"; });
  addEventListener("fastn:failed", (e) => { result.textContent = "Salesforce was not connected: " + e.detail.message; });
</script>"#;

#[allow(dead_code, reason = "the tests include this file and start the app themselves")]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The live API when FASTN_SPACE_ID is set; otherwise a local emulator.
    let (client, _emulator) = MockServer::builder().start_unless_live().await?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("Acme CRM on http://{}", listener.local_addr()?);
    axum::serve(listener, app(client, fastn_auth_axum::MemoryHandles::default())).await?;
    Ok(())
}
