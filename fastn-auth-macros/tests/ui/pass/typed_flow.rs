//! The root manifest expands inside a module: its types, `MANIFEST` and `ConnectorId`, and a
//! typed `url` field read from the wire. (Whole flows against the emulator are the tests
//! package's `typed_connectors.rs`; this case keeps trybuild's project small.)

mod fastn {
    fastn_auth::connectors!("../connectors.yaml");
}

use fastn::{ConnectorId, Salesforce, SalesforceExtra};
use fastn_auth::credentials::Fields;
use fastn_auth::{Extra, Url};

fn main() {
    assert_eq!(fastn::MANIFEST, include_str!("../../../../connectors.yaml"));
    let wire = fastn_auth::serde_json::json!({ "instance_url": "https://acme.my.salesforce.com" });
    let map = wire.as_object().unwrap().clone();
    let extra = SalesforceExtra::from_fields(&mut Fields::new(Salesforce::ID, map)).unwrap();
    let url: Url = extra.instance_url;
    assert_eq!(url.host_str(), Some("acme.my.salesforce.com"));
    assert_eq!("salesforce".parse::<ConnectorId>().unwrap(), ConnectorId::Salesforce);
}
