fastn_auth::connectors!("tests/ui/manifests/api_host_header.yaml");

fn main() {}
