//! The workspace's own app crate: the typed connectors of `connectors.yaml`, used by the
//! examples and the cross-crate tests.
