//! Any text as `connectors.yaml`: parsing, validation and code generation return a manifest
//! error or code, never a panic (an invalid identifier would make `Ident::new` panic).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../fastn-auth-macros/src/codegen.rs"]
#[allow(dead_code)]
mod codegen;
#[path = "../../fastn-auth-macros/src/manifest.rs"]
#[allow(dead_code)]
mod manifest;
#[path = "../../fastn-auth-macros/src/naming.rs"]
#[allow(dead_code)]
mod naming;

fuzz_target!(|text: &str| {
    if let Ok(parsed) = manifest::parse(text) {
        let _ = codegen::generate(&parsed, None);
    }
});
