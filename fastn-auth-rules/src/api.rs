//! The rules of a connector's `api:` block, applied alike by the manifest checker (at
//! compile time) and the runtime (to a base URL given at run time, and to a base URL once
//! its placeholders are filled in from credentials); and the block itself, [`ApiSpec`]
//! with its [`TokenPlacement`], one type for the manifest reader, the generated code, the
//! runtime, the command line and the emulator.

use std::borrow::Cow;

/// Text of an [`ApiSpec`]: borrowed from generated code, owned when read at run time.
pub type Text = Cow<'static, str>;

/// A connector's API as the manifest's `api:` block declares it: where it is, the headers
/// every request carries, and where the token goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiSpec {
    /// The base URL, perhaps with `{field}` placeholders filled from the credentials.
    pub base_url: Text,
    /// Headers sent with every request, as `(name, value)`, sorted by name.
    pub headers: Vec<(Text, Text)>,
    /// Where the token goes.
    pub token: TokenPlacement,
}

impl ApiSpec {
    /// A spec of static text, as generated code writes it.
    pub fn from_static(
        base_url: &'static str,
        headers: &'static [(&'static str, &'static str)],
        token: TokenPlacement,
    ) -> Self {
        let headers =
            headers.iter().map(|(name, value)| (Cow::Borrowed(*name), Cow::Borrowed(*value))).collect();
        ApiSpec { base_url: Cow::Borrowed(base_url), headers, token }
    }
}

/// Where an API request carries the connection's token (the manifest's `token:`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum TokenPlacement {
    /// `Authorization: Bearer {access_token}`, the default (`token: bearer`).
    #[default]
    Bearer,
    /// `{ header: NAME, prefix?: STR, from?: FIELD }`: the header `name`, valued
    /// `{prefix}{from}`.
    Header {
        /// The header name.
        name: Text,
        /// Text before the token (`""` for none).
        prefix: Text,
        /// The credential field holding the token: `access_token` or an extra key.
        from: Text,
    },
    /// `{ query: NAME, from?: FIELD }`: the query parameter `name`.
    Query {
        /// The parameter name.
        name: Text,
        /// The credential field holding the token: `access_token` or an extra key.
        from: Text,
    },
}

impl TokenPlacement {
    /// The credential field whose value is the token when none is named.
    pub const DEFAULT_FIELD: &'static str = "access_token";

    /// A header placement of static text, as generated code writes it.
    pub const fn header(name: &'static str, prefix: &'static str, from: &'static str) -> Self {
        TokenPlacement::Header {
            name: Cow::Borrowed(name),
            prefix: Cow::Borrowed(prefix),
            from: Cow::Borrowed(from),
        }
    }

    /// A query placement of static text, as generated code writes it.
    pub const fn query(name: &'static str, from: &'static str) -> Self {
        TokenPlacement::Query { name: Cow::Borrowed(name), from: Cow::Borrowed(from) }
    }

    /// The credential field holding the token.
    pub fn from_field(&self) -> &str {
        match self {
            TokenPlacement::Bearer => Self::DEFAULT_FIELD,
            TokenPlacement::Header { from, .. } | TokenPlacement::Query { from, .. } => from,
        }
    }
}

/// One piece of a base URL template: text as written, or a `{field}` placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    /// Text taken as it is.
    Literal(&'a str),
    /// `{name}`: the credential field `name`.
    Field(&'a str),
}

/// The pieces of a base URL template such as `{instance_url}/services/data/v60.0`, or what
/// is wrong with it: an unclosed `{`, a `}` with no `{`, an empty or malformed name.
///
/// ```
/// use fastn_auth_rules::api::{Part, parse_template};
/// assert_eq!(
///     parse_template("{instance_url}/v1").unwrap(),
///     [Part::Field("instance_url"), Part::Literal("/v1")]
/// );
/// assert!(parse_template("https://{sub.example.com").unwrap_err().contains("not closed"));
/// ```
pub fn parse_template(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(Part::Literal(rest));
                break;
            }
            Some(at) if rest.as_bytes()[at] == b'}' => {
                return Err(format!(
                    "a `}}` with no `{{` before it, at byte {}",
                    template.len() - rest.len() + at
                ));
            }
            Some(at) => {
                if at > 0 {
                    parts.push(Part::Literal(&rest[..at]));
                }
                let after = &rest[at + 1..];
                let Some(end) = after.find('}') else {
                    return Err("a `{` that is not closed by `}`".to_owned());
                };
                let name = &after[..end];
                if name.is_empty()
                    || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
                {
                    return Err(format!(
                        "`{{{}}}` is not a placeholder: write `{{field}}` with the key of an extra field",
                        crate::shown_id(name)
                    ));
                }
                parts.push(Part::Field(name));
                rest = &after[end + 1..];
            }
        }
    }
    Ok(parts)
}

