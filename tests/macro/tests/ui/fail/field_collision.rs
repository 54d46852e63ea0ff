fastn_auth::connectors!("tests/ui/manifests/field_collision.yaml");

fn main() {}
