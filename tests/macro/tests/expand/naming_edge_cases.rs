//! Ids starting with a digit, keyword ids and field names, nested lists, a default org.

fastn_auth::connectors!("tests/ui/manifests/edge.yaml");

use fastn_auth::connector::AuthKind;
use fastn_auth::credentials::Fields;
use fastn_auth::{Connector, Extra};

#[test]
fn edge_case_ids_and_keys_get_valid_names_and_read_the_wire() {
    assert_eq!(N1password::ID, "1password");
    assert_eq!(N1password.auth(), AuthKind::Custom);
    assert_eq!(N1password.default_org(), Some("vault-org"));
    assert_eq!(Self_::ID, "self");
    assert_eq!(ConnectorId::ALL, [ConnectorId::N1password, ConnectorId::Self_]);

    // The generated struct reads the wire's fields through the runtime's generic code.
    let wire = fastn_auth::serde_json::json!({ "type": "vault", "2fa": true, "nestedUrls": [["https://a.example/"]] });
    let map = wire.as_object().unwrap().clone();
    let extra = N1passwordExtra::from_fields(&mut Fields::new(N1password::ID, map)).unwrap();
    assert_eq!(extra.r#type, "vault");
    assert_eq!(extra.self_, None);
    assert_eq!(extra._2fa, Some(true));
    assert_eq!(extra.nested_urls.unwrap()[0][0].as_str(), "https://a.example/");
}
