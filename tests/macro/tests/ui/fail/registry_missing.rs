mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/registry_missing.yaml");
}

fn main() {}
