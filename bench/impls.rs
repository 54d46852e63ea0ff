//! What each impl of a generated tool type costs rustc (`macro-impls`): `cargo check` of a
//! crate of `types` structs shaped like a generated input (a required `String`, three
//! optional fields), bare and with one kind of impl added at a time, written as
//! `connectors!` writes it.

use std::process::Command;
use std::time::Duration;

use crate::macros::{cargo_check, macro_crate_with};

/// One struct's impls of `kind` (`name` its type).
fn impls(kind: &str, name: &str) -> String {
    let fields = [("name", "String"), ("count", "i64"), ("dry_run", "bool"), ("tags", "Vec<String>")];
    let serde = "::fastn_auth::generated::serde";
    match kind {
        "debug" => format!("impl ::core::fmt::Debug for {name} {{ fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{ f.debug_struct(\"{name}\"){}.finish() }} }}",
            fields.iter().map(|(field, _)| format!(".field(\"{field}\", &self.{field})")).collect::<String>()),
        "clone" => format!("impl ::core::clone::Clone for {name} {{ fn clone(&self) -> Self {{ Self {{ {} }} }} }}",
            fields.iter().map(|(field, _)| format!("{field}: ::core::clone::Clone::clone(&self.{field}),")).collect::<String>()),
        "eq" => format!("impl ::core::cmp::PartialEq for {name} {{ fn eq(&self, other: &Self) -> bool {{ {} }} }}",
            fields.iter().map(|(field, _)| format!("self.{field} == other.{field}")).collect::<Vec<_>>().join(" && ")),
        "serialize" => format!("impl {serde}::Serialize for {name} {{ fn serialize<S: {serde}::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {{ \
            ::fastn_auth::tools::write(serializer, &[(\"name\", &self.name)], &[(\"count\", &self.count), (\"dry_run\", &self.dry_run), (\"tags\", &self.tags)], ::core::option::Option::None) }} }}"),
        "read" => format!("impl ::fastn_auth::tools::FromToolValue for {name} {{ fn from_value(value: ::fastn_auth::serde_json::Value) -> ::core::result::Result<Self, ::fastn_auth::tools::ValueError> {{ \
            ::fastn_auth::tools::read(value, &[\"name\", \"count\", \"dry_run\", \"tags\"], |(name, count, dry_run, tags), _| Self {{ name, count, dry_run, tags }}) }} }}"),
        "deserialize" => format!("impl<'de> {serde}::Deserialize<'de> for {name} {{ fn deserialize<D: {serde}::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {{ \
            ::fastn_auth::tools::deserialize(deserializer) }} }}"),
        "new" => format!("impl {name} {{ pub fn new(name: impl ::core::convert::Into<String>) -> Self {{ Self {{ name: name.into(), count: None, dry_run: None, tags: None }} }} }}"),
        "setters" => format!("impl {name} {{ {} }}", fields[1..].iter().map(|(field, ty)| format!(
            "#[must_use] pub fn {field}(mut self, value: impl ::core::convert::Into<{ty}>) -> Self {{ self.{field} = ::core::option::Option::Some(value.into()); self }}")).collect::<String>()),
        _ => String::new(),
    }
}

/// The crate of `types` structs with the impls of `kinds`.
fn source(types: usize, kinds: &[&str], serde_derive: bool) -> String {
    let mut text = String::from("//! A benchmark of generated impls.\n#![allow(missing_docs)]\n");
    for at in 0..types {
        let name = format!("Input{at}");
        if serde_derive {
            text.push_str("#[derive(::serde::Serialize, ::serde::Deserialize)]\n");
        }
        text.push_str(&format!(
            "#[non_exhaustive]\npub struct {name} {{ pub name: String, pub count: Option<i64>, pub dry_run: Option<bool>, pub tags: Option<Vec<String>> }}\n"
        ));
        for kind in kinds {
            text.push_str(&impls(kind, &name));
            text.push('\n');
        }
    }
    text
}

pub(crate) fn macro_impls(types: usize, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = macro_crate_with("macro-impls", "serde = { version = \"1\", features = [\"derive\"] }\n")?;
    let added: [(&str, &str); 8] = [
        ("Debug", "debug"),
        ("Clone", "clone"),
        ("PartialEq", "eq"),
        ("Serialize (one `write` call)", "serialize"),
        ("FromToolValue (one `read` call)", "read"),
        ("Deserialize (forwarding to it)", "deserialize"),
        ("new", "new"),
        ("3 setters", "setters"),
    ];
    println!(
        "macro-impls: cargo check (not incremental) of {types} structs of 4 fields, adding one kind of impl \
         at a time as connectors! writes it; fastest of {runs}"
    );
    std::fs::write(dir.join("src/lib.rs"), source(1, &[], false))?;
    cargo_check(&dir, false)?; // the dependencies
    let check =
        |kinds: &[&str], serde_derive: bool, runs: usize| -> Result<Duration, Box<dyn std::error::Error>> {
            std::fs::write(dir.join("src/lib.rs"), source(types, kinds, serde_derive))?;
            let times = (0..runs)
                .map(|_| {
                    // The crate checked from scratch: a rewrite within the same instant can
                    // look unchanged to cargo.
                    let cleaned = Command::new(env!("CARGO"))
                        .args(["clean", "-q", "-p", "macro-impls"])
                        .current_dir(&dir)
                        .status()?;
                    if !cleaned.success() {
                        return Err("cargo clean failed".into());
                    }
                    cargo_check(&dir, false)
                })
                .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
            Ok(times.into_iter().min().unwrap_or_default())
        };
    let per_type =
        |more: Duration, less: Duration| more.saturating_sub(less).as_secs_f64() * 1000.0 / types as f64;
    let bare = check(&[], false, runs)?;
    println!("  {:<40} {bare:>8.2?}", "the structs alone");
    let (mut kinds, mut last) = (Vec::new(), bare);
    for (label, kind) in added {
        kinds.push(kind);
        let time = check(&kinds, false, runs)?;
        println!("  + {label:<38} {time:>8.2?}   {:>5.2} ms per type", per_type(time, last));
        last = time;
    }
    let derived = check(&[], true, 1)?;
    println!(
        "  serde's derive(Serialize, Deserialize) alone, for contrast: {derived:.2?}, {:.2} ms per type",
        per_type(derived, bare)
    );
    Ok(())
}
