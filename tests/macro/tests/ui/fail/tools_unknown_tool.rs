// One unknown tool: its error, and nothing else — the connector's other tools are generated.
mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/tools_unknown_tool.yaml");
}

fn main() {
    let _ = fastn::SlackListChannels::default();
    let _ = fastn::Slack::tools;
}
