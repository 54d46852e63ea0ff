//! The tool lists of every model format, over the sample registry and a hard one (nested
//! objects, arrays of objects, enums, nullable types, `oneOf`, `const`, `$ref` to `$defs`,
//! keyword and odd names, an empty description, a tool without parameters, one tool name in
//! two connectors), checked by the providers' own SDKs in the project's Python venv
//! (`scripts/provider_validators.py`: openai, anthropic, google-genai, botocore, jsonschema).
//! The lists the SDK wrote before this round (`tests/fixtures/before/`) must fail there.

use std::path::{Path, PathBuf};

use fastn_auth_agent::{ModelFormat, ToolSet};

const ROOT: &str = env!("FASTN_AUTH_MANIFEST_DIR");

fn python() -> PathBuf {
    let output = std::process::Command::new("bash")
        .arg(format!("{ROOT}/scripts/python-venv.sh"))
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "the venv: {}", String::from_utf8_lossy(&output.stderr));
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// A fresh directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastn-auth-formats-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the validators over `dir`: whether they accepted every list, and what they said.
fn validate(dir: &Path) -> (bool, String) {
    let output = std::process::Command::new(python())
        .arg(format!("{ROOT}/scripts/provider_validators.py"))
        .arg(dir)
        .output()
        .expect("python runs");
    let said =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

#[cfg_attr(missing_python, ignore = "needs python3 (for the providers' SDKs)")]
#[test]
fn every_format_is_what_each_providers_own_sdk_accepts() {
    let dir = scratch("now");
    for (name, path) in [("sample", ".fastn/registry.json"), ("hard", "tests/fixtures/hard-registry.json")] {
        let set = ToolSet::from_json(&std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap()).unwrap();
        assert!(set.refused().is_empty(), "{name}: {:?}", set.refused());
        for format in ModelFormat::ALL {
            let file = dir.join(format!("{name}.{}.json", format.as_str()));
            std::fs::write(file, serde_json::to_vec_pretty(&set.format(format)).unwrap()).unwrap();
        }
    }
    let (ok, said) = validate(&dir);
    assert!(ok, "{said}");
    assert_eq!(
        said.lines().filter(|line| line.starts_with("ok ")).count(),
        2 * ModelFormat::ALL.len(),
        "{said}"
    );
}

#[cfg_attr(missing_python, ignore = "needs python3 (for the providers' SDKs)")]
#[test]
fn the_lists_written_before_this_round_are_refused_by_the_same_checks() {
    for (format, expected) in [("gemini", "google-genai"), ("openai", "dangles"), ("bedrock", "botocore")] {
        let dir = scratch(format);
        let name = format!("hard.{format}.json");
        std::fs::copy(format!("{ROOT}/tests/fixtures/before/{name}"), dir.join(&name)).unwrap();
        let (ok, said) = validate(&dir);
        assert!(!ok && said.contains(expected), "{format}: {said}");
    }
}
