//! The connectors generated from `connectors.yaml`, end to end against the emulator:
//! Google Sheets, Salesforce (a typed `instance_url`) and Stripe (a secret extra field), and
//! `ConnectorId` parsed from a string.
//!
//! ```text
//! cargo run --example typed_connectors -- salesforce
//! ```

use std::time::Duration;

use fastn_auth::{ExposeSecret, PollOptions, Url};
use fastn_auth_emulator::MockServer;

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}
use fastn::{ConnectorId, GoogleSheets, Salesforce, Stripe};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _emulator) = MockServer::builder()
        .connectors(fastn::MANIFEST)
        .auto_approve_after_polls(2)
        .start_unless_live()
        .await?;
    let poll = PollOptions::new(Duration::from_millis(200), Duration::from_secs(300));

    // A connector chosen at run time, checked against the manifest.
    let wanted = std::env::args().nth(1).unwrap_or_else(|| "salesforce".to_owned());
    match wanted.parse::<ConnectorId>() {
        Ok(id) => println!("`{wanted}` is {id:?}; the manifest declares {:?}", ConnectorId::ALL),
        Err(err) => println!("`{wanted}`: {err}"),
    }

    let sheets =
        GoogleSheets::connect(&client).tenant_id("acme").send().await?.wait_for_completion(poll).await?;
    println!("google-sheets scope: {}", sheets.extra.scope);

    let salesforce =
        Salesforce::connect(&client).tenant_id("acme").send().await?.wait_for_completion(poll).await?;
    let instance: &Url = &salesforce.extra.instance_url;
    println!("salesforce API host: {}", instance.host_str().unwrap_or_default());

    let stripe = Stripe::connect(&client).tenant_id("acme").send().await?.wait_for_completion(poll).await?;
    let publishable = stripe.extra.stripe_publishable_key.expose_secret();
    println!(
        "stripe account {} (live: {}), key of {} characters",
        stripe.extra.stripe_user_id,
        stripe.extra.livemode,
        publishable.len()
    );
    println!("stripe extra, redacted: {:?}", stripe.extra);
    Ok(())
}
