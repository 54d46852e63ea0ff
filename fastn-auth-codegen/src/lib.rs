//! The `connectors.yaml` manifest of [fastn-auth](https://docs.rs/fastn-auth) as plain
//! functions: the schema and its validation with positions ([`manifest`]), connector ids
//! and wire keys as Rust names ([`naming`]), and the Rust items generated for a manifest
//! ([`codegen`]). The `connectors!` macro is a thin shell over [`expand_file`]; tools that
//! check or show a manifest call the same functions, so they print the macro's own errors.

#![warn(missing_docs)]

use std::path::Path;

use proc_macro2::TokenStream;

pub mod codegen;
pub mod manifest;
pub mod naming;
pub mod recover;
pub mod tools;

pub use manifest::{Manifest, ManifestError};

/// Why a manifest could not be loaded; `Display` is the message the macro prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The file could not be read: missing, too large, not UTF-8.
    Read(String),
    /// The file is not a valid manifest: `{written}:{line}:{column}: {what}`.
    Invalid(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Read(message) | LoadError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads and validates the manifest at `path`. `written` is how the user wrote the path
/// (in the macro call, on the command line): errors begin with it and the position,
/// `connectors.yaml:12:7: …`, exactly as the macro reports them.
///
/// # Errors
/// [`LoadError::Read`] when the file cannot be read, is larger than
/// [`manifest::MAX_BYTES`] or is not UTF-8; [`LoadError::Invalid`] when it is not a valid
/// manifest.
pub fn load(path: &Path, written: &str) -> Result<Manifest, LoadError> {
    parse_at(&read_text(path, written)?, written)
}

/// [`manifest::parse`] with errors as [`load`] words them.
fn parse_at(text: &str, written: &str) -> Result<Manifest, LoadError> {
    manifest::parse(text).map_err(|err| {
        LoadError::Invalid(match err.position {
            Some((line, column)) => format!("{written}:{line}:{column}: {}", err.message),
            None => format!("{written}: {}", err.message),
        })
    })
}

/// The text of the manifest at `path`, read as [`load`] reads it (at most
/// [`manifest::MAX_BYTES`], UTF-8), not yet validated.
///
/// # Errors
/// [`LoadError::Read`], as [`load`].
pub fn read_text(path: &Path, written: &str) -> Result<String, LoadError> {
    read(path).map_err(|reason| {
        LoadError::Read(format!("cannot read the connectors manifest `{written}`: {reason}"))
    })
}

/// The items generated for the manifest at `path`; the file is included by its absolute
/// path so that cargo rebuilds the caller when it changes, and is the generated `MANIFEST`.
///
/// # Errors
/// As [`load`].
pub fn expand_file(path: &Path, written: &str) -> Result<TokenStream, LoadError> {
    let text = read_text(path, written)?;
    let manifest = parse_at(&text, written)?;
    let items = codegen::generate(&manifest, path.to_str());
    let Some(loaded) = tools::load_registry(&manifest, path, &text, written)? else { return Ok(items) };
    let selected = tools::select(&manifest, &loaded.registry, &text, written)?;
    let tools = tools::generate(&manifest, &selected, loaded.path.to_str());
    Ok(quote::quote! { #items #tools })
}

/// The items that can still be generated for the manifest at `path` when [`expand_file`]
/// fails on its content: those of every part that checks on its own
/// ([`recover::recover`]), so that one mistake in the manifest gives one error. `None`
/// when the file cannot be read or nothing of it checks.
pub fn recover_file(path: &Path, written: &str) -> Option<TokenStream> {
    let text = read_text(path, written).ok()?;
    let manifest = recover::recover(&text)?;
    let items = codegen::generate(&manifest, path.to_str());
    // The tools found in a registry that reads, the others left out.
    let loaded = tools::load_registry(&manifest, path, &text, written).ok().flatten();
    let tools = loaded.map(|loaded| {
        let selected = tools::select_found(&manifest, &loaded.registry);
        tools::generate(&manifest, &selected, loaded.path.to_str())
    });
    Some(quote::quote! { #items #tools })
}

/// Generated items as formatted Rust source, for reading (feature `pretty`).
///
/// # Errors
/// The tokens are not a Rust file (a bug in the generator).
#[cfg(feature = "pretty")]
pub fn pretty(items: TokenStream) -> Result<String, String> {
    let file: syn::File =
        syn::parse2(items).map_err(|err| format!("the generated code does not parse: {err}"))?;
    Ok(prettyplease::unparse(&file))
}

fn read(path: &Path) -> Result<String, String> {
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
    use std::path::PathBuf;

    use super::*;

    fn manifest(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests").join(name)
    }

    #[test]
    fn a_manifest_expands_to_types_and_forwards() {
        let out = expand_file(&manifest("naming.yaml"), "naming.yaml").unwrap().to_string();
        for expected in [
            "pub struct N1password ;",
            "pub const ID : & 'static str = \"1password\"",
            "pub r#type : :: std :: string :: String",
            "pub instance_url : :: fastn_auth :: Url",
            "instance_url : fields . required (\"instanceUrl\") ?",
            "pub tags : :: core :: option :: Option < :: std :: vec :: Vec < i64 > >",
            "fn default_org (& self) -> :: core :: option :: Option < & str > { :: core :: option :: Option :: Some (\"acme\") }",
            "pub enum ConnectorId",
            "pub const MANIFEST : & str = :: core :: include_str !",
        ] {
            assert!(out.contains(expected), "missing `{expected}` in {out}");
        }
    }

    #[test]
    fn errors_carry_the_path_as_written_and_the_position() {
        let err = load(&manifest("unknown_type.yaml"), "connectors.yaml").unwrap_err();
        assert!(matches!(&err, LoadError::Invalid(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("connectors.yaml:5:13: connectors.slack.extra.team: unknown type `strng`"),
            "{err}"
        );
        let err = load(&manifest("absent.yaml"), "absent.yaml").unwrap_err();
        assert_eq!(
            err,
            LoadError::Read("cannot read the connectors manifest `absent.yaml`: file not found".into())
        );
    }

    #[test]
    fn oversized_files_are_refused_before_parsing() {
        let path = std::env::temp_dir().join(format!("fastn-auth-huge-{}.yaml", std::process::id()));
        std::fs::write(&path, "#".repeat(manifest::MAX_BYTES + 1)).unwrap();
        let err = load(&path, "huge.yaml").unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(err.to_string().contains("more than the 1048576 bytes a manifest may have"), "{err}");
    }

    /// As `pretty` formats it, which is behind a feature these tests do not need on.
    fn formatted(items: TokenStream) -> String {
        prettyplease::unparse(&syn::parse2(items).expect("the generated code parses"))
    }

    /// Every token of `stream`, groups' contents included.
    fn tokens(stream: TokenStream) -> usize {
        stream
            .into_iter()
            .map(|tree| match tree {
                proc_macro2::TokenTree::Group(group) => 2 + tokens(group.stream()),
                _ => 1,
            })
            .sum()
    }

    #[test]
    fn the_largest_manifest_the_limits_allow_generates_a_bounded_amount_of_code() {
        // Time and memory are measured on the release CLI (README, "Security"); here the
        // deterministic quantity behind both: how many tokens the generator makes.
        let mut yaml = String::from("version: 1\nconnectors:\n");
        let per_connector = manifest::MAX_TOTAL_FIELDS / manifest::MAX_CONNECTORS;
        let deepest = format!(
            "{}url{}",
            "list<".repeat(manifest::MAX_TYPE_DEPTH),
            ">".repeat(manifest::MAX_TYPE_DEPTH)
        );
        for i in 0..manifest::MAX_CONNECTORS {
            yaml.push_str(&format!("  c{i}:\n    extra:\n"));
            for j in 0..per_connector {
                yaml.push_str(&format!("      f{j}: {deepest}?\n"));
            }
        }
        assert!(yaml.len() < manifest::MAX_BYTES);
        let manifest = manifest::parse(&yaml).unwrap();
        assert_eq!(manifest.connectors.len(), manifest::MAX_CONNECTORS);
        let count = tokens(codegen::generate(&manifest, None));
        assert!(count < 1_000_000, "{count} tokens");
        // One more connector or field is refused, so this is the most there can be.
        assert!(manifest::parse(&format!("{yaml}  one-more: {{}}\n")).is_err());
    }

    /// What `connectors!` generates for the workspace's manifest, formatted: a change to the
    /// generator shows here as a diff (`cargo insta review`, or INSTA_UPDATE=always).
    #[test]
    fn the_generated_code_of_a_representative_manifest() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors.yaml");
        let workspace = load(&path, "connectors.yaml").unwrap();
        insta::assert_snapshot!(formatted(codegen::generate(&workspace, None)));
        let edge = load(&manifest("naming.yaml"), "naming.yaml").unwrap();
        insta::assert_snapshot!("naming_edge_cases", formatted(codegen::generate(&edge, None)));
    }

    /// The tools' items (no tracked paths, so the snapshot is the same on every machine).
    fn tools_of(path: &Path) -> String {
        let text = read_text(path, "m.yaml").unwrap();
        let manifest = parse_at(&text, "m.yaml").unwrap();
        let loaded = tools::load_registry(&manifest, path, &text, "m.yaml").unwrap().unwrap();
        let selected = tools::select(&manifest, &loaded.registry, &text, "m.yaml").unwrap();
        formatted(tools::generate(&manifest, &selected, None))
    }

    #[test]
    fn approve_marks_selected_tools_in_the_registry_and_names_only_selected_ones() {
        let dir = std::env::temp_dir().join(format!("fastn-auth-codegen-approve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../.fastn/registry.json"),
            dir.join("r.json"),
        )
        .unwrap();
        let select = |yaml: &str| {
            let path = dir.join("m.yaml");
            std::fs::write(&path, yaml).unwrap();
            let text = read_text(&path, "m.yaml").unwrap();
            let manifest = parse_at(&text, "m.yaml").map_err(|err| err.to_string())?;
            let loaded = tools::load_registry(&manifest, &path, &text, "m.yaml").unwrap().unwrap();
            let selected =
                tools::select(&manifest, &loaded.registry, &text, "m.yaml").map_err(|err| err.to_string())?;
            let registry = tools::selected_registry(&selected);
            let marked: Vec<String> = registry.connectors[0]
                .tools
                .iter()
                .map(|tool| format!("{}={}", tool.key, tool.requires_approval))
                .collect();
            Ok::<_, String>((marked, registry.to_json()))
        };
        let head =
            "version: 1\nregistry: r.json\nconnectors:\n  slack:\n    tools: [send_message, list_channels]\n";
        let (marked, json) = select(&format!("{head}    approve: [send_message]\n")).unwrap();
        assert_eq!(marked, ["list_channels=false", "send_message=true"]);
        assert_eq!(json["connectors"]["slack"]["tools"]["send_message"]["requiresApproval"], true);
        let read_back = fastn_auth_rules::registry::Registry::parse(&json.to_string()).unwrap();
        assert!(read_back.connector("slack").unwrap().tool("send_message").unwrap().requires_approval);
        let (marked, _) = select(&format!("{head}    approve: all\n")).unwrap();
        assert_eq!(marked, ["list_channels=true", "send_message=true"]);
        let err = select(&format!("{head}    approve: [add_reaction]\n")).unwrap_err();
        assert!(err.contains("m.yaml:6:") && err.contains("`add_reaction` is not one of the tools"), "{err}");
        let err =
            select("version: 1\nregistry: r.json\nconnectors:\n  slack:\n    approve: all\n").unwrap_err();
        assert!(err.contains("add `tools:`"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The tools the workspace's manifest selects from the sample registry, and a registry
    /// of the names and schemas Fastn's own client fails on (keywords, clashes, no schema).
    #[test]
    fn the_generated_tools() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors.yaml");
        insta::assert_snapshot!("workspace_tools", tools_of(&path));
        insta::assert_snapshot!("tool_edge_cases", tools_of(&manifest("tools_edge.yaml")));
    }
}
