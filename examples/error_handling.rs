//! Every error kind, provoked with the emulator's fault injection, matched by kind and code.
//!
//! ```text
//! cargo run --example error_handling
//! ```

use std::time::Duration;

use fastn_auth::{Endpoint, Error, ErrorKind, FastnAuth, PollOptions};
use fastn_auth_emulator::{Fault, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockServer::start().await?;
    let client = mock.client();
    let poll = PollOptions::new(Duration::from_millis(50), Duration::from_secs(1));

    // Timeout: nobody approves within the second.
    let session = client.connect("slack").send().await?;
    report("nobody approves", session.wait_for_completion(poll).await.map(drop));

    // Authentication: the user clicks Deny.
    let session = client.connect("slack").send().await?;
    mock.deny(session.state_key(), "user denied access");
    report("the user denies", session.wait_for_completion(poll).await.map(drop));

    // Network: a tenant that never connected; a wrong key. Neither is retried.
    report("an unknown tenant", client.credentials("slack").tenant_id("globex").send().await.map(drop));
    let wrong_key = mock.client_builder().api_key("wrong").build()?;
    report("a wrong API key", wrong_key.connect("slack").send().await.map(drop));

    // InvalidResponse: a proxy answers with an HTML page.
    mock.inject(Endpoint::Init, Fault::Html);
    report("a proxy answers HTML", client.connect("slack").send().await.map(drop));

    // Config: refused before anything is sent.
    report(
        "a tenant id with a line break",
        client.connect("slack").tenant_id("acme\r\n").send().await.map(drop),
    );
    report("no credentials", FastnAuth::builder("demo-space").build().map(drop));
    Ok(())
}

fn report(what: &str, outcome: Result<(), Error>) {
    let Err(err) = outcome else {
        println!("{what}: succeeded");
        return;
    };
    let kind = match err.kind() {
        ErrorKind::Timeout { timeout, last_status, .. } => {
            format!("timed out after {timeout:?}, last status {last_status:?}")
        }
        ErrorKind::Authentication { message, .. } => format!("the flow failed: {message}"),
        ErrorKind::Network { .. } if err.is_not_found() => format!("not connected: {err}"),
        ErrorKind::Network { .. } if err.is_unauthorized() => format!("check the API key: {err}"),
        ErrorKind::Network { status_code, .. } => {
            format!("HTTP failure, status {status_code:?}, retriable: {}", err.is_transient())
        }
        ErrorKind::InvalidResponse { message, .. } => format!("unusable answer: {message}"),
        ErrorKind::Config { message, .. } => format!("refused locally: {message}"),
        _ => format!("{err}"),
    };
    println!("{what}: [{}] {kind}", err.code());
}
