fastn_auth::connectors!("tests/ui/manifests/does-not-exist.yaml");

fn main() {}
