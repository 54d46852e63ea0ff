//! The connectors generated from the root `connectors.yaml`, end to end against the emulator.

use std::time::Duration;

use fastn_auth::connector::AuthKind;
use fastn_auth::{Connector, ErrorCode, ExposeSecret, FastnAuth, PollOptions, Url};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use fastn_auth_tests::{
    ConnectorId, GoogleSheets, Hubspot, MANIFEST, MicrosoftTeams, Salesforce, Slack, Stripe,
};

async fn setup() -> (MockServer, FastnAuth) {
    // The emulator approves each flow on its second poll.
    let mock = MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(2).start().await.unwrap();
    let client = mock.client();
    (mock, client)
}

fn fast() -> PollOptions {
    PollOptions::new(Duration::from_millis(10), Duration::from_secs(5))
}

#[tokio::test]
async fn salesforce_instance_url_is_a_typed_url() {
    let (mock, client) = setup().await;
    let session = Salesforce::connect(&client).tenant_id("acme").send().await.unwrap();
    let creds = session.wait_for_completion(fast()).await.unwrap();
    let instance: &Url = &creds.extra.instance_url;
    assert_eq!(instance.host_str(), Some("acme.example.com"));
    assert!(creds.extra.id.is_some());
    assert!(mock.requests()[0].path.ends_with("/connect/init/community/salesforce"));
}

#[tokio::test]
async fn typed_credentials_of_an_existing_connection() {
    let (mock, client) = setup().await;
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "hubspot").tenant_id("acme"), None);
    let creds = Hubspot::credentials(&client).tenant_id("acme").send().await.unwrap();
    let hub_id: i64 = creds.extra.hub_id;
    assert!(hub_id > 0);

    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "stripe").connection_id("c9"), None);
    let creds = Stripe::credentials(&client).connection_id("c9").send().await.unwrap();
    let key = creds.extra.stripe_publishable_key.expose_secret().to_owned();
    assert!(key.starts_with("mock-secret-"));
    assert!(!format!("{creds:?}").contains(&key), "secret extra fields are redacted");
    assert!(creds.extra.livemode, "a boolean the manifest declares is true in the emulator");
}

#[tokio::test]
async fn a_missing_required_field_names_connector_and_field() {
    let (mock, client) = setup().await;
    mock.set_credentials(
        "slack",
        serde_json::json!({ "access_token": "x", "bot_user_id": "U1", "scope": "s" }),
    );
    let session = Slack::connect(&client).send().await.unwrap();
    let err = session.wait_for_completion(fast()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidResponse);
    let text = err.to_string();
    assert!(text.contains("connector `slack`") && text.contains("`team_id`"), "{text}");
}

#[tokio::test]
async fn typed_resume_checks_the_connector() {
    let (_mock, client) = setup().await;
    let session = GoogleSheets::connect(&client).tenant_id("acme").send().await.unwrap();
    let handle = session.handle().clone();
    let resumed = GoogleSheets::resume(&client, handle.clone()).unwrap();
    let creds = resumed.wait_for_completion(fast()).await.unwrap();
    assert!(creds.extra.scope.starts_with("mock-scope-"));
    let err = Salesforce::resume(&client, handle).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigError);
}

#[tokio::test]
async fn a_typed_slack_flow_reads_without_unwrap() -> Result<(), fastn_auth::Error> {
    let (_mock, client) = setup().await;
    let creds = Slack::connect(&client).tenant_id("t1").send().await?.wait_for_completion(fast()).await?;
    assert!(creds.extra.team_id.starts_with("mock-team_id-"));
    Ok(())
}

#[tokio::test]
async fn typed_and_untyped_requests_are_the_same_builder() {
    let (mock, client) = setup().await;
    let typed: fastn_auth::ConnectRequest<'_, Slack> = Slack::connect(&client);
    let untyped: fastn_auth::ConnectRequest<'_> = client.connect("slack");
    let (a, b) = (typed.tenant_id("t").send().await.unwrap(), untyped.tenant_id("t").send().await.unwrap());
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/api/connect/init/community/slack", "/api/connect/init/community/slack"]);
    // The untyped session resumes as typed, since it carries its connector id.
    assert!(Slack::resume(&client, b.handle().clone()).is_ok());
    assert!(client.resume(a.handle().clone()).id() == a.id());
}

