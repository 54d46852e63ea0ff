//! A single-page app on the JSON side of `fastn-auth-axum`, with no `connect.js`: its own
//! script asks `GET /integrations/salesforce` whether the tenant is connected, starts a flow
//! with `POST /integrations/salesforce/connect` (`Accept: application/json`), opens the
//! consent page itself, and polls `GET /integrations/flows/{state}` until it ends. The same
//! few calls serve a React or Vue front end.
//!
//! ```text
//! cargo run --example web_app_spa    # then open http://127.0.0.1:3000
//! ```

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{Html, Response};
use axum::routing::get;
use fastn_auth_axum::{ConnectRouter, Tenant};
use fastn_auth_emulator::MockServer;

async fn your_auth(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Tenant("acme".into()));
    next.run(request).await
}

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>Acme CRM</title>
<h1>Integrations</h1>
<p>Salesforce: <b id="state">…</b> <button id="connect" hidden>Connect</button></p>
<script type="module">
  const api = "/integrations", json = { Accept: "application/json" };
  const show = (text, canConnect) => { state.textContent = text; connect.hidden = !canConnect; };
  const { connected } = await (await fetch(`${api}/salesforce`)).json();
  show(connected ? "connected" : "not connected", !connected);
  connect.onclick = async () => {
    const popup = open("", "consent", "popup,width=520,height=700");
    const flow = await (await fetch(`${api}/salesforce/connect`, { method: "POST", headers: json })).json();
    popup.location.href = flow.redirect_url;
    show("waiting for you in the other window…", false);
    for (;;) {
      await new Promise((done) => setTimeout(done, 1000));
      const { status, message } = await (await fetch(`${api}/flows/${flow.state}`, { headers: json })).json();
      if (status === "ACTIVE") return show("connected", false);
      if (status === "FAILED") return show(`not connected: ${message ?? "failed"}`, true);
    }
  };
</script>"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The live API when FASTN_SPACE_ID is set; otherwise a local emulator.
    let (client, _emulator) = MockServer::builder().start_unless_live().await?;
    let app = axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .nest("/integrations", ConnectRouter::new(client, ["slack", "google-sheets"]).into_router())
        .layer(middleware::from_fn(your_auth));
    let listener = tokio::net::TcpListener::bind(format!(
        "127.0.0.1:{}",
        std::env::var("PORT").as_deref().unwrap_or("3000")
    ))
    .await?;
    println!("Acme CRM (single-page) on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
