//! Ids starting with a digit, keyword ids and field names, nested lists, a default org.

fastn_auth::connectors!("tests/ui/manifests/edge.yaml");

use std::time::Duration;

use fastn_auth_emulator::MockServer;
use fastn_auth::connector::AuthKind;
use fastn_auth::{Connector, PollOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(N1password::ID, "1password");
    assert_eq!(N1password.auth(), AuthKind::Custom);
    assert_eq!(Self_::ID, "self");
    assert_eq!(ConnectorId::ALL, [ConnectorId::N1password, ConnectorId::Self_]);

    let mock = MockServer::builder().auto_approve_after_polls(1).start().await.unwrap();
    mock.set_credentials(
        "1password",
        fastn_auth::serde_json::json!({
            "access_token": "a", "type": "vault", "2fa": true, "nestedUrls": [["https://a.example/"]]
        }),
    );
    let client = mock.client();
    let session = N1password::connect(&client).send().await.unwrap();
    let options = PollOptions::new(Duration::from_millis(5), Duration::from_secs(5));
    let extra = session.wait_for_completion(options).await.unwrap().extra;
    assert_eq!(extra.r#type, "vault");
    assert_eq!(extra.self_, None);
    assert_eq!(extra._2fa, Some(true));
    assert_eq!(extra.nested_urls.unwrap()[0][0].as_str(), "https://a.example/");
    assert_eq!(mock.requests()[0].path, "/api/connect/init/vault-org/1password");
}
