//! The workspace's root package holds the examples (`examples/`), nothing else: its
//! dependencies are what they use. The cross-crate tests, and the README's Rust examples
//! run as doctests, are the package in `tests/` (`fastn-auth-tests`); the benchmarks are
//! `bench/` (`fastn-auth-bench`).
#![warn(missing_docs)]
