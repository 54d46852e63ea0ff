//! The manifest's `registry:` and its connectors' `tools:`: the registry file read as a lock
//! file (the generated types change only when it is synced again), each selected tool
//! found in it, with the manifest position and the nearest name when it is not; the types
//! generated from the selected tools' schemas (`schema`) and their items (`emit`).

pub(crate) mod emit;
pub(crate) mod schema;

use std::path::{Path, PathBuf};

use fastn_auth_rules::registry::{
    MAX_REGISTRY_BYTES, Registry, RegistryConnector, RegistryTool, registry_key,
};

use crate::LoadError;
use crate::manifest::{Manifest, ToolSelection, did_you_mean, locate_path};

/// The registry a manifest names, read: its absolute path (tracked, so cargo rebuilds when
/// it changes) and its content.
#[derive(Debug)]
pub struct LoadedRegistry {
    /// The file's absolute path.
    pub path: PathBuf,
    /// Its content.
    pub registry: Registry,
}

/// One connector's selected tools.
#[derive(Debug)]
pub struct Selected<'r> {
    /// The connector's index in the manifest.
    pub connector: usize,
    /// The registry's entry of the connector.
    pub registry: &'r RegistryConnector,
    /// The selected tools, in registry order for `all`, manifest order otherwise.
    pub tools: Vec<&'r RegistryTool>,
    /// The keys of those that run only with a person's approval (`approve:`).
    pub approve: Vec<&'r str>,
}

/// Reads the registry `manifest` names (relative to `manifest_path`'s directory), or `None`
/// when it names none. `text` and `written` are the manifest's, for positions.
///
/// # Errors
/// [`LoadError::Invalid`] at the `registry:` line: the file is missing, larger than
/// [`MAX_REGISTRY_BYTES`], not UTF-8, or not a registry (naming the JSON path).
pub fn load_registry(
    manifest: &Manifest,
    manifest_path: &Path,
    text: &str,
    written: &str,
) -> Result<Option<LoadedRegistry>, LoadError> {
    let Some(relative) = &manifest.registry else { return Ok(None) };
    let path = manifest_path.parent().unwrap_or(Path::new(".")).join(relative);
    let at = position(written, locate_path(text, 1, &["registry".to_owned()]));
    let shown = fastn_auth_rules::escape(relative, 200);
    let fail = |reason: String| LoadError::Invalid(format!("{at}registry `{shown}`: {reason}"));
    let bytes = read_bounded(&path).map_err(fail)?;
    let text = String::from_utf8(bytes).map_err(|err| {
        fail(format!("it is not UTF-8 (invalid byte at offset {})", err.utf8_error().valid_up_to()))
    })?;
    let registry = Registry::parse(&text)
        .map_err(|err| fail(format!("{err}; sync it again with `fastn-auth tools sync`")))?;
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    Ok(Some(LoadedRegistry { path, registry }))
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(path)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => {
                "file not found (write it with `fastn-auth tools sync`)".to_owned()
            }
            _ => err.to_string(),
        })?
        .len();
    if len > MAX_REGISTRY_BYTES as u64 {
        return Err(format!(
            "it is {len} bytes, more than the {MAX_REGISTRY_BYTES} bytes a registry may have"
        ));
    }
    std::fs::read(path).map_err(|err| err.to_string())
}

/// The selected tools of every connector with `tools:`, each found in `registry`.
///
/// # Errors
/// [`LoadError::Invalid`] at the manifest position of the first connector the registry
/// does not have or tool its connector does not have, with the nearest name.
pub fn select<'r>(
    manifest: &Manifest,
    registry: &'r Registry,
    text: &str,
    written: &str,
) -> Result<Vec<Selected<'r>>, LoadError> {
    let mut selected = Vec::new();
    for (index, spec) in manifest.connectors.iter().enumerate() {
        let Some(selection) = &spec.tools else { continue };
        let tools_at = locate_path(text, 1, &[spec.id.clone(), "tools".to_owned()]);
        let key = registry_key(&spec.id);
        let Some(connector) = registry.connector(&key) else {
            let keys: Vec<&str> = registry.connectors.iter().map(|c| c.key.as_str()).collect();
            let hint = hint(&key, &keys);
            return Err(LoadError::Invalid(format!(
                "{}connectors.{}.tools: the registry has no connector `{key}`{hint}; sync it again with \
                 `fastn-auth tools sync`, or remove `tools:`",
                position(written, tools_at),
                spec.id
            )));
        };
        let tools = match selection {
            ToolSelection::All => connector.tools.iter().collect(),
            ToolSelection::Named(names) => {
                let mut tools = Vec::with_capacity(names.len());
                for name in names {
                    let Some(tool) = connector.tool(name) else {
                        let keys: Vec<&str> = connector.tools.iter().map(|t| t.key.as_str()).collect();
                        let at = tools_at.and_then(|(line, _)| locate_word(text, line, name)).or(tools_at);
                        return Err(LoadError::Invalid(format!(
                            "{}connectors.{}.tools: connector `{key}` has no tool `{}` in the registry{}",
                            position(written, at),
                            spec.id,
                            fastn_auth_rules::shown_id(name),
                            hint(name, &keys)
                        )));
                    };
                    tools.push(tool);
                }
                tools
            }
        };
        let approve = match &spec.approve {
            None => Vec::new(),
            Some(ToolSelection::All) => tools.iter().map(|tool| tool.key.as_str()).collect(),
            Some(ToolSelection::Named(names)) => {
                let approve_at = locate_path(text, 1, &[spec.id.clone(), "approve".to_owned()]);
                let mut approve = Vec::with_capacity(names.len());
                for name in names {
                    let Some(tool) = tools.iter().find(|tool| &tool.key == name) else {
                        let keys: Vec<&str> = tools.iter().map(|t| t.key.as_str()).collect();
                        let at =
                            approve_at.and_then(|(line, _)| locate_word(text, line, name)).or(approve_at);
                        return Err(LoadError::Invalid(format!(
                            "{}connectors.{}.approve: `{}` is not one of the tools `tools:` selects{}",
                            position(written, at),
                            spec.id,
                            fastn_auth_rules::shown_id(name),
                            hint(name, &keys)
                        )));
                    };
                    approve.push(tool.key.as_str());
                }
                approve
            }
        };
        selected.push(Selected { connector: index, registry: connector, tools, approve });
    }
    Ok(selected)
}

