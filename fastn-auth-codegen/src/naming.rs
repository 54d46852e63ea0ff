//! Connector ids and wire keys turned into Rust identifiers.
//!
//! - Type names: the id split at every character that is not a letter or digit, each part
//!   capitalized: `google-sheets` → `GoogleSheets`. An id starting with a digit gets the
//!   prefix `N`: `1password` → `N1password` (or choose one with `name:`); `self` gives
//!   `Self_`.
//! - Field names: snake_case of the wire key: `instanceUrl` → `instance_url`,
//!   `HTTPStatus` → `http_status`, `team-id` → `team_id`. A leading digit gets the prefix
//!   `_`; a Rust keyword becomes a raw identifier (`type` → `r#type`), except `self`,
//!   `Self`, `super` and `crate`, which get a trailing `_`.

use proc_macro2::{Ident, Span};

/// The type name of connector `id`, or `None` when it has no letter or digit.
pub fn type_name(id: &str) -> Option<String> {
    let mut name = String::new();
    for part in id.split(|c: char| !c.is_ascii_alphanumeric()).filter(|part| !part.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.extend(chars);
        }
    }
    match name.chars().next()? {
        c if c.is_ascii_digit() => Some(format!("N{name}")),
        _ if name == "Self" => Some("Self_".to_owned()),
        _ => Some(name),
    }
}

/// The field name of wire key `key`, or `None` when it has no letter or digit.
pub fn field_name(key: &str) -> Option<String> {
    let name = fastn_auth_rules::snake_case(key);
    match name.chars().next()? {
        c if c.is_ascii_digit() => Some(format!("_{name}")),
        _ if matches!(name.as_str(), "self" | "super" | "crate") => Some(format!("{name}_")),
        _ => Some(name),
    }
}

/// Whether `name` can be written as a Rust identifier (possibly raw).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    starts_well && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && name != "_"
}

/// An identifier for `name`, raw when `name` is a keyword.
pub fn ident(name: &str) -> Ident {
    if is_keyword(name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// Names that cannot be identifiers even raw.
pub fn is_unrawable_keyword(name: &str) -> bool {
    matches!(name, "self" | "Self" | "super" | "crate" | "_")
}

fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "async"
            | "await"
            | "break"
            | "const"
            | "continue"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "gen"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "try"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        for (id, name) in [
            ("google-sheets", "GoogleSheets"),
            ("salesforce", "Salesforce"),
            ("microsoft_teams", "MicrosoftTeams"),
            ("1password", "N1password"),
            ("a.b c", "ABC"),
            ("hubSpot", "HubSpot"),
            ("self", "Self_"),
        ] {
            assert_eq!(type_name(id).as_deref(), Some(name), "{id}");
        }
        assert_eq!(type_name("--"), None);
        assert_eq!(type_name(""), None);
    }

    #[test]
    fn field_names() {
        for (key, name) in [
            ("instance_url", "instance_url"),
            ("instanceUrl", "instance_url"),
            ("HTTPStatus", "http_status"),
            ("hub-id", "hub_id"),
            ("team__id_", "team_id"),
            ("type", "type"),
            ("self", "self_"),
            ("2fa", "_2fa"),
            ("x1Y", "x1_y"),
        ] {
            assert_eq!(field_name(key).as_deref(), Some(name), "{key}");
        }
        assert_eq!(field_name("__"), None);
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("scope").to_string(), "scope");
        assert!(is_identifier("r") && !is_identifier("1a") && !is_identifier("_") && !is_identifier("a-b"));
    }
}
