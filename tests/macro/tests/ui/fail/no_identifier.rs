fastn_auth::connectors!("tests/ui/manifests/no_identifier.yaml");

fn main() {}
