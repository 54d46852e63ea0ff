fastn_auth::connectors!("tests/ui/manifests/unknown_key.yaml");

fn main() {}
