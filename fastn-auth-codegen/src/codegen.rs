//! Rust items for a validated manifest: per connector a unit type, its `Extra` struct and
//! one-line forwards into `fastn_auth`'s generic code; once, the `ConnectorId` enum.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::manifest::{ApiSpec, Auth, ConnectorSpec, FieldSpec, FieldType, Manifest, TokenPlacement};
use crate::naming;

/// Everything the manifest generates; `tracked` is the manifest's absolute path, included
/// as `MANIFEST` (so that cargo rebuilds when it changes, and the emulator can be given it).
pub fn generate(manifest: &Manifest, tracked: Option<&str>) -> TokenStream {
    // Included, the file is also tracked: cargo rebuilds the caller when it changes.
    let track = tracked.map(|path| {
        quote! {
            /// The manifest these connectors were generated from, as the macro read it:
            /// give it to the emulator (`MockServer::builder().connectors(MANIFEST)`).
            pub const MANIFEST: &str = ::core::include_str!(#path);
        }
    });
    let connectors = manifest.connectors.iter().map(connector);
    let ids = connector_id_enum(&manifest.connectors);
    quote! { #track #(#connectors)* #ids }
}

fn connector(spec: &ConnectorSpec) -> TokenStream {
    let name = naming::ident(&spec.name);
    let extra = format_ident!("{}Extra", spec.name);
    let id = &spec.id;
    let doc = spec.description.clone().unwrap_or_else(|| format!("The Fastn connector `{id}`."));
    let auth = format_ident!(
        "{}",
        match spec.auth {
            Auth::Oauth2 => "OAuth2",
            Auth::ApiKey => "ApiKey",
            Auth::Basic => "Basic",
            Auth::Custom => "Custom",
        }
    );
    let default_org = spec.org_id.as_ref().map(|org| {
        quote! {
            fn default_org(&self) -> ::core::option::Option<&str> {
                ::core::option::Option::Some(#org)
            }
        }
    });
    let (api_spec, api_fn) = api_items(spec);
    let extra_items = extra_type(spec, &extra);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct #name;

        impl ::fastn_auth::Connector for #name {
            type Extra = #extra;

            fn id(&self) -> &str {
                #id
            }

            fn auth(&self) -> ::fastn_auth::connector::AuthKind {
                ::fastn_auth::connector::AuthKind::#auth
            }

            #default_org

            #api_spec
        }

        impl #name {
            /// The connector id used on the wire.
            pub const ID: &'static str = #id;

            /// Starts an authentication flow for this connector; `.send().await` it.
            pub fn connect(client: &::fastn_auth::FastnAuth) -> ::fastn_auth::ConnectRequest<'_, Self> {
                client.connect_with(Self)
            }

            /// Fetches the credentials of an existing connection of this connector.
            pub fn credentials(client: &::fastn_auth::FastnAuth) -> ::fastn_auth::CredentialsRequest<'_, Self> {
                client.credentials_with(Self)
            }

            /// Continues a flow of this connector from its handle.
            ///
            /// # Errors
            /// `ErrorKind::Config` when the handle belongs to another connector.
            pub fn resume(
                client: &::fastn_auth::FastnAuth,
                handle: ::fastn_auth::SessionHandle,
            ) -> ::fastn_auth::Result<::fastn_auth::AuthSession<Self>> {
                client.resume_with(Self, handle)
            }

            #api_fn
        }

        #extra_items
    }
}

