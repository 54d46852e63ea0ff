//! Credentials of a connection made earlier, without a new flow: untyped (a JSON map of
//! extra fields) and typed (the struct generated for Slack); and the most common outcome
//! of all, a tenant that has not connected.
//!
//! ```text
//! cargo run --example get_credentials
//! ```

use fastn_auth::ExposeSecret;
use fastn_auth_emulator::{ConnectionKey, MockServer};

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, emulator) = MockServer::builder().connectors(fastn::MANIFEST).start_unless_live().await?;
    if let Some(emulator) = &emulator {
        // On the emulator, make the connection a user would have made last week.
        emulator.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    }

    let untyped = client.credentials("slack").tenant_id("acme").send().await?;
    let team = untyped.extra.get("team_id").and_then(|value| value.as_str()).unwrap_or("?");
    println!("untyped: team {team}, extra keys {:?}", untyped.extra.keys().collect::<Vec<_>>());

    let typed = fastn::Slack::credentials(&client).tenant_id("acme").send().await?;
    println!(
        "typed: team {} via bot {}, scope {}",
        typed.extra.team_id, typed.extra.bot_user_id, typed.extra.scope
    );
    let token = typed.access_token.as_ref().ok_or("no access token")?;
    println!("access token of {} characters: {token:?}", token.expose_secret().len());
    if typed.expires_within(std::time::Duration::from_secs(300)) {
        println!("the token expires within 5 minutes: fetch it again before using it");
    }

    match client.credentials("slack").tenant_id("globex").send().await {
        Ok(_) => println!("globex is connected too"),
        Err(err) if err.is_not_found() => println!("globex has not connected slack: {err}"),
        Err(err) => return Err(err.into()),
    }
    Ok(())
}
