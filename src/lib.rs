//! The workspace's root package: the examples, and the README's Rust examples compiled and
//! run as doctests so that they stay true. The cross-crate tests are the package in
//! `tests/` (`fastn-auth-tests`), kept apart so that an example builds none of their
//! dependencies.
#![warn(missing_docs)]

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
