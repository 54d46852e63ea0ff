//! Resolves `connectors!` paths in this package against the workspace root, where
//! `connectors.yaml` is: the tests include the examples' sources, which name it as the root
//! package does.
//!
//! And says which programs the tests need are missing, as `cfg(missing_…)`: a test that
//! needs one is then `#[ignore]`d with the reason, so `cargo test` counts it as ignored,
//! never as passed, and shows why. Under `CI=true` nothing is missing by decree: the tests
//! run and fail without their programs, which `.ci/run` installs.

use std::path::Path;

/// What each cfg stands for: any of these programs missing.
const NEEDS: &[(&str, &[&str])] = &[
    ("missing_redis", &["redis-server"]),
    ("missing_redis_cluster", &["redis-server", "redis-cli"]),
    ("missing_openssl", &["redis-server", "openssl"]),
    ("missing_chromium", &["/usr/bin/chromium", "/usr/bin/chromedriver"]),
    ("missing_python", &["python3"]),
    ("missing_node", &["node", "npm"]),
];

fn main() {
    let here = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&here).parent().expect("tests/ is inside the workspace");
    println!("cargo:rustc-env=FASTN_AUTH_MANIFEST_DIR={}", root.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rerun-if-env-changed=PATH");
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let mut any_missing = false;
    for (cfg, programs) in NEEDS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let found: Vec<Option<std::path::PathBuf>> = programs.iter().map(|program| locate(program)).collect();
        for path in found.iter().flatten() {
            // Removed later: look again.
            println!("cargo:rerun-if-changed={}", path.display());
        }
        if !ci && found.iter().any(Option::is_none) {
            println!("cargo:rustc-cfg={cfg}");
            any_missing = true;
        }
    }
    if any_missing {
        // A missing program cannot be watched, the directories it would land in can.
        let mut dirs: Vec<std::path::PathBuf> =
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
        dirs.push("/usr/bin".into());
        dirs.sort();
        dirs.dedup();
        for dir in dirs.iter().filter(|dir| dir.is_dir()) {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
    }
}

/// Where `program` is: an absolute path as it is, else the first match on `PATH`.
fn locate(program: &str) -> Option<std::path::PathBuf> {
    if program.starts_with('/') {
        return Path::new(program).exists().then(|| program.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|path| path.is_file())
}
