fastn_auth::connectors!("tests/ui/manifests/bad_name.yaml");

fn main() {}
