fastn_auth::connectors!("tests/ui/manifests/api_optional_placeholder.yaml");

fn main() {}
