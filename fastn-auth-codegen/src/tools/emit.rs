//! The items of the selected tools: per tool an input type (and the types nested in it)
//! implementing `fastn_auth::tools::ToolInput`; per connector a `…Tools` client with one
//! method per tool; once, `REGISTRY` (the selected part of the registry).
//! Each method is one line into `fastn_auth::tools::ToolClient::run`, its input checked by
//! `TOOL_CHECKS` (`fastn_auth_agent::TypedChecks` over `REGISTRY`): a crate whose manifest
//! selects tools depends on `fastn-auth-agent`.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Selected;
use super::schema::{Def, EnumDef, FieldDef, StructDef, Ty, Types, doc_text};
use crate::manifest::Manifest;
use crate::naming;
use fastn_auth_rules::registry::{Grouping, RegistryTool};

/// Methods of a generated `…Tools` that a tool's method may not take.
const RESERVED_METHODS: [&str; 5] = ["tenant_id", "connection_id", "agent_id", "client", "tools"];

/// The tools' items; `registry_path` is the registry's absolute path, tracked so that cargo
/// rebuilds when it changes.
pub(crate) fn tools(
    manifest: &Manifest,
    selected: &[Selected<'_>],
    registry_path: Option<&str>,
) -> TokenStream {
    let mut names: HashSet<String> =
        ["ConnectorId".to_owned(), "MANIFEST".to_owned(), "REGISTRY".to_owned(), "TOOL_CHECKS".to_owned()]
            .into();
    for spec in &manifest.connectors {
        names.extend([spec.name.clone(), format!("{}Extra", spec.name), format!("{}Tools", spec.name)]);
    }
    let mut types = Types::new(&mut names);
    let mut impls = Vec::new();
    let clients: Vec<TokenStream> =
        selected.iter().map(|s| connector_tools(manifest, s, &mut types, &mut impls)).collect();
    let defs = types.defs.iter().map(def);
    let track = registry_path.map(|path| quote! { const _: &[u8] = ::core::include_bytes!(#path); });
    let registry = super::selected_registry(selected).to_json().to_string();
    quote! {
        #track
        /// The tools the manifest selects, as a registry (Fastn's `.fastn/registry.json`
        /// format): for a language model, `fastn_auth_agent::ToolSet::from_json(REGISTRY)`;
        /// for the emulator, `MockServer::builder().registry(REGISTRY)`.
        pub const REGISTRY: &str = #registry;

        /// The check of every typed call's input against its tool's schema in `REGISTRY`,
        /// before anything is sent (the check a model's calls get).
        pub static TOOL_CHECKS: ::fastn_auth_agent::TypedChecks = ::fastn_auth_agent::TypedChecks::new(REGISTRY);

        #(#clients)*
        #(#defs)*
        #(#impls)*
    }
}

/// `SlackTools` and `Slack::tools`, the input types of its tools added to `types`.
fn connector_tools(
    manifest: &Manifest,
    selected: &Selected<'_>,
    types: &mut Types<'_>,
    impls: &mut Vec<TokenStream>,
) -> TokenStream {
    let spec = &manifest.connectors[selected.connector];
    let connector = naming::ident(&spec.name);
    let client = format_ident!("{}Tools", spec.name);
    let doc = format!(
        "The Fastn tools of `{}` the manifest selects, for one tenant: one method per tool, each \
         `.send().await` giving a `fastn_auth::ToolOutput`.",
        spec.id
    );
    let mut methods_taken: HashSet<String> = RESERVED_METHODS.iter().map(|name| (*name).to_owned()).collect();
    let methods = selected.tools.iter().map(|tool| {
        let (input, spec_impl) = input_type(&spec.name, selected, tool, types);
        impls.push(spec_impl);
        let output = output_type(&spec.name, selected, tool, types);
        let wanted = naming::field_name(&tool.key).unwrap_or_else(|| "tool".to_owned());
        let base =
            if RESERVED_METHODS.contains(&wanted.as_str()) { format!("{wanted}_tool") } else { wanted };
        let mut method = base.clone();
        let mut n = 2;
        while !methods_taken.insert(method.clone()) {
            method = format!("{base}_{n}");
            n += 1;
        }
        let method = naming::ident(&method);
        let input = format_ident!("{input}");
        let mut doc = tool_doc(&spec.id, tool);
        if let Some(output) = output {
            doc.push_str(&format!(
                "\n\nIts answer's body is a `{output}`: `.send().await?.typed::<{output}>()`."
            ));
        }
        quote! {
            #[doc = #doc]
            pub fn #method(&self, input: #input) -> ::fastn_auth::tools::ToolCall {
                self.0.run(&input, &TOOL_CHECKS)
            }
        }
    });
    let methods: Vec<TokenStream> = methods.collect();
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        pub struct #client(::fastn_auth::ToolClient);

        impl #client {
            /// The tenant the tools run for.
            pub fn tenant_id(self, tenant_id: impl ::core::convert::Into<::std::string::String>) -> Self {
                Self(self.0.tenant_id(tenant_id))
            }

            /// A specific connection of the tenant.
            pub fn connection_id(self, connection_id: impl ::core::convert::Into<::std::string::String>) -> Self {
                Self(self.0.connection_id(connection_id))
            }

            /// The agent the calls are made as (default: the client's).
            pub fn agent_id(self, agent_id: impl ::core::convert::Into<::std::string::String>) -> Self {
                Self(self.0.agent_id(agent_id))
            }

            /// The untyped client underneath.
            pub fn client(&self) -> &::fastn_auth::ToolClient {
                &self.0
            }

            #(#methods)*
        }

        impl #connector {
            /// The Fastn tools of this connector the manifest selects (`tools:`); set the
            /// tenant, then call one.
            pub fn tools(client: &::fastn_auth::FastnAuth) -> #client {
                #client(client.tools(Self::ID))
            }
        }
    }
}

