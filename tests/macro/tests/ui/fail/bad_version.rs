fastn_auth::connectors!("tests/ui/manifests/bad_version.yaml");

fn main() {}
