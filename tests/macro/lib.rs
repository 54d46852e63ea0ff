//! The compile-time tests of `fastn_auth::connectors!`, in `tests/`: `expand` compiles what
//! the macro generates from the root `connectors.yaml` and the valid manifests of
//! `tests/ui/manifests`, and uses it as a user's crate would; `ui` (trybuild) checks every
//! error it emits, word for word. This library holds nothing: a package needs a target
//! besides its tests.
