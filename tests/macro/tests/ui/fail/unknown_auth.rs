fastn_auth::connectors!("tests/ui/manifests/unknown_auth.yaml");

fn main() {}
