mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/registry_bad_value.yaml");
}

fn main() {}
