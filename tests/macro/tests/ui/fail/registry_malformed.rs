mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/registry_malformed.yaml");
}

fn main() {}
