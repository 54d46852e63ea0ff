//! The rules that more than one crate of [fastn-auth](https://docs.rs/fastn-auth) must apply
//! identically: which ids can be sent to Fastn ([`id_problem`]), and how text from an
//! untrusted source (a server, a manifest) is shown in messages and on terminals
//! ([`escape`]), and what a connector's API base URL, headers and request paths may be
//! ([`api`]), and how Fastn's tool registry is read ([`registry`]). The runtime, the
//! manifest checker (so the `connectors!` macro), the emulator and the CLI call these
//! functions, so an id, a base URL or a registry the manifest accepts is one the runtime
//! accepts.
//!
//! One dependency, `serde_json`, which every crate of the workspace has already.

#![warn(missing_docs)]

pub mod api;
pub mod registry;

/// The longest connector, org, tenant or connection id, in bytes. Longer ids are refused
/// before anything is sent (HTTP stacks and proxies refuse very long request lines and
/// headers, and no Fastn id comes near this).
pub const MAX_ID_BYTES: usize = 512;

/// The most characters of an id quoted in a message; the rest is cut.
pub const MAX_SHOWN_ID_CHARS: usize = 64;

/// Why `value` cannot be used as an id, or `None` when it can. `path_segment` for ids sent
/// in the URL path (connector, org), which must also not be `.` or `..`.
///
/// An id must be non-empty, at most [`MAX_ID_BYTES`] long, with no control character (URL
/// parsing drops tabs and line breaks, HTTP refuses them in headers), no bidirectional
/// override (U+202A–U+202E, U+2066–U+2069 and the marks: they make a log line or a terminal
/// show another text than the one sent) and no leading or trailing space (HTTP strips it).
///
/// ```
/// use fastn_auth_rules::id_problem;
/// assert_eq!(id_problem("google-sheets", true), None);
/// assert_eq!(id_problem("Acme GmbH · Zürich", false), None);
/// assert!(id_problem("", false).unwrap().contains("empty"));
/// assert!(id_problem("..", true).is_some());
/// assert!(id_problem("evil\u{202e}txt", false).unwrap().contains("bidirectional"));
/// ```
pub fn id_problem(value: &str, path_segment: bool) -> Option<String> {
    // The common case in one pass over the bytes: printable ASCII, no space at either end,
    // not `.` or `..` (this runs before every call, cache hits included).
    let bytes = value.as_bytes();
    if !bytes.is_empty()
        && bytes.len() <= MAX_ID_BYTES
        && bytes.iter().all(|byte| (0x20..0x7f).contains(byte))
        && bytes[0] != b' '
        && bytes[bytes.len() - 1] != b' '
        && !(path_segment && (value == "." || value == ".."))
    {
        return None;
    }
    let problem = if value.is_empty() {
        "it is empty".to_owned()
    } else if value.len() > MAX_ID_BYTES {
        format!("it is {} bytes long, more than {MAX_ID_BYTES}", value.len())
    } else if value.chars().any(char::is_control) {
        "it contains a control character (CR, LF, tab, NUL, …)".to_owned()
    } else if value.chars().any(is_bidi_control) {
        "it contains a bidirectional override or mark (U+202E, U+2066, …)".to_owned()
    } else if value.trim_matches(' ') != value {
        "it has a leading or trailing space".to_owned()
    } else if path_segment && (value == "." || value == "..") {
        format!("`{value}` is not a usable path segment")
    } else {
        return None;
    };
    Some(problem)
}

/// Whether `c` changes the direction text is shown in: the embeddings, overrides and
/// isolates (U+202A–U+202E, U+2066–U+2069) and the marks (U+200E, U+200F, U+061C).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Whether a terminal or log shows `c` as something other than itself: a control
/// character (C0, DEL and the C1 range U+0080–U+009F, whose U+009B a terminal may read as
/// an escape), a bidirectional control ([`is_bidi_control`]), a zero-width or invisible
/// format character (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+00AD, the tags
/// U+E0000–U+E007F), or a line or paragraph separator (U+2028, U+2029).
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{200b}'..='\u{200d}'
                | '\u{2060}'..='\u{2064}'
                | '\u{feff}'
                | '\u{00ad}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// JSON text (as `serde_json` writes it) made safe for a terminal: every character
