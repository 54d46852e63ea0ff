//! The rules that more than one crate of [fastn-auth](https://docs.rs/fastn-auth) must apply
//! identically: which ids can be sent to Fastn ([`id_problem`]), and how text from an
//! untrusted source (a server, a manifest) is shown in messages and on terminals
//! ([`escape`]), and what a connector's API base URL, headers and request paths may be
//! ([`api`]). The runtime, the manifest checker (so the `connectors!` macro) and the CLI
//! call these functions, so an id or a base URL the manifest accepts is one the runtime
//! accepts.
//!
//! No dependencies: this crate costs a build nothing.

#![warn(missing_docs)]

pub mod api;

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

/// `text` made safe to show: control characters (line breaks, ANSI escapes, NUL) and
/// bidirectional controls written as escapes (`\n`, `\u{1b}`, `\u{202e}`), and at most
/// `max_chars` characters of it kept, `…` marking a cut. What a terminal then shows is
/// what the text holds, on one line.
///
/// ```
/// use fastn_auth_rules::escape;
/// assert_eq!(escape("team\n\u{1b}[31mred", 100), "team\\n\\u{1b}[31mred");
/// assert_eq!(escape("abcdef", 3), "abc…");
/// ```
pub fn escape(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_add(8)));
    let mut chars = text.chars();
    for c in chars.by_ref().take(max_chars) {
        if c.is_control() || is_bidi_control(c) {
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
    }
}
