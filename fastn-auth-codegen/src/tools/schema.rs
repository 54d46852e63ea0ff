//! A tool's input schema as Rust types: structs for objects with properties, enums for
//! string enums, `String`/`i64`/`f64`/`bool`/`Vec<T>` for the rest, and
//! `serde_json::Value` (said in the field's doc) for what the schema language allows beyond
//! that. Names are made valid and unique here; the wire names are kept for serde.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::naming;

/// The most variants of a generated enum; a larger `enum` is a `String`.
const MAX_VARIANTS: usize = 256;

/// A Rust type of a schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    String,
    Integer,
    Number,
    Boolean,
    /// Any JSON, and why the schema gave no narrower type.
    Json(&'static str),
    /// Any JSON object (`serde_json::Map`).
    Object,
    Array(Box<Ty>),
    /// A generated struct or enum, by name.
    Named(String),
}

/// A generated struct.
#[derive(Debug, Clone)]
pub(crate) struct StructDef {
    pub(crate) name: String,
    pub(crate) doc: String,
    pub(crate) fields: Vec<FieldDef>,
    /// The required fields (indices into `fields`) in the order the schema's `required`
    /// lists them: the constructor's parameters.
    pub(crate) required_order: Vec<usize>,
    /// The field keeping the fields the schema does not name (an output's), by its Rust name.
    pub(crate) rest: Option<String>,
}

/// One field of a generated struct.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    /// The Rust name (raw identifiers are made at generation).
    pub(crate) ident: String,
    pub(crate) wire: String,
    pub(crate) ty: Ty,
    pub(crate) required: bool,
    pub(crate) doc: String,
}

/// A generated enum of strings.
#[derive(Debug, Clone)]
pub(crate) struct EnumDef {
    pub(crate) name: String,
    pub(crate) doc: String,
    /// `(Rust name, wire value)`.
    pub(crate) variants: Vec<(String, String)>,
}

/// A generated type.
#[derive(Debug, Clone)]
pub(crate) enum Def {
    Struct(StructDef),
    Enum(EnumDef),
}

/// The types generated for a module, and the names they took.
pub(crate) struct Types<'n> {
    pub(crate) defs: Vec<Def>,
    names: &'n mut HashSet<String>,
    /// Types of what a tool answers, not of what it is given: unknown fields are kept (a
    /// provider adds some), a string `enum` is a `String` (a provider adds values).
    pub(crate) output: bool,
}

impl<'n> Types<'n> {
    /// Types whose names avoid every name in `names` (which they are added to).
    pub(crate) fn new(names: &'n mut HashSet<String>) -> Self {
        Types { defs: Vec::new(), names, output: false }
    }

    /// A type name from `wanted`, made unique with a number when taken.
    pub(crate) fn claim(&mut self, wanted: &str) -> String {
        claim(self.names, wanted)
    }

    /// The struct `name` of an object schema's properties (`doc` first in its doc).
    pub(crate) fn object(&mut self, name: String, doc: String, schema: &Value) -> String {
        let properties = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let required: HashSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut idents = HashSet::new();
        let mut fields = Vec::with_capacity(properties.len());
        for (wire, property) in &properties {
            let ident = field_ident(wire, &mut idents);
            let hint = format!("{name}{}", naming::type_name(wire).unwrap_or_else(|| "Field".to_owned()));
            let ty = self.ty(&hint, property);
            let required = required.contains(wire.as_str());
            fields.push(FieldDef {
                doc: field_doc(wire, property, &ty, required),
                ident,
                wire: wire.clone(),
                ty,
                required,
            });
        }
        let listed =
            schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
        let mut required_order: Vec<usize> =
            listed.filter_map(|wire| fields.iter().position(|field| field.wire == wire)).collect();
        required_order.dedup();
        let rest = self.output.then(|| field_ident("other_fields", &mut idents));
        self.defs.push(Def::Struct(StructDef { name: name.clone(), doc, fields, required_order, rest }));
        name
    }

