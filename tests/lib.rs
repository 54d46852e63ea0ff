//! The cross-crate tests of the workspace (each file beside this one is a test target), the
//! README's Rust examples run as doctests, and the typed connectors of the root
//! `connectors.yaml` for both.
#![warn(missing_docs)]

fastn_auth::connectors!("connectors.yaml"); // resolved against the workspace root (build.rs)

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Says that a test did not run, and why, where the person running `cargo test` sees it:
/// written to the process's stderr directly, which the test harness does not capture (it
/// captures `eprintln!`). Under `CI=true` a missing tool fails the test instead, since
/// `.ci/run` installs every tool the tests need.
///
/// # Panics
/// Under `CI=true`, always.
pub fn skipped(why: &str) {
    use std::io::Write as _;
    // The harness names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{test} did not run: {why}; .ci/run installs it");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}
