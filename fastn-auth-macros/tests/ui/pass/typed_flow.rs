//! The root manifest expands inside a module, and its types run a whole flow.

mod fastn {
    fastn_auth::connectors!("../connectors.yaml");
}

use std::time::Duration;

use fastn::{ConnectorId, Salesforce};
use fastn_auth_emulator::MockServer;
use fastn_auth::{PollOptions, Url};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mock = MockServer::builder().connectors(fastn::MANIFEST).auto_approve_after_polls(1).start().await.unwrap();
    let client = mock.client();
    let session = Salesforce::connect(&client).tenant_id("acme").send().await.unwrap();
    let result = session.wait_for_completion(PollOptions::new(Duration::from_millis(5), Duration::from_secs(5))).await;
    let url: Url = result.unwrap().extra.instance_url;
    assert_eq!(url.host_str(), Some("acme.example.com"));
    assert_eq!("salesforce".parse::<ConnectorId>().unwrap(), ConnectorId::Salesforce);
}
