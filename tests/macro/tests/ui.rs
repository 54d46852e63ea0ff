//! Compile-time errors of `connectors!`: every error it can emit, as the compiler shows it.
//! (What the macro generates, compiled and used, is `expand/`.)

#[test]
fn ui() {
    // trybuild compiles each case in a project of its own under target/: resolve manifest
    // paths against this package instead, so `.stderr` snapshots hold no machine paths.
    // SAFETY: set before trybuild starts any thread, in the only test of this binary.
    unsafe { std::env::set_var("FASTN_AUTH_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR")) };
    // Failing cases only: trybuild then runs `cargo check` for its dependencies and each
    // case, where one passing case would make it build and link them all.
    trybuild::TestCases::new().compile_fail("tests/ui/fail/*.rs");
}
