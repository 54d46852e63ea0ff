//! [`RecordedRequest`]: one request the emulator received, as its log shows it, secrets
//! redacted.

/// One request the emulator received.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path and query exactly as sent (still percent-encoded).
    pub path: String,
    /// Every header, lowercase names, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The path with the value of every query parameter whose name looks secret (`key`,
    /// `token`, `secret`, `auth`, `sig`, `password` in it) replaced by `[REDACTED]`: what the
    /// request log shows.
    pub fn redacted_path(&self) -> String {
        let Some((path, query)) = self.path.split_once('?') else { return self.path.clone() };
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if looks_secret(name) => format!("{name}=[REDACTED]"),
                _ => pair.to_owned(),
            })
            .collect();
        format!("{path}?{}", pairs.join("&"))
    }

    /// The headers, the value of each that looks secret (keys, authorization, cookies,
    /// tokens) replaced by `[REDACTED]`: what the request log shows.
    pub fn redacted_headers(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| {
                (name.as_str(), if looks_secret(name) { "[REDACTED]" } else { value.as_str() })
            })
            .collect()
    }
}

/// Whether a header or query parameter named `name` likely carries a secret.
fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["key", "token", "secret", "auth", "cookie", "sig", "password"].iter().any(|word| name.contains(word))
}

impl std::fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.redacted_path())
            .field("headers", &self.redacted_headers())
            .finish()
    }
}