/// [`is_unprintable`] inside a string written as a `\uXXXX` escape (UTF-16 pairs past
/// U+FFFF), so the JSON means the same and shows only what it holds.
///
/// ```
/// use fastn_auth_rules::terminal_json;
/// assert_eq!(terminal_json("{\"a\":\"x\u{202e}y\u{9b}\"}"), r#"{"a":"x\u202ey\u009b"}"#);
/// ```
pub fn terminal_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if is_unprintable(c) && !c.is_ascii() {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` made safe to show: control characters (line breaks, ANSI escapes, NUL) and
/// the other characters [`is_unprintable`] written as escapes (`\n`, `\u{1b}`, `\u{202e}`), and at most
/// `max_chars` characters of it kept, `…` marking a cut. What a terminal then shows is
/// what the text holds, on one line.
///
/// ```
/// use fastn_auth_rules::escape;
/// assert_eq!(escape("team\n\u{1b}[31mred", 100), "team\\n\\u{1b}[31mred");
/// assert_eq!(escape("abcdef", 3), "abc…");
/// ```
pub fn escape(text: &str, max_chars: usize) -> String {
    escape_but(text, max_chars, |_| false)
}

/// Text handed to a language model or an MCP client (a tool's description, a name): as
/// [`escape`], but line breaks and tabs are kept, since a description is prose the model
/// reads; every other control, bidirectional or invisible character is written as an
/// escape, so what a person reviewing the prompt sees is what the model reads.
///
/// ```
/// use fastn_auth_rules::model_text;
/// assert_eq!(model_text("Send.\nThen\u{1b}[2J\u{202e}", 100), "Send.\nThen\\u{1b}[2J\\u{202e}");
/// assert_eq!(model_text("abcdef", 3), "abc…");
/// ```
pub fn model_text(text: &str, max_chars: usize) -> String {
    escape_but(text, max_chars, |c| c == '\n' || c == '\t')
}

fn escape_but(text: &str, max_chars: usize, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_add(8)));
    let mut chars = text.chars();
    for c in chars.by_ref().take(max_chars) {
        if is_unprintable(c) && !keep(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// An id for a message: escaped and cut to [`MAX_SHOWN_ID_CHARS`].
pub fn shown_id(value: &str) -> String {
    escape(value, MAX_SHOWN_ID_CHARS)
}

/// `key` in snake_case: `instanceUrl` → `instance_url`, `HTTPStatus` → `http_status`,
/// `team-id` → `team_id`; every character that is not an ASCII letter or digit is a word
/// break. The manifest's field names and the registry's tool keys are made by it.
///
/// ```
/// assert_eq!(fastn_auth_rules::snake_case("sendMessage"), "send_message");
/// assert_eq!(fastn_auth_rules::snake_case("HTTPStatus"), "http_status");
/// ```
pub fn snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut name = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !name.ends_with('_') && !name.is_empty() {
                name.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_is_lower);
            if boundary && !name.is_empty() && !name.ends_with('_') {
                name.push('_');
            }
        }
        name.push(c.to_ascii_lowercase());
    }
    name.trim_end_matches('_').to_owned()
}

/// The candidate `word` was probably meant as: the same but for case, or one or two edits
/// away (one for short words), when exactly one candidate is that near.
///
/// Costs O(candidates) whatever `word` is: a candidate whose length differs by more than
/// the edits allowed is passed over before any comparison, so a word far longer than every
/// candidate (a client's 200,000-character tool name) is compared with none.
pub fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let length = word.chars().count();
    let allowed = if length <= 4 { 1 } else { 2 };
    let near_in_length = |c: &&str| c.chars().count().abs_diff(length) <= allowed;
    let mut near = candidates.iter().copied().filter(near_in_length);
    if let Some(same) = near.clone().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(same);
    }
    let mut near = near.by_ref().filter(|c| edit_distance(word, c) <= allowed);
    match (near.next(), near.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_cannot_be_sent_say_why() {
        for (bad, segment) in [
            ("", false),
            (" acme", false),
            ("acme ", false),
            ("a\nb", false),
            ("a\u{0}b", false),
            ("a\u{85}b", false),
            ("a\u{2067}b", false),
            ("a\u{200f}b", false),
            (".", true),
            ("..", true),
        ] {
            assert!(id_problem(bad, segment).is_some(), "{bad:?}");
        }
        assert_eq!(id_problem("..", false), None, "a header may be `..`");
        assert_eq!(id_problem(&"x".repeat(MAX_ID_BYTES), true), None);
        assert!(id_problem(&"x".repeat(MAX_ID_BYTES + 1), true).unwrap().contains("more than 512"));
    }

    #[test]
    fn escaped_text_is_one_line_of_what_it_holds() {
        let hostile = "Acme\u{1b}]0;owned\u{7}\u{1b}[31m\naccess_token: forged\u{202e}";
        let shown = escape(hostile, 1000);
        assert!(!shown.chars().any(|c| c.is_control() || is_bidi_control(c)), "{shown}");
        assert!(shown.contains("\\n") && shown.contains("\\u{202e}") && shown.contains("\\u{1b}"), "{shown}");
        assert_eq!(shown_id(&"é".repeat(1000)).chars().count(), MAX_SHOWN_ID_CHARS + 1);
        for hidden in ['\u{9b}', '\u{85}', '\u{200b}', '\u{2028}', '\u{feff}', '\u{e0041}'] {
            let shown = escape(&format!("a{hidden}b"), 100);
            assert!(shown.starts_with("a\\u{") && shown.ends_with('b'), "{hidden:?} shown as {shown}");
        }
    }

    #[test]
    fn terminal_json_escapes_what_a_terminal_would_obey_and_stays_json() {
        let value = "\u{202e}gnp.exe\u{2066}\u{9b}31m\u{1b}\u{1f600}\u{e0041}é";
        let json = format!("{{\"name\":\"{}\"}}", value.replace('\u{1b}', "\\u001b"));
        let shown = terminal_json(&json);
        assert!(!shown.chars().any(is_unprintable), "{shown}");
        assert!(
            shown.contains("\\u202e") && shown.contains("\\u009b") && shown.contains("\\udb40\\udc41"),
            "{shown}"
        );
        assert!(shown.contains('\u{1f600}') && shown.contains('é'), "printable text stays as it is: {shown}");
        // Decoding it gives the original text back.
        let back = shown.trim_start_matches("{\"name\":\"").trim_end_matches("\"}");
        assert_eq!(decode_json_string(back), value);
    }

    /// The text of a JSON string's inside, for the test above (no serde_json here).
    fn decode_json_string(inner: &str) -> String {
        let mut units = Vec::new();
        let mut rest = inner;
        while let Some(c) = rest.chars().next() {
            if let Some(hex) = rest.strip_prefix("\\u") {
                units.push(u16::from_str_radix(&hex[..4], 16).unwrap());
                rest = &hex[4..];
            } else {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
                rest = &rest[c.len_utf8()..];
            }
        }
        String::from_utf16(&units).unwrap()
    }
}
