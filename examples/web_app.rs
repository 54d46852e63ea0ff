//! A small web app where a customer connects Salesforce.
//!
//! "Connect Salesforce" starts a flow and stores its `SessionHandle` (here in memory; in a
//! real app, in your session store or database), then sends the browser to a page that
//! links to the consent page. That page resumes the session from the handle — as another
//! request, possibly another process, would — and once the flow is ACTIVE shows the typed
//! Salesforce `instance_url`.
//!
//! ```text
//! cargo run --example web_app        # then open http://127.0.0.1:3000
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use fastn_auth::{AuthStatus, FastnAuth, SessionHandle};
use fastn_auth_emulator::MockServer;

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}
use fastn::Salesforce;

/// The app's state: the Fastn client and the handles of flows in progress, by state key.
struct App {
    client: FastnAuth,
    flows: Mutex<HashMap<String, SessionHandle>>,
}

/// The app's routes.
pub fn app(client: FastnAuth) -> Router {
    let state = Arc::new(App { client, flows: Mutex::default() });
    Router::new()
        .route("/", get(index))
        .route("/connect", post(connect))
        .route("/connections/{state}", get(connection))
        .with_state(state)
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><title>Acme CRM</title><h1>Integrations</h1>\
         <form method=post action=/connect><button>Connect Salesforce</button></form>",
    )
}

async fn connect(State(app): State<Arc<App>>) -> Response {
    match Salesforce::connect(&app.client).tenant_id("acme").send().await {
        Ok(session) => {
            let handle = session.handle().clone();
            let page = format!("/connections/{}", handle.state());
            app.flows.lock().unwrap_or_else(|e| e.into_inner()).insert(handle.state().to_owned(), handle);
            Redirect::to(&page).into_response()
        }
        Err(err) => (StatusCode::BAD_GATEWAY, format!("could not start the flow: {err}")).into_response(),
    }
}

async fn connection(State(app): State<Arc<App>>, Path(state): Path<String>) -> Response {
    let handle = app.flows.lock().unwrap_or_else(|e| e.into_inner()).get(&state).cloned();
    let Some(handle) = handle else {
        return (StatusCode::NOT_FOUND, "no such connection flow").into_response();
    };
    let redirect_url = handle.redirect_url().cloned();
    let session = match Salesforce::resume(&app.client, handle) {
        Ok(session) => session,
        Err(err) => return (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    };
    let body = match session.get_status().await.map(|status| status.status) {
        Ok(AuthStatus::Active) => match session.get_credentials().await {
            Ok(credentials) => format!(
                "<h1>Salesforce connected</h1><p>API calls go to <code>{}</code>.</p>",
                escape(credentials.extra.instance_url.as_str())
            ),
            Err(err) => format!("<h1>Connected, but</h1><p>{}</p>", escape(&err.to_string())),
        },
        // The SDK only accepts an http(s) redirect URL, so the link cannot run script.
        Ok(AuthStatus::Inactive) => match redirect_url {
            Some(url) => format!(
                "<h1>Waiting for Salesforce</h1><p><a href=\"{}\">Authorize in Salesforce</a>, then \
                 <a href=\"\">refresh this page</a>.</p>",
                escape(url.as_str())
            ),
            None => "<h1>Waiting for Salesforce</h1><p>Refresh this page.</p>".to_owned(),
        },
        Ok(_) => "<h1>Salesforce was not connected</h1><p><a href=\"/\">Try again</a></p>".to_owned(),
        Err(err) => format!("<h1>Status unknown</h1><p>{}</p>", escape(&err.to_string())),
    };
    Html(format!("<!doctype html><title>Acme CRM</title>{body}")).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[allow(dead_code, reason = "the end-to-end test includes this file and starts the app itself")]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The live API when FASTN_SPACE_ID is set; otherwise a local emulator.
    let (client, _emulator) = if std::env::var_os("FASTN_SPACE_ID").is_some() {
        (FastnAuth::from_env()?, None)
    } else {
        let emulator = MockServer::builder().connectors(fastn::MANIFEST).start().await?;
        (emulator.client(), Some(emulator))
    };
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("Acme CRM on http://{}", listener.local_addr()?);
    axum::serve(listener, app(client)).await?;
    Ok(())
}
