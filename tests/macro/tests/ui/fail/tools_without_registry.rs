mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/tools_without_registry.yaml");
}

fn main() {}
