//! The root manifest expands inside a module: its types, `MANIFEST` and `ConnectorId`, and a
//! typed `url` field read from the wire, the `api:` block. (Whole flows against the emulator
//! are the tests package's `typed_connectors.rs`.)

mod fastn {
    fastn_auth::connectors!("../../connectors.yaml");
}

use fastn::{ConnectorId, Salesforce, SalesforceExtra};
use fastn_auth::credentials::Fields;
use fastn_auth::{Extra, Url};

#[test]
fn the_root_manifest_expands_inside_a_module() {
    assert_eq!(fastn::MANIFEST, include_str!("../../../../connectors.yaml"));
    let wire = fastn_auth::serde_json::json!({ "instance_url": "https://acme.my.salesforce.com" });
    let map = wire.as_object().unwrap().clone();
    let extra = SalesforceExtra::from_fields(&mut Fields::new(Salesforce::ID, map)).unwrap();
    let url: Url = extra.instance_url;
    assert_eq!(url.host_str(), Some("acme.my.salesforce.com"));
    assert_eq!("salesforce".parse::<ConnectorId>().unwrap(), ConnectorId::Salesforce);
    // The manifest's `api:` block: a generated `api()` whose client a service keeps per tenant.
    fn keepable<T: Clone + Send + Sync + 'static>(_: &T) {}
    let client = fastn_auth::FastnAuth::builder("space").api_key("key").build().unwrap();
    keepable(&Salesforce::api(&client).tenant_id("acme"));
    let spec = fastn_auth::Connector::api_spec(&Salesforce).unwrap();
    assert_eq!(spec.base_url, "{instance_url}/services/data/v60.0");
}
