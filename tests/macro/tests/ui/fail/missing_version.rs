fastn_auth::connectors!("tests/ui/manifests/missing_version.yaml");

fn main() {}
