// A generated input is `#[non_exhaustive]`: another crate builds it with its constructor,
// so that a registry sync adding an optional field breaks no call site.
fn main() {
    let _ = fastn_auth_macro_tests::fastn::SlackSendMessage {
        channel: "C1".into(),
        text: "hi".into(),
        thread_ts: None,
        unfurl_links: None,
    };
    let _ = fastn_auth_macro_tests::fastn::SlackSendMessage::new("C1", "hi").unfurl_links(true);
}
