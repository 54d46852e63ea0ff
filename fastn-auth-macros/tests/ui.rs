//! Compile-time behaviour of `connectors!`: what compiles, and every error it can emit.

#[test]
fn ui() {
    // trybuild compiles each case in a project of its own under target/: resolve manifest
    // paths against this package instead, so `.stderr` snapshots hold no machine paths.
    // SAFETY: set before trybuild starts any thread, in the only test of this binary.
    unsafe { std::env::set_var("FASTN_AUTH_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR")) };
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