/// A connector's `api_spec` (for its `Connector` impl) and `api()` (for its inherent impl),
/// when the manifest gives it an `api:` block; else nothing.
fn api_items(spec: &ConnectorSpec) -> (TokenStream, TokenStream) {
    match &spec.api {
        Some(api) => {
            let built = api_spec(api);
            (
                quote! {
                    fn api_spec(&self) -> ::core::option::Option<::fastn_auth::connector::ApiSpec> {
                        ::core::option::Option::Some(#built)
                    }
                },
                quote! {
                    /// A client of this connector's API (`api:` in the manifest); set the
                    /// tenant, then `.get(path).send().await`.
                    pub fn api(client: &::fastn_auth::FastnAuth) -> ::fastn_auth::ApiClient {
                        client.api_with(Self)
                    }
                },
            )
        }
        None => (TokenStream::new(), TokenStream::new()),
    }
}

/// A connector's `<Name>Extra`: its typed credential fields and how they are read.
fn extra_type(spec: &ConnectorSpec, extra: &Ident) -> TokenStream {
    let extra_doc = format!("The credential fields specific to `{}`.", spec.id);
    let declarations = spec.extra.iter().map(|field| {
        let ident = naming::ident(&field.field);
        let ty = rust_type(&field.ty);
        let ty = if field.optional {
            quote! { ::core::option::Option<#ty> }
        } else {
            ty
        };
        let doc = field_doc(field);
        quote! { #[doc = #doc] pub #ident: #ty }
    });
    let reads = spec.extra.iter().map(|field| {
        let ident = naming::ident(&field.field);
        let key = &field.key;
        let take = if field.optional { quote!(optional) } else { quote!(required) };
        quote! { #ident: fields.#take(#key)? }
    });
    let fields = if spec.extra.is_empty() { format_ident!("_fields") } else { format_ident!("fields") };
    quote! {
        #[doc = #extra_doc]
        #[derive(Debug, Clone)]
        pub struct #extra { #(#declarations,)* }

        impl ::fastn_auth::Extra for #extra {
            fn from_fields(
                #fields: &mut ::fastn_auth::credentials::Fields,
            ) -> ::core::result::Result<Self, ::fastn_auth::wire::DecodeError> {
                ::core::result::Result::Ok(Self { #(#reads,)* })
            }

            fn fmt_redacted(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(self, f)
            }
        }
    }
}

/// The `ApiSpec` of an `api:` block, built from static text.
fn api_spec(api: &ApiSpec) -> TokenStream {
    let base = api.base_url.as_ref();
    let headers = api.headers.iter().map(|(name, value)| {
        let (name, value) = (name.as_ref(), value.as_ref());
        quote! { (#name, #value) }
    });
    let placement = quote! { ::fastn_auth::connector::TokenPlacement };
    let token = match &api.token {
        TokenPlacement::Bearer => quote! { #placement::Bearer },
        TokenPlacement::Header { name, prefix, from } => {
            let (name, prefix, from) = (name.as_ref(), prefix.as_ref(), from.as_ref());
            quote! { #placement::header(#name, #prefix, #from) }
        }
        TokenPlacement::Query { name, from } => {
            let (name, from) = (name.as_ref(), from.as_ref());
            quote! { #placement::query(#name, #from) }
        }
    };
    quote! { ::fastn_auth::connector::ApiSpec::from_static(#base, &[#(#headers),*], #token) }
}

fn field_doc(field: &FieldSpec) -> String {
    let presence = if field.optional { "optional" } else { "required" };
    let wire = format!("`{}` on the wire ({}, {presence}).", field.key, field.ty);
    match &field.description {
        Some(description) => format!("{description}\n\n{wire}"),
        None => wire,
    }
}

fn rust_type(ty: &FieldType) -> TokenStream {
    match ty {
        FieldType::String => quote! { ::std::string::String },
        FieldType::Secret => quote! { ::fastn_auth::SecretString },
        FieldType::Integer => quote! { i64 },
        FieldType::Number => quote! { f64 },
        FieldType::Boolean => quote! { bool },
        FieldType::Url => quote! { ::fastn_auth::Url },
        FieldType::Json => quote! { ::fastn_auth::serde_json::Value },
        FieldType::List(inner) => {
            let inner = rust_type(inner);
            quote! { ::std::vec::Vec<#inner> }
        }
    }
}

fn connector_id_enum(connectors: &[ConnectorSpec]) -> TokenStream {
    let count = connectors.len();
    let variants: Vec<_> = connectors.iter().map(|spec| naming::ident(&spec.name)).collect();
    let docs = connectors.iter().map(|spec| format!("`{}`", spec.id));
    let ids = connectors.iter().map(|spec| &spec.id);
    quote! {
        /// The connectors of the manifest, by wire id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ConnectorId { #(#[doc = #docs] #variants,)* }

        impl ConnectorId {
            /// Every connector of the manifest, in manifest order.
            pub const ALL: [ConnectorId; #count] = [#(ConnectorId::#variants),*];

            /// The connector id used on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { #(ConnectorId::#variants => #ids,)* }
            }
        }

        impl ::core::fmt::Display for ConnectorId {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for ConnectorId {
            type Err = ::fastn_auth::Error;

            fn from_str(id: &str) -> ::fastn_auth::Result<Self> {
                ::fastn_auth::generated::parse_connector_id(id, &Self::ALL, Self::as_str)
            }
        }
    }
}
