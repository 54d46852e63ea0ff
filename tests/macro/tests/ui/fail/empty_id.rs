fastn_auth::connectors!("tests/ui/manifests/empty_id.yaml");

fn main() {}
