//! Macro scale: incremental `cargo check` of a crate whose manifest grows.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A crate `name` under the target directory whose lib is `connectors!("connectors.yaml")`
/// on the workspace's fastn-auth (and fastn-auth-agent, which generated tools check their
/// input with); its directory.
pub(crate) fn macro_crate(name: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    macro_crate_with(name, "")
}

/// As [`macro_crate`], with `dependencies` (lines of `[dependencies]`) added.
pub(crate) fn macro_crate_with(
    name: &str,
    dependencies: &str,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    // The workspace root: this package is its `bench/`.
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let dir = target.join(format!("bench-{name}"));
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nfastn-auth = {{ path = {:?} }}\nfastn-auth-agent = {{ path = {:?} }}\n{dependencies}\n\
             [workspace]\n",
            root.join("fastn-auth"),
            root.join("fastn-auth-agent")
        ),
    )?;
    std::fs::write(
        dir.join("src/lib.rs"),
        "//! A benchmark of the macro.\n#![allow(missing_docs)]\nfastn_auth::connectors!(\"connectors.yaml\");\n",
    )?;
    Ok(dir)
}

pub(crate) fn macro_scale(sizes: &[usize], runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = macro_crate("macro-scale")?;
    let manifest = dir.join("connectors.yaml");
    println!("macro scale: incremental `cargo check` after touching a manifest, median of {runs} runs");
    let mut medians: Vec<(usize, Duration, usize)> = Vec::new();
    for &size in sizes {
        std::fs::write(&manifest, generated_manifest(size))?;
        cargo_check(&dir, true)?; // warm: dependencies and the first expansion
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                std::fs::write(&manifest, generated_manifest(size))?;
                cargo_check(&dir, true)
            })
            .collect::<Result<_, _>>()?;
        times.sort();
        let median = times[times.len() / 2];
        let lines = expanded_lines(&dir)?;
        println!("  {size:>4} connectors: {median:>8.2?}  ({lines} lines after expansion)");
        medians.push((size, median, lines));
    }
    if let (Some(&(small, t_small, l_small)), Some(&(large, t_large, l_large))) =
        (medians.first(), medians.last())
    {
        let connectors = (large - small) as f64;
        let marginal = (t_large.as_secs_f64() - t_small.as_secs_f64()) * 1000.0 / connectors;
        let lines = (l_large as f64 - l_small as f64) / connectors;
        println!(
            "  marginal: {marginal:.2} ms and {lines:.1} expanded lines per connector ({small} → {large}; target <= 5 ms)"
        );
    }
    Ok(())
}

fn generated_manifest(size: usize) -> String {
    let mut yaml = String::from("version: 1\nconnectors:\n");
    for i in 0..size {
        yaml.push_str(&format!(
            "  connector-{i}:\n    description: Connector number {i}.\n    extra:\n      instanceUrl: url\n      \
             team_id: string\n      hub_id: integer\n      signing_secret: secret?\n      scopes: list<string>?\n"
        ));
    }
    yaml
}

pub(crate) fn cargo_check(dir: &Path, incremental: bool) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO"));
    command.args(["check", "--quiet"]).current_dir(dir);
    if !incremental {
        command.env("CARGO_INCREMENTAL", "0");
    }
    let status = command.status()?;
    if !status.success() {
        return Err(format!("cargo check failed in {}", dir.display()).into());
    }
    Ok(started.elapsed())
}

/// Lines of the crate after macro expansion, formatted (nightly's `-Zunpretty=expanded`
/// when available; 0 otherwise).
fn expanded_lines(dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let output = Command::new("cargo")
        .args(["+nightly", "rustc", "--quiet", "--lib", "--profile", "check", "--", "-Zunpretty=expanded"])
        .env("CARGO_TARGET_DIR", dir.join("target-nightly"))
        .current_dir(dir)
        .stderr(Stdio::null())
        .output()?;
    Ok(if output.status.success() { String::from_utf8_lossy(&output.stdout).lines().count() } else { 0 })
}
