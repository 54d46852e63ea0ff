// A typo in the type of a field the API base URL is made from: the manifest's error, and
// nothing else — `Salesforce::api` is still generated, the field read as a string.
mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/one_typo_template.yaml");
}

fn api(client: &fastn_auth::FastnAuth) -> fastn_auth::ApiClient {
    fastn::Salesforce::api(client)
}

fn main() {
    let _ = api;
}
