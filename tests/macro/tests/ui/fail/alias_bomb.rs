fastn_auth::connectors!("tests/ui/manifests/alias_bomb.yaml");

fn main() {}
