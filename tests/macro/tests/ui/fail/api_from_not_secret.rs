fastn_auth::connectors!("tests/ui/manifests/api_from_not_secret.yaml");

fn main() {}
