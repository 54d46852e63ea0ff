//! Two ids with the same default name, the later one renamed with `name:`.

fastn_auth::connectors!("tests/ui/manifests/clash_resolved.yaml");

#[test]
fn a_clash_resolved_by_name_gives_both_types() {
    assert_eq!(GoogleSheets::ID, "google-sheets");
    assert_eq!(SheetsTwo::ID, "google_sheets");
    assert_eq!(ConnectorId::ALL, [ConnectorId::GoogleSheets, ConnectorId::SheetsTwo]);
}