/// The items of the `selected` tools: input types, `…Tools` clients and `REGISTRY`;
/// `registry_path` (absolute) is tracked so that cargo rebuilds when the
/// registry changes.
pub fn generate(
    manifest: &Manifest,
    selected: &[Selected<'_>],
    registry_path: Option<&str>,
) -> proc_macro2::TokenStream {
    emit::tools(manifest, selected, registry_path)
}

/// [`select`] keeping what is found and leaving the rest out, for the items generated
/// beside an error (one mistake, one error).
pub fn select_found<'r>(manifest: &Manifest, registry: &'r Registry) -> Vec<Selected<'r>> {
    let found = manifest.connectors.iter().enumerate().filter_map(|(index, spec)| {
        let connector = registry.connector(&registry_key(&spec.id))?;
        let tools: Vec<&RegistryTool> = match spec.tools.as_ref()? {
            ToolSelection::All => connector.tools.iter().collect(),
            ToolSelection::Named(names) => names.iter().filter_map(|name| connector.tool(name)).collect(),
        };
        let approve = tools
            .iter()
            .map(|tool| tool.key.as_str())
            .filter(|key| match &spec.approve {
                None => false,
                Some(ToolSelection::All) => true,
                Some(ToolSelection::Named(names)) => names.iter().any(|name| name == key),
            })
            .collect();
        Some(Selected { connector: index, registry: connector, tools, approve })
    });
    found.collect()
}

/// The registry of only the selected tools, as Fastn's CLI writes one: what the generated
/// `REGISTRY` holds, for a `ToolSet` of `fastn-auth-agent` and the emulator.
pub fn selected_registry(selected: &[Selected<'_>]) -> Registry {
    let connectors = selected.iter().map(|s| {
        let mut tools: Vec<RegistryTool> = s
            .tools
            .iter()
            .map(|tool| RegistryTool {
                requires_approval: tool.requires_approval || s.approve.contains(&tool.key.as_str()),
                ..(*tool).clone()
            })
            .collect();
        tools.sort_by(|a, b| a.key.cmp(&b.key));
        RegistryConnector { tools, ..s.registry.clone() }
    });
    let mut connectors: Vec<RegistryConnector> = connectors.collect();
    connectors.sort_by(|a, b| a.key.cmp(&b.key));
    Registry { version: "1.0.0".to_owned(), connectors }
}

fn hint(word: &str, candidates: &[&str]) -> String {
    did_you_mean(word, candidates).map(|near| format!(" (did you mean `{near}`?)")).unwrap_or_default()
}

/// `written:line:col: ` or `written: `.
fn position(written: &str, at: Option<(usize, usize)>) -> String {
    match at {
        Some((line, column)) => format!("{written}:{line}:{column}: "),
        None => format!("{written}: "),
    }
}

/// The line and column of `word` as a whole word, from line `from` on.
fn locate_word(text: &str, from: usize, word: &str) -> Option<(usize, usize)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.lines().enumerate().skip(from.saturating_sub(1)).find_map(|(index, line)| {
        line.match_indices(word).find_map(|(at, _)| {
            let before = line[..at].chars().next_back();
            let after = line[at + word.len()..].chars().next();
            (!before.is_some_and(is_word) && !after.is_some_and(is_word))
                .then(|| (index + 1, line[..at].chars().count() + 1))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_found_whole_after_its_line() {
        let text = "a:\n  tools: [send_message_x, send_message]\n  - send_message\n";
        assert_eq!(locate_word(text, 2, "send_message"), Some((2, 27)));
        assert_eq!(locate_word(text, 3, "send_message"), Some((3, 5)));
        assert_eq!(locate_word(text, 1, "nothing"), None);
    }
}
