//! The compile-time tests of `fastn_auth::connectors!`, in `tests/`: `expand` compiles what
//! the macro generates from the root `connectors.yaml` and the valid manifests of
//! `tests/ui/manifests`, and uses it as a user's crate would; `ui` (trybuild) checks every
//! error it emits, word for word. This library holds the tools of
//! `tests/ui/manifests/tools.yaml`, for the case that builds one from another crate.

/// What `connectors!` generates for `tests/ui/manifests/tools.yaml`.
pub mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/tools.yaml");
}
