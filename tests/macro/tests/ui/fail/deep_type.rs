fastn_auth::connectors!("tests/ui/manifests/deep_type.yaml");

fn main() {}
