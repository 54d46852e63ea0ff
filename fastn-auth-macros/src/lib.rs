//! The `connectors!` macro of [fastn-auth](https://docs.rs/fastn-auth): typed connectors
//! generated from a `connectors.yaml` manifest. Use it through `fastn_auth::connectors!`.
//!
//! This crate is a thin shell: [`connectors!`] resolves the manifest's path and calls
//! `fastn_auth_codegen::expand_file`, which reads, validates and generates — plain
//! functions, unit-tested and snapshot-tested without a compiler run in
//! `fastn-auth-codegen`.

#![warn(missing_docs)]

use std::path::PathBuf;

use fastn_auth_codegen::LoadError;
use proc_macro2::TokenStream;
use syn::LitStr;

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
/// registry: .fastn/registry.json   # optional: Fastn's tool registry (`fastn-auth tools sync`)
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
///     api:                         # optional: the connector's own API
///       base_url: "https://sheets.googleapis.com/v4"   # `{field}` placeholders from extra
///       headers: { Accept: application/json }          # optional static headers
///       token: bearer              # or { header: NAME, prefix?, from? } | { query: NAME, from? }
///     tools: [append_values]       # optional, with `registry:`: the tools to generate, or `all`
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
/// `GoogleSheets::resume(&client, handle)`, and with an `api:` block
/// `GoogleSheets::api(&client)` (an `ApiClient` of the connector's API, the token placed as
/// the block says); and `GoogleSheetsExtra`, one typed field per `extra` entry. Once:
/// `enum ConnectorId` with a variant per connector, `ALL`, `as_str()`, `Display` and
/// `FromStr`, and `MANIFEST`, the manifest's text as the macro read it (give it to the
/// emulator: `MockServer::builder().connectors(MANIFEST)`).
///
/// With `tools:`, per tool an input type generated from its schema
/// (`GoogleSheetsAppendValues`) and per connector `GoogleSheets::tools(&client)`, a
/// `GoogleSheetsTools` with one method per tool; once, `REGISTRY` (the selected tools, for
/// the emulator, and for language models as `fastn_auth_agent::ToolSet::from_json(REGISTRY)`)
/// and `TOOL_CHECKS`, which checks each typed call's input against its schema before it is
/// sent: a crate whose manifest selects tools depends on `fastn-auth-agent`. An unknown
/// tool or connector, or a registry that is missing or malformed, is a compile error at
/// its manifest position (`docs/tools.md` of the repository).
///
/// # Errors
///
/// Compile errors point at the path literal and quote the manifest position
/// (`connectors.yaml:12:7: …`): a missing or unreadable file (with the directory it was
/// resolved against), YAML syntax, unknown keys (listing the allowed ones), unknown types
/// (listing the types), ids that are empty or give no identifier, two ids or keys giving the
/// same Rust name, extra keys that are common credential fields, and `api:` blocks that
/// cannot work (an unknown placeholder, a base that is not https, a reserved header). A
/// mistake is one error: the items of the parts of the manifest that check are still
/// generated, so code naming them does not fail a second time.
#[proc_macro]
pub fn connectors(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand(input.into())
        .unwrap_or_else(|(err, recovered)| {
            // The manifest's error, and the items of its parts that check, so that the code
            // naming them does not fail a second time.
            let mut tokens = err.into_compile_error();
            tokens.extend(recovered);
            tokens
        })
        .into()
}

/// The whole macro as a plain function: `"path.yaml"` in, items out; or a spanned error
/// with the items that could still be generated.
fn expand(input: TokenStream) -> Result<TokenStream, (syn::Error, Option<TokenStream>)> {
    let literal: LitStr = syn::parse2(input.clone()).map_err(|_| {
        let message = "expected the manifest path as a string literal: connectors!(\"connectors.yaml\")";
        (syn::Error::new_spanned(&input, message), None)
    })?;
    let written = literal.value();
    let error = |message: String| syn::Error::new(literal.span(), message);
    let dir = manifest_dir().ok_or_else(|| {
        (error(format!("neither {MANIFEST_DIR_OVERRIDE} nor CARGO_MANIFEST_DIR is set")), None)
    })?;
    let path = dir.join(&written);
    fastn_auth_codegen::expand_file(&path, &written).map_err(|err| match err {
        LoadError::Read(message) => {
            (error(format!("{message} (resolved against `{}/`)", dir.display())), None)
        }
        other => (error(other.to_string()), fastn_auth_codegen::recover_file(&path, &written)),
    })
}

fn manifest_dir() -> Option<PathBuf> {
    std::env::var_os(MANIFEST_DIR_OVERRIDE)
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn expand_str(input: TokenStream) -> String {
        match expand(input) {
            Ok(tokens) => tokens.to_string(),
            Err((err, _)) => err.to_string(),
        }
    }

    #[test]
    fn a_manifest_path_resolves_against_the_crate() {
        // Relative to this crate's directory.
        let out = expand_str(quote!("../fastn-auth-codegen/tests/manifests/naming.yaml"));
        assert!(out.contains("pub struct N1password ;") && out.contains("include_str !"), "{out}");
    }

    #[test]
    fn errors_quote_the_path_as_written_and_the_position() {
        let out = expand_str(quote!("../fastn-auth-codegen/tests/manifests/unknown_type.yaml"));
        assert!(
            out.starts_with("../fastn-auth-codegen/tests/manifests/unknown_type.yaml:5:13: connectors.slack.extra.team: unknown type `strng`"),
            "{out}"
        );
        let out = expand_str(quote!("tests/manifests/absent.yaml"));
        assert!(out.contains("cannot read the connectors manifest `tests/manifests/absent.yaml`: file not found (resolved against `"), "{out}");
        let out = expand_str(quote!(connectors_yaml));
        assert!(out.contains("expected the manifest path as a string literal"), "{out}");
    }
}
