//! Credentials of a connection made earlier, without a new flow: untyped (a JSON map of
//! extra fields) and typed (the struct generated for Slack).
//!
//! ```text
//! cargo run --example get_credentials
//! ```

use fastn_auth::mock::{ConnectionKey, MockServer};
use fastn_auth::{ExposeSecret, GetCredentialsOptions};
use fastn_auth_workspace::{Backend, Slack, client_from_env};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, backend) = client_from_env(MockServer::builder()).await?;
    if let Backend::Emulator(mock) = &backend {
        // On the emulator, make the connection a user would have made last week.
        mock.insert_connection(ConnectionKey::new("demo-space", "slack").tenant_id("acme"), None);
    }

    let untyped = client.get_credentials(GetCredentialsOptions::new("slack").tenant_id("acme")).await?;
    let team = untyped.extra.get("team_id").and_then(|value| value.as_str()).unwrap_or("?");
    println!("untyped: team {team}, extra keys {:?}", untyped.extra.keys().collect::<Vec<_>>());

    let typed = Slack::credentials(&client).tenant_id("acme").send().await?;
    println!(
        "typed: team {} via bot {}, scope {}",
        typed.extra.team_id, typed.extra.bot_user_id, typed.extra.scope
    );
    let token = typed.access_token.as_ref().ok_or("no access token")?;
    println!("access token of {} characters: {token:?}", token.expose_secret().len());

    match client.get_credentials(GetCredentialsOptions::new("slack").tenant_id("globex")).await {
        Ok(_) => println!("globex is connected too"),
        Err(err) => println!("globex has no slack connection: {err} (code {})", err.code()),
    }
    Ok(())
}
