fastn_auth::connectors!("tests/ui/manifests/api_not_http.yaml");

fn main() {}
