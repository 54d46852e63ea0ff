//! Calling the connected app: Salesforce through its manifest `api:` block (the org's own
//! instance URL, filled from the credentials), Notion untyped, and a token the provider
//! rotated, refreshed and retried without the caller noticing. Offline against the emulator
//! unless `FASTN_SPACE_ID` is set (then against Fastn and the real providers).
//!
//! ```text
//! cargo run --example call_api
//! ```

use fastn_auth_emulator::{ConnectionKey, MockServer};

mod fastn {
    fastn_auth::connectors!("connectors.yaml");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // On the emulator, API calls go to its provider API: a JSON echo of each request.
    let (client, emulator) = MockServer::builder().connectors(fastn::MANIFEST).start_unless_live().await?;
    for connector in ["salesforce", "notion"] {
        if let Some(emulator) = &emulator {
            emulator.insert_connection(
                ConnectionKey::new(MockServer::SPACE_ID, connector).tenant_id("acme"),
                None,
            );
        }
    }

    // One client per tenant, kept as long as you like: it holds no token.
    let salesforce = fastn::Salesforce::api(&client).tenant_id("acme");
    let response = salesforce.get("/sobjects/Account/describe").send().await?;
    println!("GET /sobjects/Account/describe → {}", response.status());

    let notion = client.api("notion").base_url("https://api.notion.com/v1").tenant_id("acme");
    let created = notion
        .post("/pages")
        .json(&serde_json::json!({ "parent": { "database_id": "d1" }, "properties": {} }))
        .send()
        .await?;
    println!("POST /pages → {}: {}", created.status(), created.text().await?);

    if let Some(emulator) = &emulator {
        // The provider rotates the token: the next call gets a 401, the SDK refreshes the
        // credentials once and retries; the caller sees the 200.
        emulator.rotate_token("salesforce", "acme");
        let after = salesforce.get("/limits").send().await?;
        println!("after the provider rotated the token: GET /limits → {}", after.status());
        assert!(after.status().is_success());
    }
    Ok(())
}
