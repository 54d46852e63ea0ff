//! `manifest check` and `manifest expand`: the macro's own reading of a manifest, for CI and
//! for reading.

use std::path::Path;

use serde_json::json;

use crate::output::print_json;
use crate::{Cli, Failure, usage};

/// `manifest check`: exit 1 with the macro's error when the manifest is broken.
pub(crate) fn check(cli: &Cli, path: &Path) -> Result<(), Failure> {
    let manifest =
        fastn_auth_codegen::load(path, &path.display().to_string()).map_err(|err| usage(err.to_string()))?;
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
    let manifest =
        fastn_auth_codegen::load(path, &path.display().to_string()).map_err(|err| usage(err.to_string()))?;
    let items = fastn_auth_codegen::codegen::generate(&manifest, path.to_str());
    let code = fastn_auth_codegen::pretty(items).map_err(usage)?;
    print!("{code}");
    Ok(())
}
