//! A field the manifest does not declare is a compile error at the use site.

fastn_auth::connectors!("../../connectors.yaml");

fn team(extra: &SlackExtra) -> &str {
    &extra.team
}

fn main() {}
