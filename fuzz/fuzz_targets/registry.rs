//! Any text as `.fastn/registry.json`: reading, selecting every tool of every connector and
//! generating their types, and the tool lists for models, return an error or a result,
//! never a panic (a name that is no identifier would make `Ident::new` panic).
#![no_main]

use fastn_auth_agent::{ModelFormat, Registry, ToolSet};
use fastn_auth_codegen::{manifest, tools};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(registry) = Registry::parse(text) else { return };
    let mut yaml = String::from("version: 1\nregistry: registry.json\nconnectors:\n");
    for connector in &registry.connectors {
        yaml.push_str(&format!("  {:?}:\n    tools: all\n", connector.key));
    }
    if let Ok(parsed) = manifest::parse(&yaml) {
        let selected = tools::select_found(&parsed, &registry);
        let _ = tools::generate(&parsed, &selected, None);
    }
    let set = ToolSet::from_registry(&registry);
    for format in ModelFormat::ALL {
        let _ = set.format(format);
    }
});