    /// The type of `schema`; nested objects and enums become types named from `hint`.
    fn ty(&mut self, hint: &str, schema: &Value) -> Ty {
        let Some(map) = schema.as_object() else { return Ty::Json("the schema is not an object") };
        for word in ["oneOf", "anyOf", "allOf", "$ref", "not", "if", "const"] {
            if map.contains_key(word) {
                return Ty::Json(match word {
                    "oneOf" | "anyOf" => "the schema is a union (`oneOf`/`anyOf`)",
                    "allOf" => "the schema combines schemas (`allOf`)",
                    "$ref" => "the schema is a reference (`$ref`)",
                    _ => "the schema uses a keyword Rust types cannot express",
                });
            }
        }
        let (kind, nullable) = match map.get("type") {
            Some(Value::String(kind)) => (Some(kind.as_str()), false),
            Some(Value::Array(kinds)) => {
                let kinds: Vec<&str> =
                    kinds.iter().filter_map(Value::as_str).filter(|k| *k != "null").collect();
                match kinds[..] {
                    [one] => (Some(one), true),
                    _ => return Ty::Json("the schema allows several types"),
                }
            }
            None => (None, false),
            Some(_) => return Ty::Json("the schema's `type` is not a name"),
        };
        // A nullable value is sent as absent: the field is optional either way.
        let _ = nullable;
        match (kind, map.get("enum")) {
            (Some("string") | None, Some(Value::Array(values))) => self.string_enum(hint, map, values),
            (Some("string"), _) => Ty::String,
            (Some("integer"), _) => Ty::Integer,
            (Some("number"), _) => Ty::Number,
            (Some("boolean"), _) => Ty::Boolean,
            (Some("array"), _) => match map.get("items") {
                Some(items @ Value::Object(_)) => Ty::Array(Box::new(self.ty(&format!("{hint}Item"), items))),
                _ => Ty::Array(Box::new(Ty::Json("the array's items have no single schema"))),
            },
            (Some("object") | None, _) if has_properties(map) => {
                let doc = map.get("description").and_then(Value::as_str).map(doc_text).unwrap_or_default();
                let name = self.claim(hint);
                Ty::Named(self.object(name, doc, schema))
            }
            (Some("object"), _) => Ty::Object,
            (None, _) => Ty::Json("the schema gives no type"),
            (Some(_), _) => Ty::Json("the schema's type is not one of JSON Schema's"),
        }
    }

    fn string_enum(&mut self, hint: &str, map: &Map<String, Value>, values: &[Value]) -> Ty {
        let strings: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        if strings.len() != values.len() || strings.is_empty() {
            return Ty::Json("the enum's values are not all strings");
        }
        if strings.len() > MAX_VARIANTS || self.output {
            return Ty::String;
        }
        let mut taken = HashSet::new();
        let variants = strings
            .iter()
            .enumerate()
            .map(|(at, value)| {
                let wanted = naming::type_name(&fastn_auth_rules::snake_case(value))
                    .unwrap_or_else(|| format!("V{at}"));
                (claim(&mut taken, &wanted), (*value).to_owned())
            })
            .collect();
        let name = self.claim(hint);
        let doc = map.get("description").and_then(Value::as_str).map(doc_text).unwrap_or_default();
        self.defs.push(Def::Enum(EnumDef { name: name.clone(), doc, variants }));
        Ty::Named(name)
    }
}

fn has_properties(map: &Map<String, Value>) -> bool {
    map.get("properties").and_then(Value::as_object).is_some_and(|properties| !properties.is_empty())
}

/// `wanted`, or `wanted2`, `wanted3`… when taken; claimed in `names`.
fn claim(names: &mut HashSet<String>, wanted: &str) -> String {
    let mut name = wanted.to_owned();
    let mut n = 2;
    while !names.insert(name.clone()) {
        name = format!("{wanted}{n}");
        n += 1;
    }
    name
}

/// A field name for wire key `wire`, unique among `taken`: snake_case, `field` when the key
/// has no letter or digit, a number appended when taken.
fn field_ident(wire: &str, taken: &mut HashSet<String>) -> String {
    let wanted = naming::field_name(wire).unwrap_or_else(|| "field".to_owned());
    let mut ident = wanted.clone();
    let mut n = 2;
    while !taken.insert(ident.clone()) {
        ident = format!("{wanted}_{n}");
        n += 1;
    }
    ident
}

