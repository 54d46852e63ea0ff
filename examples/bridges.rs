//! Your provider SDK, our tokens: the tenant's refreshing token inside the crates Rust teams
//! already call providers with — a `reqwest-middleware` client, a tower/hyper client, a
//! `google-sheets4` hub — with the cache, the refresh on 401 and the host pin of
//! `ApiClient`. Offline, against the emulator's provider API.
//!
//! ```text
//! cargo run --example bridges --features bridges
//! ```

use fastn_auth::bridge::{GoogleToken, TokenLayer, TokenMiddleware};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer as _, ServiceExt as _};

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let emulator = MockServer::builder().connectors(fastn::MANIFEST).start().await?;
    for connector in ["slack", "google-sheets"] {
        emulator
            .insert_connection(ConnectionKey::new(MockServer::SPACE_ID, connector).tenant_id("acme"), None);
    }
    let client = emulator.client(); // its API calls go to the emulator's provider API
    let slack_api = format!("{}/slack", emulator.provider_url());

    // reqwest-middleware (and progenitor clients built on it).
    let slack = fastn::Slack::api(&client).tenant_id("acme");
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TokenMiddleware::new(slack.clone()))
        .build();
    let answer = http.get(format!("{slack_api}/auth.test")).send().await?;
    println!("reqwest-middleware: {}", answer.status());

    // tower, over a hyper client (octocrab takes the same layer through `with_layer`).
    let hyper = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let service = TokenLayer::cloned(slack).layer(hyper);
    let request = http::Request::post(format!("{slack_api}/chat.postMessage")).body(Full::from("{}"))?;
    let answer = service.oneshot(request).await?;
    println!("tower: {}", answer.status());
    drop(answer.into_body().collect().await?);

    // A google-apis-rs hub: GoogleToken gives each call the current token; the delegate
    // turns a 401 into one shared refresh and the hub's retry.
    let token = GoogleToken::new(fastn::GoogleSheets::api(&client).tenant_id("acme"));
    let mut hub =
        google_sheets4::Sheets::new(Client::builder(TokioExecutor::new()).build_http(), token.clone());
    hub.base_url(format!("{}/google-sheets/", emulator.provider_url()));
    let mut refresh = token.delegate();
    let (answer, _values) =
        hub.spreadsheets().values_get("S1", "A1:B2").delegate(&mut refresh).doit().await?;
    println!("google-sheets4: {}", answer.status());
    Ok(())
}