#[tokio::test]
async fn typed_and_untyped_requests_share_the_cache() {
    let mock = MockServer::builder().connectors(MANIFEST).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let client = mock.client_builder().cache(fastn_auth::CacheOptions::default()).build().unwrap();
    let typed = Slack::credentials(&client).tenant_id("acme").send().await.unwrap();
    let untyped = client.credentials("slack").tenant_id("acme").send().await.unwrap();
    let typed_again = Slack::credentials(&client).tenant_id("acme").send().await.unwrap();
    assert_eq!(untyped.extra["team_id"], typed.extra.team_id.as_str());
    assert_eq!(typed_again.extra.team_id, typed.extra.team_id);
    let fetches = mock.requests().iter().filter(|r| r.path.contains("/credentials/")).count();
    assert_eq!(fetches, 1, "one upstream fetch serves both shapes");
}

mod custom {
    fastn_auth::connectors!("tests/manifests/custom.yaml");
}

#[tokio::test]
async fn a_manifest_driven_emulator_serves_any_declared_connector_with_no_set_up() {
    let mock =
        MockServer::builder().connectors(custom::MANIFEST).auto_approve_after_polls(1).start().await.unwrap();
    let client = mock.client();
    let creds = custom::AcmeCrm::connect(&client)
        .tenant_id("globex")
        .send()
        .await
        .unwrap()
        .wait_for_completion(fast())
        .await
        .unwrap();
    let extra = &creds.extra;
    assert_eq!(extra.api_base.host_str(), Some("globex.example.com"));
    assert!(extra.region.starts_with("mock-region-") && extra.seats > 0 && extra.beta);
    assert!(extra.signing_key.expose_secret().starts_with("mock-secret-"));
    assert!(!format!("{extra:?}").contains(extra.signing_key.expose_secret()));
    assert_eq!((extra.tags.len(), extra.mirrors.as_ref().map(Vec::len)), (1, Some(1)));
    assert_eq!(extra.settings["mock"], true);
    assert!(extra.ratio.is_finite());

    // Any other connector id still gets the common fields.
    let other =
        client.connect("never-declared").send().await.unwrap().wait_for_completion(fast()).await.unwrap();
    assert!(other.access_token.is_some() && other.expires_at().is_some());

    let broken = include_str!("macro/tests/ui/manifests/unknown_type.yaml");
    let broken = MockServer::builder().connectors(broken).start().await.unwrap_err();
    assert!(
        broken.to_string().contains("manifest:5:16: connectors.slack.extra.team_id: unknown type `strng`"),
        "{broken}"
    );
}

#[tokio::test]
async fn a_typed_flow_against_an_emulator_without_the_manifest_says_to_give_it() {
    let mock = MockServer::builder().auto_approve_after_polls(1).start().await.unwrap();
    let session = Slack::connect(&mock.client()).tenant_id("acme").send().await.unwrap();
    let err = session.wait_for_completion(fast()).await.unwrap_err().to_string();
    assert!(err.contains("required field `team_id` (a string) is missing"), "{err}");
    assert!(err.contains("the emulator was given no manifest declaring connector `slack`"), "{err}");
    assert!(err.contains("MockServer::builder().connectors(MANIFEST)"), "{err}");

    let mock = MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(1).start().await.unwrap();
    let session = Slack::connect(&mock.client()).tenant_id("acme").send().await.unwrap();
    assert!(!session.wait_for_completion(fast()).await.unwrap().extra.team_id.is_empty());
}

#[test]
fn connector_ids_round_trip() {
    assert_eq!(ConnectorId::ALL.len(), 8);
    for id in ConnectorId::ALL {
        assert_eq!(id.as_str().parse::<ConnectorId>().unwrap(), id);
        assert_eq!(id.to_string(), id.as_str());
    }
    assert_eq!("microsoft-teams".parse::<ConnectorId>().unwrap(), ConnectorId::MicrosoftTeams);
    assert_eq!(ConnectorId::GoogleSheets.as_str(), GoogleSheets::ID);
    let err = "google_sheets".parse::<ConnectorId>().unwrap_err().to_string();
    assert!(err.contains("\"google_sheets\"") && err.contains("google-sheets, salesforce"), "{err}");
    assert_eq!(Stripe.auth(), AuthKind::ApiKey);
    assert_eq!(MicrosoftTeams.auth(), AuthKind::OAuth2);
    assert_eq!(Stripe.id(), "stripe");
}
