fastn_auth::connectors!("tests/ui/manifests/api_not_absolute.yaml");

fn main() {}
