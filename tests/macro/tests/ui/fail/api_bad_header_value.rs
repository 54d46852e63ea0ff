fastn_auth::connectors!("tests/ui/manifests/api_bad_header_value.yaml");

fn main() {}
