//! What can still be generated from a manifest that does not check, so that one mistake
//! gives one error: the macro reports the manifest's error and also emits the items of
//! every part that checks on its own, so the user's code that names `MANIFEST`,
//! `ConnectorId` or a connector type does not fail a second time for the missing items.
//!
//! The strict parser is the only judge: a connector is kept as it is when it checks, else
//! rebuilt from the extra fields and keys that each check on their own (a field with a bad
//! type is kept as a `string`, so that the `api:` block naming it still checks and the
//! connector's `api()` is still generated; a field that is wrong otherwise is left out); a
//! connector that still does not check is left out. No rule is written twice.

use serde_yaml::{Mapping, Value};

use crate::manifest::{self, Manifest};

/// The manifest made of the parts of `text` that check, or `None` when the text is not
/// YAML at all, is over the limits, or nothing of it checks.
pub fn recover(text: &str) -> Option<Manifest> {
    // Over the limits, nothing is read further (the prescan is the parser's own).
    if text.len() > manifest::MAX_BYTES {
        return None;
    }
    let root: Value = serde_yaml::from_str(text).ok()?;
    let connectors = root.get("connectors")?.as_mapping()?;
    // `registry:` is kept when it checks: connectors' `tools:` need it.
    let registry =
        root.get("registry").filter(|path| manifest::parse(&document(Mapping::new(), Some(path))).is_ok());
    let mut kept = Mapping::new();
    for (id, spec) in connectors {
        if let Some(spec) = recover_connector(id, spec, registry) {
            kept.insert(id.clone(), spec);
        }
    }
    manifest::parse(&document(kept, registry)).ok()
}

/// `spec` as it is when it checks, else rebuilt from its parts that do.
fn recover_connector(id: &Value, spec: &Value, registry: Option<&Value>) -> Option<Value> {
    let checks = |spec: &Mapping| {
        let mut one = Mapping::new();
        one.insert(id.clone(), Value::Mapping(spec.clone()));
        manifest::parse(&document(one, registry)).is_ok()
    };
    let Some(map) = spec.as_mapping() else {
        return checks(&Mapping::new()).then(|| Value::Mapping(Mapping::new()));
    };
    if checks(map) {
        return Some(spec.clone());
    }
    // The extra fields that check alone, then every other key that checks beside them
    // (`api:` names extra fields).
    let mut rebuilt = Mapping::new();
    let extra_key = Value::String("extra".to_owned());
    if let Some(fields) = map.get(&extra_key).and_then(Value::as_mapping) {
        let mut good = Mapping::new();
        for (key, field) in fields {
            let mut alone = Mapping::new();
            alone.insert(
                extra_key.clone(),
                Value::Mapping(Mapping::from_iter([(key.clone(), field.clone())])),
            );
            if checks(&alone) {
                good.insert(key.clone(), field.clone());
                continue;
            }
            let Some(string) = as_string(field) else { continue };
            alone.insert(
                extra_key.clone(),
                Value::Mapping(Mapping::from_iter([(key.clone(), string.clone())])),
            );
            if checks(&alone) {
                good.insert(key.clone(), string);
            }
        }
        rebuilt.insert(extra_key.clone(), Value::Mapping(good));
    }
    for (key, value) in map.iter().filter(|(key, _)| **key != extra_key) {
        let mut with = rebuilt.clone();
        with.insert(key.clone(), value.clone());
        if checks(&with) {
            rebuilt = with;
        }
    }
    checks(&rebuilt).then_some(Value::Mapping(rebuilt))
}

/// An extra field's declaration with its type replaced by `string` (optional when it was):
/// `URL` → `string`, `{type: URL?, description: …}` → `{type: string?, description: …}`.
fn as_string(field: &Value) -> Option<Value> {
    let string = |declared: &str| {
        Value::String(if declared.trim_end().ends_with('?') { "string?" } else { "string" }.to_owned())
    };
    match field {
        Value::String(declared) => Some(string(declared)),
        Value::Mapping(map) => {
            let type_key = Value::String("type".to_owned());
            let declared = map.get(&type_key)?.as_str()?;
            let mut map = map.clone();
            map.insert(type_key, string(declared));
            Some(Value::Mapping(map))
        }
        _ => None,
    }
}

/// A whole manifest of these connectors (and this `registry:`), as YAML text.
fn document(connectors: Mapping, registry: Option<&Value>) -> String {
    let mut root = Mapping::new();
    root.insert(Value::String("version".to_owned()), Value::Number(1.into()));
    if let Some(path) = registry {
        root.insert(Value::String("registry".to_owned()), path.clone());
    }
    root.insert(Value::String("connectors".to_owned()), Value::Mapping(connectors));
    serde_yaml::to_string(&Value::Mapping(root)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_and_fields(manifest: &Manifest) -> Vec<(String, Vec<String>)> {
        manifest
            .connectors
            .iter()
            .map(|spec| (spec.id.clone(), spec.extra.iter().map(|field| field.key.clone()).collect()))
            .collect()
    }

    #[test]
    fn a_field_of_a_bad_type_is_kept_as_a_string_and_the_rest_is_kept() {
        let text = "version: 1\nconnectors:\n  slack:\n    extra:\n      team: strng\n      team_id: string\n    api:\n      base_url: https://slack.com/api\n  notion: {}\n";
        assert!(manifest::parse(text).is_err());
        let recovered = recover(text).unwrap();
        assert_eq!(
            ids_and_fields(&recovered),
            [
                ("slack".to_owned(), vec!["team".to_owned(), "team_id".to_owned()]),
                ("notion".to_owned(), vec![])
            ]
        );
        assert!(recovered.connectors[0].api.is_some(), "the api block is kept");
    }

    #[test]
    fn an_api_base_naming_a_field_of_a_bad_type_is_still_generated() {
        let text = "version: 1\nconnectors:\n  salesforce:\n    extra:\n      instance_url: URL\n    api:\n      base_url: \"{instance_url}/services/data/v60.0\"\n";
        assert!(manifest::parse(text).is_err());
        let recovered = recover(text).unwrap();
        let salesforce = &recovered.connectors[0];
        assert_eq!(ids_and_fields(&recovered), [("salesforce".to_owned(), vec!["instance_url".to_owned()])]);
        assert!(salesforce.api.is_some(), "Salesforce::api is generated: the user sees one error");
    }

    #[test]
    fn a_bad_key_or_connector_is_left_out() {
        let text = "version: 1\nconnectors:\n  slack:\n    descripton: typo\n  \"\": {}\n  github:\n    auth: oauth\n";
        let recovered = recover(text).unwrap();
        assert_eq!(ids_and_fields(&recovered), [("slack".to_owned(), vec![]), ("github".to_owned(), vec![])]);
        for hopeless in ["{", "version: 1\n", "version: 1\nconnectors: 3\n"] {
            assert!(recover(hopeless).is_none(), "{hopeless:?}");
        }
    }
}
