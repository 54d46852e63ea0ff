//! What a manifest error says to help: the near miss meant, and the fix for serde's words.

pub use fastn_auth_rules::did_you_mean;

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), with a
/// did-you-mean when one of the expected words is near; a missing `version` with the fix.
pub(super) fn teach(message: String) -> String {
    if message.contains("missing field `version`") {
        return format!("{message}: add `version: 1` as the first line");
    }
    let found = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|start| Some(&message[message.find(start)? + start.len()..]));
    let Some(rest) = found else { return message };
    let Some((word, expected)) = rest.split_once('`') else { return message };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match did_you_mean(word, &candidates) {
        Some(near) => format!("{message} (did you mean `{near}`?)"),
        None => message,
    }
}
