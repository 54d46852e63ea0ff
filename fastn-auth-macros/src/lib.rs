//! The `connectors!` macro of [fastn-auth](https://docs.rs/fastn-auth): typed connectors
//! generated from a `connectors.yaml` manifest. Use it through `fastn_auth::connectors!`.
//!
//! This crate is a thin shell: [`connectors!`] calls `expand`, which reads the manifest
//! (module `manifest`), names things (`naming`) and generates code (`codegen`) — plain
//! functions, unit-tested without a compiler run.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use syn::LitStr;

mod codegen;
mod manifest;
mod naming;

/// The environment variable that, when set, replaces `CARGO_MANIFEST_DIR` as the directory
/// manifest paths are resolved against. For test harnesses such as trybuild, which compile
/// the test in a directory of their own.
const MANIFEST_DIR_OVERRIDE: &str = "FASTN_AUTH_MANIFEST_DIR";

/// Generates typed connectors from a YAML manifest.
///
/// ```ignore
/// fastn_auth::connectors!("connectors.yaml");
/// ```
///
/// The path is resolved against the directory of the calling crate's `Cargo.toml`
/// (`CARGO_MANIFEST_DIR`; the environment variable `FASTN_AUTH_MANIFEST_DIR` replaces it
/// when set, for harnesses such as trybuild). The items are generated in place, so the call
/// can sit inside a `mod`, and the crate is rebuilt when the manifest changes.
///
/// # The manifest, version 1
///
/// ```yaml
/// version: 1
/// connectors:
///   google-sheets:                 # Fastn connector id, used on the wire
///     description: Google Sheets   # optional: doc comment of the generated type
///     auth: oauth2                 # optional: oauth2 (default) | api_key | basic | custom
///     org_id: community            # optional: default org of this connector
///     name: GoogleSheets           # optional: Rust type name (default: from the id)
///     extra:                       # connector-specific credential fields
///       scope: string              # short form: TYPE, or TYPE? when optional
///       id_token: secret?
///       instanceUrl: url           # wire key instanceUrl, Rust field instance_url
///       team:                      # long form
///         type: string
///         optional: true
///         description: Slack team id
/// ```
///
/// Types: `string` (`String`), `secret` (`SecretString`, redacted in `Debug`), `integer`
/// (`i64`), `number` (`f64`), `boolean`, `url` (`url::Url`), `json`
/// (`serde_json::Value`), `list<T>` (`Vec<T>`). Unknown keys anywhere are errors.
///
/// Names: the type name is the id in UpperCamelCase (`google-sheets` → `GoogleSheets`; an
/// id starting with a digit gets the prefix `N`: `1password` → `N1password`); field names
/// are the wire keys in snake_case, a Rust keyword becoming a raw identifier (`type` →
/// `r#type`; `self`, `super`, `crate` → `self_`, …). Two ids or keys giving the same name
/// are an error.
///
/// # Generated items
///
/// Per connector, e.g. `google-sheets`: a unit struct `GoogleSheets` implementing
/// `fastn_auth::Connector` (`GoogleSheets::ID == "google-sheets"`), with
/// `GoogleSheets::connect(&client)` (a `ConnectRequest` whose `.send()` gives an
/// `AuthSession<GoogleSheets>`), `GoogleSheets::credentials(&client)` (a
/// `CredentialsRequest` whose `.send()` gives `Credentials<GoogleSheetsExtra>`) and
/// `GoogleSheets::resume(&client, handle)`; and `GoogleSheetsExtra`, one typed field per
/// `extra` entry. Once: `enum ConnectorId` with a variant per connector, `ALL`,
/// `as_str()`, `Display` and `FromStr`.
///
/// # Errors
///
/// Compile errors point at the path literal and quote the manifest position
/// (`connectors.yaml:12:7: …`): a missing or unreadable file (with the directory it was
/// resolved against), YAML syntax, unknown keys (listing the allowed ones), unknown types
/// (listing the types), ids that are empty or give no identifier, two ids or keys giving the
/// same Rust name, and extra keys that are common credential fields.
#[proc_macro]
pub fn connectors(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// The whole macro as a plain function: `"path.yaml"` in, items or a spanned error out.
fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let literal: LitStr = syn::parse2(input.clone()).map_err(|_| {
        syn::Error::new_spanned(
            &input,
            "expected the manifest path as a string literal: connectors!(\"connectors.yaml\")",
        )
    })?;
    let written = literal.value();
    let error = |message: String| syn::Error::new(literal.span(), message);
    let dir = manifest_dir()
        .ok_or_else(|| error(format!("neither {MANIFEST_DIR_OVERRIDE} nor CARGO_MANIFEST_DIR is set")))?;
    let path = dir.join(&written);
    let text = read_manifest(&path).map_err(|reason| {
        error(format!(
            "cannot read the connectors manifest `{written}`: {reason} (resolved against `{}/`)",
            dir.display()
        ))
    })?;
    let manifest = manifest::parse(&text).map_err(|err| match err.position {
        Some((line, column)) => error(format!("{written}:{line}:{column}: {}", err.message)),
        None => error(format!("{written}: {}", err.message)),
    })?;
    Ok(codegen::generate(&manifest, path.to_str()))
}

