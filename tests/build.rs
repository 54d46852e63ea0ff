//! Resolves `connectors!` paths in this package against the workspace root, where
//! `connectors.yaml` is: the tests include the examples' sources, which name it as the root
//! package does.

fn main() {
    let here = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = std::path::Path::new(&here).parent().expect("tests/ is inside the workspace");
    println!("cargo:rustc-env=FASTN_AUTH_MANIFEST_DIR={}", root.display());
    println!("cargo:rerun-if-changed=build.rs");
}
