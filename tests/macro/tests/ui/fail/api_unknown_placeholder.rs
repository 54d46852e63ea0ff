fastn_auth::connectors!("tests/ui/manifests/api_unknown_placeholder.yaml");

fn main() {}
