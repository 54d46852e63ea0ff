fastn_auth::connectors!("tests/ui/manifests/api_unknown_from.yaml");

fn main() {}