/// What is wrong with a base URL (a literal one, or one with its placeholders filled in),
/// or `None`: it must be an absolute `https://` URL, or `http://` to a loopback host
/// (`localhost`, `127.x.x.x`, `[::1]`), with a host, no user info, no query and no fragment.
///
/// ```
/// use fastn_auth_rules::api::base_url_problem;
/// assert_eq!(base_url_problem("https://api.notion.com/v1"), None);
/// assert_eq!(base_url_problem("http://127.0.0.1:8080/p"), None);
/// assert!(base_url_problem("http://api.example.com").unwrap().contains("loopback"));
/// assert!(base_url_problem("api.example.com/v1").unwrap().contains("absolute"));
/// assert!(base_url_problem("https://user:pw@example.com").unwrap().contains("user info"));
/// ```
pub fn base_url_problem(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://") {
        rest
    } else if lower.contains("://") {
        return Some("it must be an http or https URL".to_owned());
    } else {
        return Some("it must be an absolute URL, starting with https://".to_owned());
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if url.chars().any(|c| c.is_control() || c == ' ' || c == '\\' || is_bidi(c)) {
        return Some("it contains a space, a backslash or a control character".to_owned());
    }
    if authority.contains('@') {
        return Some("it must not carry user info (`user:password@`)".to_owned());
    }
    if rest.contains(['?', '#']) {
        return Some("it must not have a query or a fragment".to_owned());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Some("it has no host".to_owned());
    }
    if lower.starts_with("http://") && !is_loopback_host(host) {
        return Some(
            "it is plain http:// to a host that is not loopback: tokens would travel unencrypted; use https://"
                .to_owned(),
        );
    }
    None
}

fn is_bidi(c: char) -> bool {
    crate::is_bidi_control(c)
}

/// Whether `host` (a URL's host, without port; an IPv6 address with or without its
/// brackets) is `localhost` or a loopback address (`127.0.0.0/8`, `::1`): the one loopback
/// rule of the workspace (plain http allowed, no proxy, a server's default `Host`s).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The `Host` names a loopback server answers to by default: `localhost`, `127.0.0.1`, `::1`.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What is wrong with `name` as an HTTP header name, or `None`: one or more of the token
/// characters of RFC 9110 (letters, digits and ``!#$%&'*+-.^_`|~``).
///
/// ```
/// use fastn_auth_rules::api::header_name_problem;
/// assert_eq!(header_name_problem("Notion-Version"), None);
/// assert!(header_name_problem("Bad Header").is_some());
/// ```
pub fn header_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a header name cannot be empty".to_owned());
    }
    if name.starts_with(':') {
        return Some(format!(
            "`{}` is an HTTP/2 pseudo-header: the SDK derives it from the base URL",
            crate::shown_id(name)
        ));
    }
    if let Some(why) = reserved_header(name) {
        return Some(format!("the header `{}` cannot be set: {why}", crate::shown_id(name)));
    }
    let bad = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c)));
    bad.map(|c| {
        format!(
            "`{}` is not an HTTP header name: {:?} is not allowed (letters, digits, `-` and !#$%&'*+.^_`|~)",
            crate::shown_id(name),
            c
        )
    })
}

/// The headers no request, manifest or command line may set, each with the reason: the
/// ones that say which site a request is for (`Host` and the forwarding headers a shared
/// proxy or CDN routes by: the token would reach another site), the hop-by-hop and framing
/// headers (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `TE`, `Content-Length`,
/// `Upgrade`, `Trailer`: they would split or smuggle requests), and every `Proxy-*` header.
pub const RESERVED_HEADERS: &[&str] = &[
    "host",
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-server",
    "x-original-host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "content-length",
    "upgrade",
    "trailer",
    "proxy-*",
];

/// Why the header `name` (any case) is reserved, or `None` when a request may set it.
///
/// ```
/// use fastn_auth_rules::api::reserved_header;
/// assert!(reserved_header("Host").unwrap().contains("base URL"));
/// assert!(reserved_header("proxy-authorization").is_some());
/// assert_eq!(reserved_header("Notion-Version"), None);
/// ```
pub fn reserved_header(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("proxy-") {
        return Some("`Proxy-*` headers are for proxies, never for the app's API");
    }
    match lower.as_str() {
        "host" | "forwarded" | "x-forwarded-host" | "x-forwarded-server" | "x-original-host" => Some(
            "it names the site the request is for, which comes from the base URL (a shared proxy \
             routing by it would hand the token to another site)",
        ),
        "connection" | "keep-alive" | "transfer-encoding" | "te" | "content-length" | "upgrade"
        | "trailer" => Some("it frames the HTTP connection, which the SDK manages"),
        _ => None,
    }
}

