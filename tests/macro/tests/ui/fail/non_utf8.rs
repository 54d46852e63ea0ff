fastn_auth::connectors!("tests/ui/manifests/non_utf8.yaml");

fn main() {}
