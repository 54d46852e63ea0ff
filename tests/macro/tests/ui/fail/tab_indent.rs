fastn_auth::connectors!("tests/ui/manifests/tab_indent.yaml");

fn main() {}
