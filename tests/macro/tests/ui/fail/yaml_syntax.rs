fastn_auth::connectors!("tests/ui/manifests/yaml_syntax.yaml");

fn main() {}
