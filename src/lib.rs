//! The workspace's app crate: the typed connectors of `connectors.yaml`, shared by the
//! examples and the cross-crate tests.

#![warn(missing_docs)]

fastn_auth::connectors!("connectors.yaml");
