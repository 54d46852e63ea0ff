mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/tools_unknown_connector.yaml");
}

fn main() {}
