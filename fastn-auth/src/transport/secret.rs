//! The space's key or token, kept by the transport only to take it out of what servers
//! say: a server that echoes the key (whole, or cut) must not put it in an error.

/// The space's key or token, as a server may echo it (without a scheme word).
pub(crate) struct Secret(pub(crate) Box<str>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Secret {
    /// `text` with every run that starts the secret (all of it, or at least
    /// [`MIN_SCRUBBED`] of its first bytes) replaced by `[REDACTED]`.
    pub(crate) fn scrub(&self, text: String) -> String {
        scrub(text, &self.0)
    }
}

/// The shortest start of a secret taken out of server text: shorter runs are too likely to
/// be ordinary words.
pub(crate) const MIN_SCRUBBED: usize = 8;

/// `text` with every run that starts `secret` (all of it, or at least [`MIN_SCRUBBED`] of
/// its first bytes) replaced by `[REDACTED]`.
fn scrub(text: String, secret: &str) -> String {
    let min = MIN_SCRUBBED.min(secret.len());
    // (A header value's text is ASCII, so the start is a whole `str`; if not, no scrub.)
    if min == 0 || secret.get(..min).is_none_or(|start| !text.contains(start)) {
        return text;
    }
    let (secret, bytes) = (secret.as_bytes(), text.as_bytes());
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        let run = bytes[at..].iter().zip(secret).take_while(|(a, b)| a == b).count();
        if run >= min {
            out.push_str(&text[copied..at]);
            out.push_str("[REDACTED]");
            at += run;
            copied = at;
        } else {
            at += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_any_long_start_of_it_are_taken_out_of_server_text() {
        let key = "fsk_live_0123456789abcdef";
        for (said, expected) in [
            (format!("invalid key {key}!"), "invalid key [REDACTED]!"),
            ("key fsk_live_0123… is revoked".to_owned(), "key [REDACTED]… is revoked"),
            (format!("{key}{key}"), "[REDACTED][REDACTED]"),
            ("fsk_liv is too short to be the key é".to_owned(), "fsk_liv is too short to be the key é"),
            ("nothing here".to_owned(), "nothing here"),
        ] {
            assert_eq!(scrub(said, key), expected);
        }
        assert_eq!(scrub("k".into(), "k"), "[REDACTED]", "a key shorter than the minimum, whole");
    }
}
