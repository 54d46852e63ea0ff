//! The cross-crate tests of the workspace (each file beside this one is a test target):
//! the typed connectors of the root `connectors.yaml`, for them to use.
#![warn(missing_docs)]

fastn_auth::connectors!("connectors.yaml"); // resolved against the workspace root (build.rs)
