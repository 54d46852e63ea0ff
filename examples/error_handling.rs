//! Every error kind, provoked with the emulator's fault injection, matched by kind and code.
//!
//! ```text
//! cargo run --example error_handling
//! ```

use std::time::Duration;

use fastn_auth::mock::{Fault, MockServer};
use fastn_auth::{Endpoint, Error, FastnAuth, InitOptions, PollOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockServer::start().await?;
    let client =
        FastnAuth::builder("demo-space").api_key(MockServer::API_KEY).base_url(mock.base_url()).build()?;
    let poll = PollOptions::new(Duration::from_millis(50), Duration::from_secs(1));

    // Timeout: nobody approves within the second.
    let session = client.initialize("slack").await?;
    report("nobody approves", session.wait_for_completion(poll).await.map(drop));

    // Authentication: the user clicks Deny.
    let session = client.initialize("slack").await?;
    mock.deny(session.state_key(), "user denied access");
    report("the user denies", session.wait_for_completion(poll).await.map(drop));

    // Network: a 403 is not retried; a 503 while polling would be.
    let session = client.initialize("slack").await?;
    mock.inject(Endpoint::Status, Fault::status(403));
    report("the API forbids", session.wait_for_completion(poll).await.map(drop));

    // InvalidResponse: a proxy answers with an HTML page.
    mock.inject(Endpoint::Init, Fault::Html);
    report("a proxy answers HTML", client.initialize("slack").await.map(drop));

    // Config: refused before anything is sent.
    report(
        "a tenant id with a line break",
        client.initialize(InitOptions::new("slack").tenant_id("acme\r\n")).await.map(drop),
    );
    report("no credentials", FastnAuth::builder("demo-space").build().map(drop));
    Ok(())
}

fn report(what: &str, outcome: Result<(), Error>) {
    let Err(err) = outcome else {
        println!("{what}: succeeded");
        return;
    };
    let kind = match &err {
        Error::Timeout { timeout, last_status } => {
            format!("timed out after {timeout:?}, last status {last_status:?}")
        }
        Error::Authentication { message } => format!("the flow failed: {message}"),
        Error::Network { status_code, .. } => {
            format!("HTTP failure, status {status_code:?}, retriable: {}", err.is_transient())
        }
        Error::InvalidResponse { message } => format!("unusable answer: {message}"),
        Error::Config { message } => format!("refused locally: {message}"),
        _ => format!("{err}"),
    };
    println!("{what}: [{}] {kind}", err.code());
}
