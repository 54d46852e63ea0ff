//! What `connectors!` generates, compiled and used as a user's crate uses it: a module per
//! manifest. The macro's errors are trybuild's cases (`ui.rs`); these cases compile, so they
//! are an ordinary test target, built with the rest of the workspace, and trybuild's project
//! only checks its cases (no code generated for its dependencies, nothing linked).

mod clash_resolved_by_name;
mod naming_edge_cases;
mod typed_flow;
mod typed_tools;