/// Adds the input type of `tool` (and its nested types) to `types`: its name, and its
/// `ToolInput` impl.
fn input_type(
    connector: &str,
    selected: &Selected<'_>,
    tool: &RegistryTool,
    types: &mut Types<'_>,
) -> (String, TokenStream) {
    let tool_name = naming::type_name(&tool.key).unwrap_or_else(|| "Tool".to_owned());
    let name = types.claim(&format!("{connector}{tool_name}"));
    let doc = format!("The input of {}.", tool_doc(&selected.registry.key, tool));
    let none = quote! { ::core::option::Option::None };
    let group = match (tool.grouping(), &tool.input_schema) {
        (Grouping::Unwrapped(group), Some(schema)) => {
            types.object(name.clone(), doc, &schema["properties"][group]);
            quote! { ::core::option::Option::Some(#group) }
        }
        (Grouping::AsIs, Some(schema)) => {
            types.object(name.clone(), doc, schema);
            none
        }
        _ => {
            let body = FieldDef {
                ident: "body".into(),
                wire: "body".into(),
                ty: Ty::Object,
                required: true,
                doc:
                    "`body` on the wire (required). Any JSON object: the registry gives this tool no schema."
                        .into(),
            };
            types.defs.push(Def::Struct(StructDef {
                name: name.clone(),
                doc,
                fields: vec![body],
                required_order: vec![0],
                rest: None,
            }));
            none
        }
    };
    let ident = format_ident!("{name}");
    let (connector_id, tool_id, key) = (&selected.registry.id, &tool.id, &tool.key);
    let spec = quote! {
        impl ::fastn_auth::tools::ToolInput for #ident {
            const SPEC: ::fastn_auth::tools::ToolSpec = ::fastn_auth::tools::ToolSpec {
                connector_id: #connector_id,
                tool_id: #tool_id,
                key: #key,
                group: #group,
            };
        }
    };
    (name, spec)
}

/// Adds the type of what `tool` answers to `types`, when its `outputSchema` says more than
/// "an object": its name.
fn output_type(
    connector: &str,
    selected: &Selected<'_>,
    tool: &RegistryTool,
    types: &mut Types<'_>,
) -> Option<String> {
    let schema = tool.output_schema.as_ref()?;
    let described =
        schema.get("properties").and_then(serde_json::Value::as_object).is_some_and(|p| !p.is_empty());
    if !described || schema.get("type").is_some_and(|kind| kind != "object") {
        return None;
    }
    let tool_name = naming::type_name(&tool.key).unwrap_or_else(|| "Tool".to_owned());
    let name = types.claim(&format!("{connector}{tool_name}Output"));
    let doc = format!(
        "The body of what {} answers (its `outputSchema`); fields it does not name are kept in \
         `other_fields`.",
        tool_doc(&selected.registry.key, tool)
    );
    types.output = true;
    types.object(name.clone(), doc, schema);
    types.output = false;
    Some(name)
}

fn tool_doc(connector: &str, tool: &RegistryTool) -> String {
    let what = tool.description.as_deref().map(doc_text).unwrap_or_default();
    let which = format!(
        "the Fastn tool `{}` of `{connector}` (tool id `{}`)",
        tool.key,
        fastn_auth_rules::shown_id(&tool.id)
    );
    if what.is_empty() { which } else { format!("{which}: {what}") }
}

fn def(def: &Def) -> TokenStream {
    match def {
        Def::Struct(def) => struct_def(def),
        Def::Enum(def) => enum_def(def),
    }
}

fn struct_def(def: &StructDef) -> TokenStream {
    let name = format_ident!("{}", def.name);
    let doc = &def.doc;
    let all_optional = def.fields.iter().all(|field| !field.required);
    let default = all_optional.then(|| quote! { ::core::default::Default, });
    let fields = def.fields.iter().map(|field| {
        let ident = naming::ident(&field.ident);
        let ty = ty(&field.ty);
        let doc = &field.doc;
        let ty = if field.required {
            ty
        } else {
            quote! { ::core::option::Option<#ty> }
        };
        quote! { #[doc = #doc] pub #ident: #ty }
    });
    let written = |required: bool| {
        let fields = def.fields.iter().filter(move |field| field.required == required);
        fields.map(|field| {
            let ident = naming::ident(&field.ident);
            let wire = &field.wire;
            quote! { (#wire, &self.#ident) }
        })
    };
    let (required_values, optional_values) = (written(true), written(false));
    let wires = def.fields.iter().map(|field| &field.wire);
    let idents: Vec<_> = def.fields.iter().map(|field| naming::ident(&field.ident)).collect();
    let taken = nested(idents.iter().map(|ident| quote! { #ident }).collect());
    let map =
        quote! { ::fastn_auth::serde_json::Map<::std::string::String, ::fastn_auth::serde_json::Value> };
    let rest = def.rest.as_ref().map(|rest| naming::ident(rest));
    let rest_field = rest.as_ref().map(|rest| {
        quote! {
            /// The fields the schema does not name, as they came.
            pub #rest: #map,
        }
    });
    let (rest_read, rest_written) = match &rest {
        Some(rest) => (quote! { #rest }, quote! { ::core::option::Option::Some(&self.#rest) }),
        None => (quote! { _ }, quote! { ::core::option::Option::None }),
    };
    let rest_built = rest.as_ref().map(|rest| quote! { #rest, });
    let rest_init = rest.as_ref().map(|rest| quote! { #rest: ::fastn_auth::serde_json::Map::new(), });
    // In the schema's `required` order, as its author listed them.
    let required: Vec<&FieldDef> = def.required_order.iter().map(|&at| &def.fields[at]).collect();
    let params = required.iter().map(|field| {
        let ident = naming::ident(&field.ident);
        let ty = ty(&field.ty);
        quote! { #ident: impl ::core::convert::Into<#ty> }
    });
    let inits = def.fields.iter().map(|field| {
        let ident = naming::ident(&field.ident);
        if field.required {
            quote! { #ident: #ident.into() }
        } else {
            quote! { #ident: ::core::option::Option::None }
        }
    });
    let setters = def.fields.iter().filter(|field| !field.required).map(|field| {
        let ident = naming::ident(&field.ident);
        // A field named `new` would take the constructor's name.
        let setter = if field.ident == "new" { format_ident!("with_new") } else { ident.clone() };
        let ty = ty(&field.ty);
        let doc = format!("With `{}` set.", fastn_auth_rules::escape(&field.wire, 200));
        quote! {
            #[doc = #doc]
            #[must_use]
            pub fn #setter(mut self, value: impl ::core::convert::Into<#ty>) -> Self {
                self.#ident = ::core::option::Option::Some(value.into());
                self
            }
        }
    });
    let new_doc = if required.is_empty() {
        "A value with every (optional) field unset; set them with the methods named after them.".to_owned()
    } else {
        let names: Vec<String> = required.iter().map(|field| format!("`{}`", field.ident)).collect();
        let optional = if required.len() < def.fields.len() {
            "; set optional ones with the methods named after them"
        } else {
            ""
        };
        format!("A value with its required fields ({}){optional}.", names.join(", "))
    };
    let deserialize = deserialize_impl(&name);
    quote! {
        #[doc = #doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #default)]
        #[non_exhaustive]
        pub struct #name { #(#fields,)* #rest_field }

        impl #name {
            #[doc = #new_doc]
            pub fn new(#(#params),*) -> Self {
                Self { #(#inits,)* #rest_init }
            }
            #(#setters)*
        }

        impl ::fastn_auth::generated::serde::Serialize for #name {
            fn serialize<S: ::fastn_auth::generated::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                ::fastn_auth::tools::write(
                    serializer,
                    &[#(#required_values),*],
                    &[#(#optional_values),*],
                    #rest_written,
                )
            }
        }

        impl ::fastn_auth::tools::FromToolValue for #name {
            fn from_value(
                value: ::fastn_auth::serde_json::Value,
            ) -> ::core::result::Result<Self, ::fastn_auth::tools::ValueError> {
                ::fastn_auth::tools::read(value, &[#(#wires),*], |#taken, #rest_read| Self { #(#idents,)* #rest_built })
            }
        }

        #deserialize
    }
}

/// The tuple pattern of `items` that `fastn_auth::tools::read` fills: flat up to 12, nested
/// in tuples of at most 12 beyond (the runtime's `TakeFields` has tuples up to 12).
fn nested(items: Vec<TokenStream>) -> TokenStream {
    const MOST: usize = 12;
    if items.len() <= MOST {
        return quote! { (#(#items,)*) };
    }
    nested(items.chunks(MOST).map(|chunk| nested(chunk.to_vec())).collect())
}

/// serde's `Deserialize` of a generated type, over its `FromToolValue` (the wire names,
/// unknown fields ignored).
fn deserialize_impl(name: &proc_macro2::Ident) -> TokenStream {
    quote! {
        impl<'de> ::fastn_auth::generated::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::fastn_auth::generated::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                ::fastn_auth::tools::deserialize(deserializer)
            }
        }
    }
}

fn enum_def(def: &EnumDef) -> TokenStream {
    let name = format_ident!("{}", def.name);
    let doc =
        if def.doc.is_empty() { "One of the values the schema allows.".to_owned() } else { def.doc.clone() };
    let variants: Vec<_> = def.variants.iter().map(|(variant, _)| naming::ident(variant)).collect();
    let docs = def.variants.iter().map(|(_, wire)| format!("`{}`", fastn_auth_rules::escape(wire, 200)));
    let wires = def.variants.iter().map(|(_, wire)| wire);
    let wires_again = def.variants.iter().map(|(_, wire)| wire);
    let variants_again = variants.clone();
    let listed: Vec<String> =
        def.variants.iter().map(|(_, wire)| format!("\"{}\"", fastn_auth_rules::escape(wire, 60))).collect();
    let expected = format!("one of {}", listed.join(", "));
    let deserialize = deserialize_impl(&name);
    quote! {
        #[doc = #doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::cmp::PartialEq, ::core::cmp::Eq)]
        pub enum #name { #(#[doc = #docs] #variants,)* }

        impl #name {
            /// The value as the schema writes it.
            pub const fn as_str(self) -> &'static str {
                match self { #(Self::#variants => #wires,)* }
            }
        }

        impl ::fastn_auth::generated::serde::Serialize for #name {
            fn serialize<S: ::fastn_auth::generated::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl ::fastn_auth::tools::FromToolValue for #name {
            fn from_value(
                value: ::fastn_auth::serde_json::Value,
            ) -> ::core::result::Result<Self, ::fastn_auth::tools::ValueError> {
                match value.as_str() {
                    #(::core::option::Option::Some(#wires_again) => ::core::result::Result::Ok(Self::#variants_again),)*
                    _ => ::core::result::Result::Err(::fastn_auth::tools::ValueError::expected(#expected)),
                }
            }
        }

        #deserialize
    }
}

fn ty(ty: &Ty) -> TokenStream {
    match ty {
        Ty::String => quote! { ::std::string::String },
        Ty::Integer => quote! { i64 },
        Ty::Number => quote! { f64 },
        Ty::Boolean => quote! { bool },
        Ty::Json(_) => quote! { ::fastn_auth::serde_json::Value },
        Ty::Object => {
            quote! { ::fastn_auth::serde_json::Map<::std::string::String, ::fastn_auth::serde_json::Value> }
        }
        Ty::Array(item) => {
            let item = self::ty(item);
            quote! { ::std::vec::Vec<#item> }
        }
        Ty::Named(name) => {
            let name = format_ident!("{name}");
            quote! { #name }
        }
    }
}