fn manifest_dir() -> Option<PathBuf> {
    std::env::var_os(MANIFEST_DIR_OVERRIDE)
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .map(PathBuf::from)
}

fn read_manifest(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_owned(),
        _ => err.to_string(),
    })?;
    if bytes.len() > manifest::MAX_BYTES {
        return Err(format!(
            "it is {} bytes, more than the {} bytes a manifest may have",
            bytes.len(),
            manifest::MAX_BYTES
        ));
    }
    String::from_utf8(bytes)
        .map_err(|err| format!("it is not UTF-8 (invalid byte at offset {})", err.utf8_error().valid_up_to()))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn expand_str(input: TokenStream) -> String {
        match expand(input) {
            Ok(tokens) => tokens.to_string(),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn a_manifest_expands_to_types_and_forwards() {
        // Relative to this crate's directory.
        let out = expand_str(quote!("tests/manifests/naming.yaml"));
        for expected in [
            "pub struct N1password ;",
            "pub const ID : & 'static str = \"1password\"",
            "pub r#type : :: std :: string :: String",
            "pub instance_url : :: fastn_auth :: __private :: url :: Url",
            "instance_url : fields . required (\"instanceUrl\") ?",
            "pub tags : :: core :: option :: Option < :: std :: vec :: Vec < i64 > >",
            "fn default_org (& self) -> :: core :: option :: Option < & str > { :: core :: option :: Option :: Some (\"acme\") }",
            "pub enum ConnectorId",
            "include_bytes !",
        ] {
            assert!(out.contains(expected), "missing `{expected}` in {out}");
        }
    }

    #[test]
    fn oversized_files_are_refused_before_parsing() {
        let path = std::env::temp_dir().join(format!("fastn-auth-huge-{}.yaml", std::process::id()));
        std::fs::write(&path, "#".repeat(manifest::MAX_BYTES + 1)).unwrap();
        let err = read_manifest(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("more than the 4194304 bytes a manifest may have"), "{err}");
    }

    #[test]
    fn a_large_manifest_parses() {
        // How fast is measured by `cargo run --release --example bench -- macro-scale`, not
        // asserted here: a wall-clock bound flakes on a busy machine.
        let mut yaml = String::from("version: 1\nconnectors:\n");
        for i in 0..5_000 {
            yaml.push_str(&format!("  c{i}:\n    extra:\n      a: string\n      b: list<url>?\n"));
        }
        let manifest = manifest::parse(&yaml).unwrap();
        assert_eq!(manifest.connectors.len(), 5_000);
        assert!(codegen::generate(&manifest, None).to_string().len() > 1_000_000);
    }

    #[test]
    fn errors_quote_the_path_as_written_and_the_position() {
        let out = expand_str(quote!("tests/manifests/unknown_type.yaml"));
        assert!(
            out.starts_with(
                "tests/manifests/unknown_type.yaml:5:13: connectors.slack.extra.team: unknown type `strng`"
            ),
            "{out}"
        );
        let out = expand_str(quote!("tests/manifests/absent.yaml"));
        assert!(out.contains("cannot read the connectors manifest `tests/manifests/absent.yaml`: file not found (resolved against `"), "{out}");
        let out = expand_str(quote!(connectors_yaml));
        assert!(out.contains("expected the manifest path as a string literal"), "{out}");
    }
}
