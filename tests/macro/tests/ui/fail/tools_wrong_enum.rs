// An enum parameter takes only the schema's values.
mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/tools.yaml");
}

fn main() {
    let _ = fastn::GoogleSheetsAppendValuesQuery { value_input_option: "RAW" };
}
