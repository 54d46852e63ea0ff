// A typo in one field: the manifest's error, and nothing else — the code that names the
// generated items still finds them.
mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/one_typo.yaml");
}

fn team_id(credentials: fastn_auth::Credentials<fastn::SlackExtra>) -> String {
    credentials.extra.team_id
}

fn main() {
    let _ = (fastn::MANIFEST, fastn::ConnectorId::ALL, fastn::Slack::ID, fastn::Notion::ID);
    let _ = team_id;
}
