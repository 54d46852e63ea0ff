//! `manifest check` and `manifest expand`: the macro's own reading of a manifest, for CI and
//! for reading.

use std::path::Path;

use serde_json::json;

use crate::output::print_json;
use crate::{Cli, Failure, usage};

/// `manifest check`: exit 1 with the macro's error when the manifest (or its registry and
/// tools) is broken.
pub(crate) fn check(cli: &Cli, path: &Path) -> Result<(), Failure> {
    let written = path.display().to_string();
    // What the macro does, registry and tools included; only the errors are kept.
    fastn_auth_codegen::expand_file(path, &written).map_err(|err| usage(err.to_string()))?;
    let manifest = fastn_auth_codegen::load(path, &written).map_err(|err| usage(err.to_string()))?;
    let ids: Vec<&str> = manifest.connectors.iter().map(|c| c.id.as_str()).collect();
    if cli.json {
        print_json(&json!({ "path": path, "connectors": ids }));
    } else {
        println!("{}: {} connectors: {}", path.display(), ids.len(), ids.join(", "));
    }
    Ok(())
}

/// `manifest expand`: the Rust `connectors!` generates, formatted.
pub(crate) fn expand(path: &Path) -> Result<(), Failure> {
    let items = fastn_auth_codegen::expand_file(path, &path.display().to_string())
        .map_err(|err| usage(err.to_string()))?;
    let code = fastn_auth_codegen::pretty(items).map_err(usage)?;
    print!("{code}");
    Ok(())
}
