// The generated input types, read and built as a user would; the tools' client and the
// registry of the selected tools.
mod fastn {
    fastn_auth::connectors!("tests/ui/manifests/tools.yaml");
}

use fastn::{
    GoogleSheetsAppendValuesQueryValueInputOption as Input, HubspotCreateContactProperties, SlackSendMessage,
};

fn channel(message: &SlackSendMessage) -> &str {
    &message.channel
}

#[test]
fn the_tools_input_types_build_as_a_user_writes_them() {
    let message = SlackSendMessage {
        channel: "C1".into(),
        text: "hi".into(),
        thread_ts: None,
        unfurl_links: Some(false),
    };
    assert_eq!(channel(&message), "C1");
    let _: Option<bool> = message.unfurl_links;
    let _ = [Input::Raw, Input::UserEntered];
    let contact = HubspotCreateContactProperties {
        email: "a@example.com".into(),
        firstname: None,
        lastname: None,
        lifecyclestage: Some(fastn::HubspotCreateContactPropertiesLifecyclestage::Lead),
    };
    let _ = fastn::HubspotCreateContact { properties: contact };
    // Only optional fields: Default fills them.
    let _ = fastn::SlackListChannels { limit: Some(10), ..Default::default() };
    let client = fastn_auth::FastnAuth::builder("space").api_key("key").build().unwrap();
    let tools: fastn::SlackTools = fastn::Slack::tools(&client).tenant_id("acme");
    let _call: fastn_auth::tools::ToolCall = tools.send_message(message);
    // The selected tools only, as a registry (what `fastn_auth_agent::ToolSet::from_json` reads).
    assert!(fastn::REGISTRY.contains("\"send_message\"") && fastn::REGISTRY.contains("append_values"));
    assert!(!fastn::REGISTRY.contains("add_reaction") && !fastn::REGISTRY.contains("create_issue"));
}

#[test]
fn the_input_types_have_constructors_setters_and_serde_in_the_users_crate_too() {
    let message = SlackSendMessage::new("C1", "hi").thread_ts("1.5").unfurl_links(false);
    let json = fastn_auth::serde_json::to_value(&message).unwrap();
    assert_eq!(json["thread_ts"], "1.5");
    let back: SlackSendMessage = fastn_auth::serde_json::from_value(json).unwrap();
    assert_eq!(back, message);
    let contact = HubspotCreateContactProperties::new("a@example.com")
        .lifecyclestage(fastn::HubspotCreateContactPropertiesLifecyclestage::Customer);
    assert_eq!(fastn::HubspotCreateContact::new(contact.clone()).properties, contact);
}

/// A tool of 14 parameters: its read fills nested tuples (the runtime's reader takes at most
/// 12 at a level).
mod wide {
    fastn_auth::connectors!("tests/ui/manifests/wide.yaml");
}

#[test]
fn an_input_of_more_than_twelve_fields_writes_and_reads_every_one() {
    let input = wide::WideFillForm::new("first", 13).field_05(5).field_12(12);
    let json = fastn_auth::serde_json::to_value(&input).unwrap();
    assert_eq!(
        json,
        fastn_auth::serde_json::json!({"field_00": "first", "field_05": 5, "field_12": 12, "field_13": 13})
    );
    let back: wide::WideFillForm = fastn_auth::serde_json::from_value(json).unwrap();
    assert_eq!(back, input);
    let wrong = fastn_auth::serde_json::json!({"field_00": "first", "field_13": 13, "field_12": "twelve"});
    let err = fastn_auth::serde_json::from_value::<wide::WideFillForm>(wrong).unwrap_err();
    assert_eq!(err.to_string(), "/field_12: expected an integer");
}
