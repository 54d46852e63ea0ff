//! The cross-crate tests of the workspace (each file beside this one is a test target), the
//! README's Rust examples run as doctests, and the typed connectors of the root
//! `connectors.yaml` for both.
#![warn(missing_docs)]

fastn_auth::connectors!("connectors.yaml"); // resolved against the workspace root (build.rs)

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