/// Registry text as a doc paragraph: cut and trimmed (it is untrusted; as a string literal
/// in `#[doc]` it cannot end the comment).
pub(crate) fn doc_text(text: &str) -> String {
    let max = fastn_auth_rules::registry::MAX_DESCRIPTION_CHARS;
    let text: String = text.trim().chars().take(max).collect();
    text.lines().map(|line| fastn_auth_rules::escape(line, max)).collect::<Vec<_>>().join("\n")
}

fn field_doc(wire: &str, schema: &Value, ty: &Ty, required: bool) -> String {
    let presence = if required { "required" } else { "optional" };
    let mut doc = schema.get("description").and_then(Value::as_str).map(doc_text).unwrap_or_default();
    if !doc.is_empty() {
        doc.push_str("\n\n");
    }
    doc.push_str(&format!("`{}` on the wire ({presence}).", fastn_auth_rules::escape(wire, 200)));
    if let Ty::Json(why) = ty {
        doc.push_str(&format!(" Any JSON: {why}."));
    }
    if let Ty::Array(item) = ty
        && let Ty::Json(why) = item.as_ref()
    {
        doc.push_str(&format!(" Items are any JSON: {why}."));
    }
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn types(schema: Value) -> Vec<Def> {
        let mut names = HashSet::new();
        let mut types = Types::new(&mut names);
        types.object("Input".into(), String::new(), &schema);
        types.defs
    }

    fn fields(def: &Def) -> Vec<(String, String, Ty, bool)> {
        let Def::Struct(def) = def else { panic!("{def:?}") };
        def.fields.iter().map(|f| (f.ident.clone(), f.wire.clone(), f.ty.clone(), f.required)).collect()
    }

    #[test]
    fn names_are_made_valid_and_unique_and_wire_names_kept() {
        let defs = types(json!({"properties": {"from": {"type": "string"}, "async": {"type": "integer"},
            "1st": {"type": "boolean"}, "": {"type": "number"}, "a-b": {}, "a_b": {}, "self": {}},
            "required": ["from"]}));
        let idents: Vec<(String, String)> = fields(&defs[0]).into_iter().map(|(i, w, _, _)| (i, w)).collect();
        let expect = [
            ("field", ""),
            ("_1st", "1st"),
            ("a_b", "a-b"),
            ("a_b_2", "a_b"),
            ("async", "async"),
            ("from", "from"),
            ("self_", "self"),
        ];
        assert_eq!(idents, expect.map(|(i, w)| (i.to_owned(), w.to_owned())));
        assert!(fields(&defs[0]).iter().any(|(i, _, _, required)| i == "from" && *required));
    }

    #[test]
    fn nested_objects_enums_and_arrays_get_types_and_the_rest_json() {
        let defs = types(json!({"properties": {
            "contact": {"type": "object", "properties": {"email": {"type": "string"}}},
            "kind": {"type": "string", "enum": ["public_channel", "im", "Public channel"]},
            "rows": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "free": {"type": "object"},
            "maybe": {"type": ["integer", "null"]}}}));
        let top = fields(defs.last().unwrap());
        let ty = |name: &str| top.iter().find(|f| f.0 == name).unwrap().2.clone();
        assert_eq!(ty("contact"), Ty::Named("InputContact".into()));
        assert_eq!(ty("kind"), Ty::Named("InputKind".into()));
        assert_eq!(ty("rows"), Ty::Array(Box::new(Ty::Array(Box::new(Ty::String)))));
        assert!(matches!(ty("either"), Ty::Json(why) if why.contains("union")));
        assert_eq!((ty("free"), ty("maybe")), (Ty::Object, Ty::Integer));
        let Def::Enum(kind) = defs.iter().find(|d| matches!(d, Def::Enum(_))).unwrap() else {
            unreachable!()
        };
        let variants: Vec<&str> = kind.variants.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(variants, ["PublicChannel", "Im", "PublicChannel2"]);
    }
}
