fastn_auth::connectors!("tests/ui/manifests/unknown_type.yaml");

fn main() {}
