fastn_auth::connectors!("tests/ui/manifests/api_bad_header.yaml");

fn main() {}
