fastn_auth::connectors!("tests/ui/manifests/common_field.yaml");

fn main() {}
