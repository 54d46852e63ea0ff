mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/registry_too_deep.yaml");
}

fn main() {}
