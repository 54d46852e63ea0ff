fastn_auth::connectors!("tests/ui/manifests/duplicate_name.yaml");

fn main() {}
