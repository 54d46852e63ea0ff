//! `connect`, `status` and `credentials`: a flow from the terminal, and what it left.

use std::time::Duration;

use fastn_auth::{PollOptions, SessionHandle};
use serde_json::json;

use crate::output::{escaped, open_browser, print_credentials, print_json, spinner};
use crate::{Cli, Failure, Target, client};

/// `connect`: starts a flow, prints where to authorize, waits, prints the credentials.
pub(crate) async fn connect(
    cli: &Cli,
    connector: &str,
    target: &Target,
    open: bool,
    timeout: Duration,
    interval: Duration,
) -> Result<(), Failure> {
    let client = client(cli)?;
    let session = with_target!(client.connect(connector.to_owned()), target).send().await?;
    match session.redirect_url() {
        Some(url) => {
            eprintln!("Authorize {connector} at: {url}");
            if open {
                open_browser(url.as_str());
            }
        }
        None => eprintln!("The flow has no authorization URL; waiting for it to complete."),
    }
    let spinner = spinner(&format!("waiting for {connector} to be authorized…"));
    let outcome = session.wait_for_completion(PollOptions::new(interval, timeout)).await;
    spinner.finish_and_clear();
    let credentials = outcome?;
    print_credentials(cli, &credentials, Some(session.handle()));
    Ok(())
}

/// `status`: where a flow stands.
pub(crate) async fn status(
    cli: &Cli,
    connector: &str,
    state: &str,
    tenant: Option<&String>,
    connection: Option<&String>,
) -> Result<(), Failure> {
    let client = client(cli)?;
    let mut handle = SessionHandle::new(connector, state);
    if let Some(tenant) = tenant {
        handle = handle.with_tenant_id(tenant.clone());
    }
    if let Some(connection) = connection {
        handle = handle.with_connection_id(connection.clone());
    }
    let status = client.resume(handle).get_status().await?;
    if cli.json {
        print_json(
            &json!({ "state": state, "status": status.status.as_str(), "error_message": status.error_message }),
        );
    } else {
        match status.error_message {
            Some(message) => println!("{}: {}", status.status, escaped(&message)),
            None => println!("{}", status.status),
        }
    }
    Ok(())
}

/// `credentials`: a connection's credentials.
pub(crate) async fn credentials(cli: &Cli, connector: &str, target: &Target) -> Result<(), Failure> {
    let client = client(cli)?;
    let credentials = with_target!(client.credentials(connector.to_owned()), target).send().await?;
    print_credentials(cli, &credentials, None);
    Ok(())
}
