//! Any text as `connectors.yaml`: parsing, validation and code generation return a manifest
//! error or code, never a panic (an invalid identifier would make `Ident::new` panic).
#![no_main]

use fastn_auth_codegen::{codegen, manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(parsed) = manifest::parse(text) {
        let _ = codegen::generate(&parsed, None);
    }
});