/// What is wrong with `value`, a credential field filled into a `{field}` placeholder after
/// the start of a base URL, or `None`: it must stay one segment of a host or path — not
/// empty, `.` or `..`, and with no `/`, `\`, `?`, `#`, `@`, `:`, `%`, white space or
/// control character — so no credential value can move the URL elsewhere.
///
/// ```
/// use fastn_auth_rules::api::placeholder_value_problem;
/// assert_eq!(placeholder_value_problem("acme-eu"), None);
/// assert!(placeholder_value_problem("..").is_some());
/// assert!(placeholder_value_problem("a/b").is_some());
/// ```
pub fn placeholder_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value == "." || value == ".." {
        Some("is `.` or `..`, which would climb out of its place in the URL")
    } else if value.contains(['/', '?', '#', '@', '\\', ':', '%'])
        || value.chars().any(|c| c.is_control() || c.is_whitespace() || is_bidi(c))
    {
        Some(
            "holds a character that would change the URL's host or path (/ \\ ? # @ : %, white space or a control character)",
        )
    } else {
        None
    }
}

/// What is wrong with `value` as an HTTP header value, or `None`: visible ASCII, spaces and
/// tabs, with no leading or trailing white space (which HTTP would strip).
///
/// ```
/// use fastn_auth_rules::api::header_value_problem;
/// assert_eq!(header_value_problem("2022-06-28"), None);
/// assert!(header_value_problem("a\r\nX-Injected: 1").is_some());
/// ```
pub fn header_value_problem(value: &str) -> Option<String> {
    if value.chars().any(|c| !(c == ' ' || c == '\t' || c.is_ascii_graphic())) {
        return Some(
            "an HTTP header value holds visible ASCII, spaces and tabs only (no line break, no control \
             or non-ASCII character)"
                .to_owned(),
        );
    }
    if value.trim() != value {
        return Some("an HTTP header value cannot start or end with white space".to_owned());
    }
    None
}

/// What is wrong with `path`, a request path relative to a base URL, or `None`. Refused: an
/// absolute URL (`https://…`), a scheme-relative one (`//host`), a `..` segment
/// (also written `%2e%2e`), a backslash, a fragment, white space or a control character —
/// each is a way to send the request, and the token, somewhere other than under the base.
///
/// ```
/// use fastn_auth_rules::api::path_problem;
/// assert_eq!(path_problem("/users/me?limit=2"), None);
/// assert_eq!(path_problem("users/me"), None);
/// assert!(path_problem("https://evil.example/x").is_some());
/// assert!(path_problem("//evil.example/x").is_some());
/// assert!(path_problem("/a/../../admin").is_some());
/// assert!(path_problem("/a/%2E%2e/b").is_some());
/// ```
pub fn path_problem(path: &str) -> Option<String> {
    let before_query = path.split('?').next().unwrap_or_default();
    let first_segment = before_query.split('/').next().unwrap_or_default();
    let problem = if path.chars().any(|c| c.is_control() || c.is_whitespace() || is_bidi(c)) {
        "it contains white space or a control character"
    } else if path.starts_with("//") {
        "it starts with `//`, which names another host"
    } else if first_segment.strip_suffix(':').is_some_and(is_scheme) {
        "it is an absolute URL; give a path under the base URL"
    } else if path.contains('\\') {
        "it contains a backslash, which some servers read as `/`"
    } else if has_encoded_separator(before_query) {
        "it has an encoded `/` or `\\` (`%2F`, `%5C`), which some servers decode before routing"
    } else if path.contains('#') {
        "it has a fragment (`#`), which is never sent"
    } else if before_query.split('/').any(|segment| dot_segment(segment) == Some(2)) {
        "it has a `..` segment, which climbs above the base URL"
    } else {
        return None;
    };
    Some(format!("the path \"{}\" is refused: {problem}", crate::escape(path, 80)))
}

/// Whether `text` holds an encoded `/` or `\\` (`%2F`, `%5C`, any case): a separator some
/// servers decode before routing.
pub fn has_encoded_separator(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && matches!((w[1], w[2] | 0x20), (b'2', b'f') | (b'5', b'c')))
}

/// How many dots `segment` is as URL parsers read it (any mix of `.` and `%2e`, any case):
/// `Some(1)` for `.`, `Some(2)` for `..`; `None` for a segment that is not only dots, or
/// more than two. Reads the bytes as they are, allocating nothing: it runs on every
/// request's path.
pub fn dot_segment(segment: &str) -> Option<usize> {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() && dots < 3 {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', e, tail @ ..] if e | 0x20 == b'e' => tail,
            _ => return None,
        };
        dots += 1;
    }
    (rest.is_empty() && (1..=2).contains(&dots)).then_some(dots)
}

