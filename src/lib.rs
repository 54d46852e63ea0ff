//! The workspace's test crate: the typed connectors of `connectors.yaml`, used by the
//! cross-crate tests, and the README's Rust examples compiled as doctests.
#![warn(missing_docs)]

fastn_auth::connectors!("connectors.yaml");

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
