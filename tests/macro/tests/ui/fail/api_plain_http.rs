fastn_auth::connectors!("tests/ui/manifests/api_plain_http.yaml");

fn main() {}