/// Whether `text` is a URL scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_fields() {
        assert_eq!(
            parse_template("https://{sub}.zendesk.com/api/{v}").unwrap(),
            [
                Part::Literal("https://"),
                Part::Field("sub"),
                Part::Literal(".zendesk.com/api/"),
                Part::Field("v")
            ]
        );
        assert_eq!(parse_template("https://a.b").unwrap(), [Part::Literal("https://a.b")]);
        for bad in ["{}", "{a b}", "x}", "{a", "{a{b}}"] {
            assert!(parse_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dots_and_encoded_separators_are_read_as_servers_decode_them() {
        for (segment, dots) in
            [(".", Some(1)), ("%2e", Some(1)), ("..", Some(2)), (".%2E", Some(2)), ("%2e%2e", Some(2))]
        {
            assert_eq!(dot_segment(segment), dots, "{segment}");
        }
        for segment in ["", "...", "a.", ".a", "%2", "%2f", "%2e%2e%2e", "%2ex"] {
            assert_eq!(dot_segment(segment), None, "{segment}");
        }
        for text in ["a%2Fb", "%5c", "x%2fy"] {
            assert!(has_encoded_separator(text), "{text}");
        }
        for text in ["a/b", "%25", "%2", "2f", "%2e"] {
            assert!(!has_encoded_separator(text), "{text}");
        }
    }

    #[test]
    fn loopback_is_localhost_and_every_loopback_address_in_any_spelling() {
        for host in ["localhost", "LocalHost", "127.0.0.1", "127.9.8.7", "::1", "[::1]", "[0:0:0:0:0:0:0:1]"]
        {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["localhost.example.com", "128.0.0.1", "[::2]", "::ffff:127.0.0.1x", "", "10.0.0.1"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn base_urls_are_https_or_loopback_http_with_a_host() {
        for ok in ["https://a.example/v1", "HTTPS://A.example", "http://localhost:9/x", "http://[::1]:80/"] {
            assert_eq!(base_url_problem(ok), None, "{ok}");
        }
        for bad in [
            "ftp://a.example",
            "//a.example",
            "https://",
            "https://a.example/v1?x=1",
            "https://a.example/#f",
            "https://u@a.example",
            "http://10.0.0.1/",
            "http://127.0.0.1.evil.example/",
            "https://a.example/ x",
            "javascript:alert(1)",
        ] {
            assert!(base_url_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn paths_stay_under_the_base() {
        for ok in
            ["", "/", "users", "/v1/users/me", "/search?q=a:b", "a..b/c", "/x/.well-known", "values:batchGet"]
        {
            assert_eq!(path_problem(ok), None, "{ok}");
        }
        for bad in ["http:/x", "HTTPS://x", "..", "a/..", "/%2e./x", "/a\\b", "/a#b", "/a b", "/a\nb"] {
            assert!(path_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn header_rules_follow_http() {
        assert!(header_name_problem("").is_some());
        assert!(header_name_problem("X-Ok_1").is_none());
        assert!(header_name_problem("Ä").is_some());
        assert!(header_value_problem(" lead").is_some());
        assert!(header_value_problem("é").is_some());
        assert!(header_value_problem("").is_none());
        for reserved in ["Host", "HOST", ":authority", "Connection", "keep-alive", "Transfer-Encoding", "TE"]
        {
            assert!(header_name_problem(reserved).is_some(), "{reserved}");
        }
        for reserved in ["content-length", "Upgrade", "Proxy-Authorization", "proxy-connection", "Trailer"] {
            assert!(header_name_problem(reserved).is_some(), "{reserved}");
        }
        for reserved in ["Forwarded", "X-Forwarded-Host"] {
            assert!(header_name_problem(reserved).is_some(), "{reserved}");
        }
        assert_eq!(header_name_problem("Hosts"), None, "only the names themselves");
        assert_eq!(header_name_problem("X-Proxy"), None);
        for name in RESERVED_HEADERS {
            let probe = name.replace('*', "authorization");
            assert!(reserved_header(&probe).is_some(), "{name} is listed but not refused");
        }
    }

    #[test]
    fn a_placeholder_value_stays_one_segment() {
        for ok in ["acme", "acme-eu.1", "a..b", "Ünïcode"] {
            assert_eq!(placeholder_value_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".%2e",
            "%2E%2e",
            "a/b",
            "a\\b",
            "a?b",
            "a#b",
            "a%2fb",
            "a b",
            "a\nb",
            "a\u{202e}",
        ] {
            assert!(placeholder_value_problem(bad).is_some(), "{bad:?}");
        }
    }
}
