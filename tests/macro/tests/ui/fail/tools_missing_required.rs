// A required parameter left out is a compile error, not a 400 at run time.
mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/tools.yaml");
}

fn main() {
    let _ = fastn::SlackSendMessage { channel: "C1".into(), thread_ts: None, unfurl_links: None };
}
