//! Where a connector's API is, and the rules that keep its token there: the base URL
//! template filled in from credentials, the routes that send API calls to an emulator or a
//! staging provider instead, the request URL pinned under its base, and the HTTP client
//! API calls go through. No Fastn call and no cache here.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use fastn_auth_rules::api::{self as rules, Part};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::TokenPlacement;
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::wire::{self, Endpoint};

/// A base URL as written, `{field}` placeholders and all, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    text: Arc<str>,
    parts: Arc<[Piece]>,
    /// The URL itself, when the template has no placeholder.
    fixed: Option<Url>,
}

#[derive(Debug)]
enum Piece {
    Literal(Range<usize>),
    Field(Range<usize>),
}

impl Template {
    /// Parses `text`; a template with no placeholder must be a usable base URL already.
    /// The error is the message of an [`ErrorKind::Config`](crate::ErrorKind::Config).
    pub(crate) fn parse(text: &str) -> std::result::Result<Template, String> {
        let shown = fastn_auth_rules::escape(text, 100);
        let refuse = |problem: String| format!("the API base URL \"{shown}\" is refused: {problem}");
        let parts = rules::parse_template(text).map_err(refuse)?;
        let offset = |part: &str| part.as_ptr() as usize - text.as_ptr() as usize;
        let pieces: Arc<[Piece]> = parts
            .iter()
            .map(|part| match part {
                Part::Literal(lit) => Piece::Literal(offset(lit)..offset(lit) + lit.len()),
                Part::Field(name) => Piece::Field(offset(name)..offset(name) + name.len()),
            })
            .collect();
        let fixed = match parts.as_slice() {
            [] => return Err(refuse("it is empty".to_owned())),
            [Part::Literal(_)] => Some(checked_base(text).map_err(refuse)?),
            _ => None,
        };
        Ok(Template { text: text.into(), parts: pieces, fixed })
    }

    /// The template as written.
    /// The URL itself, when the template has no placeholder.
    #[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
    pub(crate) fn fixed(&self) -> Option<&Url> {
        self.fixed.as_ref()
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The base URL for a connection whose credentials hold `extra`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) naming the field when a placeholder's field is missing,
    /// not a string, or makes a base URL that is refused (not http(s), not absolute, with
    /// user info, plain http to a host that is not loopback, …).
    pub(crate) fn resolve(&self, extra: &Map<String, Value>) -> Result<Cow<'_, Url>> {
        if let Some(url) = &self.fixed {
            return Ok(Cow::Borrowed(url));
        }
        let mut out = String::with_capacity(self.text.len() + 64);
        let mut fields = Vec::new();
        for (index, piece) in self.parts.iter().enumerate() {
            match piece {
                Piece::Literal(range) => out.push_str(&self.text[range.clone()]),
                Piece::Field(range) => {
                    let name = &self.text[range.clone()];
                    fields.push(name);
                    let bad = |problem: &str| {
                        Error::invalid(
                            Endpoint::Credentials,
                            format!("the credential field `{name}` of the API base URL {problem}"),
                        )
                    };
                    let value = match extra.get(name) {
                        Some(Value::String(value)) if !value.is_empty() => value,
                        Some(Value::String(_)) => return Err(bad("is empty")),
                        Some(_) => return Err(bad("is not a string")),
                        None => return Err(bad("is missing from the credentials")),
                    };
                    // Inside the URL a value stays one segment of a host or path: no
                    // separator, no port, no escape, no `..`. At the start it is a whole
                    // origin, checked below.
                    if index > 0
                        && let Some(problem) = rules::placeholder_value_problem(value)
                    {
                        return Err(bad(problem));
                    }
                    out.push_str(value);
                }
            }
        }
        checked_base(&out).map(Cow::Owned).map_err(|problem| {
            Error::invalid(
                Endpoint::Credentials,
                format!(
                    "the API base URL made from the credential field{} `{}` is refused: {problem}",
                    if fields.len() > 1 { "s" } else { "" },
                    fields.join("`, `")
                ),
            )
        })
    }
}

/// `text` as a base URL, if the rules allow it, with no trailing `/`.
fn checked_base(text: &str) -> std::result::Result<Url, String> {
    if let Some(problem) = rules::base_url_problem(text) {
        return Err(problem);
    }
    let mut url = Url::parse(text).map_err(|err| format!("it is not a URL: {err}"))?;
    // What the rules read is what the parser read: a host the rules call loopback must be
    // one to the parser too (no `127.0.0.1.evil.example` through some other spelling).
    if url.scheme() == "http" && !crate::transport::is_loopback(&url) {
        return Err("it is plain http:// to a host that is not loopback".to_owned());
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

/// Where API calls go instead of the base URL the manifest or the caller gives: a gateway
/// for every connector (the emulator), or one base per connector (a staging provider).
#[derive(Debug, Clone, Default)]
pub(crate) struct Routes {
    gateway: Option<Url>,
    bases: HashMap<String, Url>,
}

impl Routes {
    /// Every connector's calls to `{gateway}/{connector_id}`.
    pub(crate) fn gateway(&mut self, url: &str) -> Result<()> {
        let url = checked_base(url).map_err(|problem| {
            Error::config(format!(
                "api_gateway \"{}\" is refused: {problem}",
                fastn_auth_rules::escape(url, 100)
            ))
        })?;
        self.gateway = Some(url);
        Ok(())
    }

    /// `connector_id`'s calls to `url`.
    pub(crate) fn base(&mut self, connector_id: String, url: &str) -> Result<()> {
        let url = checked_base(url).map_err(|problem| {
            Error::config(format!(
                "api_base_url \"{}\" for `{}` is refused: {problem}",
                fastn_auth_rules::escape(url, 100),
                fastn_auth_rules::shown_id(&connector_id)
            ))
        })?;
        self.bases.insert(connector_id, url);
        Ok(())
    }

    /// Whether calls of `connector_id` go elsewhere than their own base URL.
    pub(crate) fn routed(&self, connector_id: &str) -> Option<Url> {
        if let Some(url) = self.bases.get(connector_id) {
            return Some(url.clone());
        }
        let mut url = self.gateway.clone()?;
        url.path_segments_mut().ok()?.pop_if_empty().push(connector_id);
        Some(url)
    }
}

/// A request path the rules accept ([`rules::path_problem`]): checked once per request,
/// before anything is fetched or sent, then joined under each attempt's base URL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckedPath<'a>(&'a str);

impl<'a> CheckedPath<'a> {
    /// `path`, or `ErrorKind::Config` saying why it could leave the base.
    pub(crate) fn new(path: &'a str) -> Result<Self> {
        match rules::path_problem(path) {
            Some(problem) => Err(Error::config(problem)),
            None => Ok(CheckedPath(path)),
        }
    }

    /// The path under `base`, with its query; `ErrorKind::Config` if, parsed, it is not under
    /// the base after all (the pin check).
    pub(crate) fn under(self, base: &Url) -> Result<Url> {
        let (path, query) = match self.0.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (self.0, None),
        };
        let mut url = base.clone();
        let relative = path.trim_start_matches('/');
        if !relative.is_empty() {
            let joined = format!("{}/{relative}", base.path().trim_end_matches('/'));
            url.set_path(&joined);
        }
        url.set_query(query);
        if !is_under(base, &url) {
            return Err(Error::config(format!(
                "the path \"{}\" leads outside the API base URL",
                fastn_auth_rules::escape(self.0, 80)
            )));
        }
        Ok(url)
    }
}

/// Whether `url` is `base` or below it: same scheme, host and port, no user info, and a
/// path that is the base path or continues it after a `/`, whose segments below the base
/// stay segments once decoded: a `%2F` or `%5C` (a slash a server may decode before
/// routing) or a segment that decodes to `.` or `..` (`%2e%2E`, `.%2E`) is not under the
/// base, whatever the rest. The one pin of `ApiClient` and every bridge.
pub(crate) fn is_under(base: &Url, url: &Url) -> bool {
    let prefix = base.path().trim_end_matches('/');
    url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().strip_prefix(prefix).is_some_and(|rest| {
            (rest.is_empty() || rest.starts_with('/')) && rest.split('/').all(stays_a_segment)
        })
}

/// Whether a path segment, as sent, means one segment to a server that decodes it first
/// (the rules crate's reading of encoded separators and dots, as for a request's path).
fn stays_a_segment(segment: &str) -> bool {
    !rules::has_encoded_separator(segment) && rules::dot_segment(segment).is_none()
}

/// `name` as a header name a request or a connector's spec may set, or the message of an
/// [`ErrorKind::Config`](crate::ErrorKind::Config): the rules' header name check (reserved names included), then the
/// parser's.
pub(crate) fn header_name(name: &str) -> std::result::Result<HeaderName, String> {
    match rules::header_name_problem(name) {
        Some(problem) => Err(problem),
        None => HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP header name", fastn_auth_rules::shown_id(name))),
    }
}

/// How a token is attached, with its names checked.
#[derive(Debug, Clone)]
pub(crate) enum Placement {
    Header { name: HeaderName, prefix: Arc<str>, from: Arc<str> },
    Query { name: Arc<str>, from: Arc<str> },
}

impl Placement {
    /// `Authorization: Bearer {access_token}`.
    pub(crate) fn bearer() -> Placement {
        Placement::Header {
            name: reqwest::header::AUTHORIZATION,
            prefix: "Bearer ".into(),
            from: wire::ACCESS_TOKEN.0.into(),
        }
    }

    /// The placement of `token`; the error is the message of an [`ErrorKind::Config`](crate::ErrorKind::Config).
    pub(crate) fn new(token: &TokenPlacement) -> std::result::Result<Placement, String> {
        let header = |name: &str| header_name(name).map_err(|problem| format!("the token header: {problem}"));
        Ok(match token {
            TokenPlacement::Bearer => Placement::bearer(),
            TokenPlacement::Header { name, prefix, from } => Placement::Header {
                name: header(name)?,
                prefix: prefix.as_ref().into(),
                from: from.as_ref().into(),
            },
            TokenPlacement::Query { name, from } => {
                Placement::Query { name: name.as_ref().into(), from: from.as_ref().into() }
            }
        })
    }

    /// Puts the token of `credentials` on `request`: a sensitive header, or a query pair.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) when the credentials have no such field, or it cannot be
    /// sent (not a string, not a valid header value).
    pub(crate) fn attach(
        &self,
        credentials: &Credentials<crate::credentials::ExtraMap>,
        request: &mut reqwest::Request,
    ) -> Result<()> {
        match self.placed(credentials)? {
            Placed::Header(name, value) => {
                request.headers_mut().insert(name, value);
            }
            Placed::Query(name, token) => {
                request.url_mut().query_pairs_mut().append_pair(name, token);
            }
        }
        Ok(())
    }

    /// Where the token of `credentials` goes, ready to be set.
    ///
    /// # Errors
    /// As [`attach`](Self::attach).
    pub(crate) fn placed<'c>(
        &'c self,
        credentials: &'c Credentials<crate::credentials::ExtraMap>,
    ) -> Result<Placed<'c>> {
        let token = self.token(credentials)?;
        Ok(match self {
            Placement::Header { name, prefix, from } => {
                let mut value = HeaderValue::from_str(&format!("{prefix}{token}")).map_err(|_| {
                    Error::invalid(
                        Endpoint::Credentials,
                        format!("the credential field `{from}` cannot be sent in an HTTP header"),
                    )
                })?;
                value.set_sensitive(true);
                Placed::Header(name.clone(), value)
            }
            Placement::Query { name, .. } => Placed::Query(name, token),
        })
    }
}

/// A token placed: a header (marked sensitive), or a query parameter's name and value.
pub(crate) enum Placed<'c> {
    Header(HeaderName, HeaderValue),
    Query(&'c str, &'c str),
}

impl Placement {
    /// The token of `credentials` as this placement sends it.
    pub(crate) fn token<'c>(
        &self,
        credentials: &'c Credentials<crate::credentials::ExtraMap>,
    ) -> Result<&'c str> {
        let (Placement::Header { from, .. } | Placement::Query { from, .. }) = self;
        token_field(credentials, from)
    }

    /// Whether the token travels in the URL, which must then be shown redacted.
    pub(crate) fn redacts_url(&self) -> bool {
        matches!(self, Placement::Query { .. })
    }

    /// `url` as the caller may see it: with the token in the query, `[REDACTED]` in its
    /// place (a `Debug` or an error would print it otherwise).
    pub(crate) fn shown_url(&self, url: &Url) -> Url {
        let mut url = url.clone();
        let Placement::Query { name, .. } = self else { return url };
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == name.as_ref() { "[REDACTED]".into() } else { value };
                (key.into_owned(), value.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url
    }
}

/// The text of the credential field `from`: the access token, or an extra field.
fn token_field<'c>(
    credentials: &'c Credentials<crate::credentials::ExtraMap>,
    from: &str,
) -> Result<&'c str> {
    use secrecy::ExposeSecret as _;
    let value = if from == wire::ACCESS_TOKEN.0 {
        credentials.access_token.as_ref().map(|token| token.expose_secret())
    } else {
        credentials.extra.get(from).and_then(Value::as_str)
    };
    value.filter(|value| !value.is_empty()).ok_or_else(|| {
        Error::invalid(
            Endpoint::Credentials,
            format!("the credentials have no `{from}` to send as the API token"),
        )
    })
}

/// What a client keeps for API calls.
#[derive(Debug)]
pub(crate) struct Providers {
    /// The HTTP client of API calls: ours, or the caller's.
    pub(crate) http: reqwest::Client,
    pub(crate) routes: Routes,
}

/// The HTTP client of API calls: never follows a redirect (the token would go with it), no
/// proxy unless the caller brings a client with one.
pub(crate) fn http_client() -> Result<reqwest::Client> {
    crate::transport::client_builder()
        .no_proxy()
        .build()
        .map_err(|e| Error::config(format!("cannot build the HTTP client of API inner: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &Url, path: &str) -> Result<Url> {
        CheckedPath::new(path)?.under(base)
    }

    fn extra(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect()
    }

    #[test]
    fn a_template_is_filled_from_the_credentials_and_checked() {
        let template = Template::parse("{instance_url}/services/data/v60.0").unwrap();
        let url = template.resolve(&extra(&[("instance_url", "https://acme.my.salesforce.com")])).unwrap();
        assert_eq!(url.as_str(), "https://acme.my.salesforce.com/services/data/v60.0");
        for hostile in [
            "http://evil.example",
            "ftp://acme.example",
            "https://user:pw@acme.example",
            "acme.example",
            "https://acme.example/?x=",
            "",
        ] {
            let err = template.resolve(&extra(&[("instance_url", hostile)])).unwrap_err();
            assert!(matches!(err.kind(), crate::ErrorKind::InvalidResponse { .. }), "{hostile}: {err}");
            assert!(err.to_string().contains("instance_url"), "{err}");
        }
        let err = template.resolve(&Map::new()).unwrap_err().to_string();
        assert!(err.contains("`instance_url`") && err.contains("missing"), "{err}");
        let inner = Template::parse("https://{sub}.zendesk.com/api/v2").unwrap();
        assert_eq!(inner.resolve(&extra(&[("sub", "acme")])).unwrap().host_str(), Some("acme.zendesk.com"));
        for hostile in ["evil.example/x", "evil.example#", "u@evil.example", "evil.example:1"] {
            assert!(inner.resolve(&extra(&[("sub", hostile)])).is_err(), "{hostile}");
        }
    }

    #[test]
    fn a_literal_base_is_checked_when_given() {
        assert!(Template::parse("https://api.notion.com/v1/").is_ok());
        for bad in ["http://api.example.com", "api.example.com", "https://{x", ""] {
            assert!(Template::parse(bad).unwrap_err().contains("is refused"), "{bad}");
        }
    }

    #[test]
    fn paths_stay_under_the_base() {
        let base = Url::parse("https://api.example.com/v1").unwrap();
        assert_eq!(join(&base, "/users/me?a=1").unwrap().as_str(), "https://api.example.com/v1/users/me?a=1");
        assert_eq!(join(&base, "users").unwrap().as_str(), "https://api.example.com/v1/users");
        assert_eq!(join(&base, "").unwrap().as_str(), "https://api.example.com/v1");
        for bad in
            ["https://evil.example/x", "//evil.example", "../admin", "/a/%2e%2e/%2E%2E/x", "/a\\b", "/a\r\n"]
        {
            assert!(join(&base, bad).is_err(), "{bad}");
        }
        let other = Url::parse("https://api.example.com/v10").unwrap();
        assert!(!is_under(&base, &other), "a sibling path is not under the base");
        for encoded in
            ["/v1/..%2Fadmin", "/v1/%2e%2e%2Fadmin", "/v1/a%5c..%5Cadmin", "/v1/%2E%2e/admin", "/v1/.%2e"]
        {
            let url = Url::parse(&format!("https://api.example.com{encoded}")).unwrap();
            assert!(!is_under(&base, &url), "{encoded} decodes out of the base");
            assert!(join(&base, encoded.trim_start_matches("/v1")).is_err(), "{encoded}");
        }
        let fine = Url::parse("https://api.example.com/v1/a%20b/%2e%2e%2e/c..d").unwrap();
        assert!(is_under(&base, &fine), "encoded text that stays one segment is fine");
    }

    #[test]
    fn no_path_made_of_tricky_pieces_leaves_the_base() {
        let base = Url::parse("https://api.example.com/v1").unwrap();
        let pieces =
            ["..", ".", "%2e", "%2E", "/", "//", "\\", "http:", "a", "?", "#", "@", ":", "%2f", ";", "v10"];
        let mut paths = vec![String::new()];
        for _ in 0..4 {
            paths = paths
                .iter()
                .flat_map(|path| pieces.iter().map(move |piece| format!("{path}{piece}")))
                .collect();
            for path in &paths {
                if let Ok(url) = join(&base, path) {
                    assert!(is_under(&base, &url), "{path:?} led to {url}");
                    assert_eq!(url.host_str(), Some("api.example.com"), "{path:?}");
                }
            }
        }
    }

    #[test]
    fn routes_replace_the_base() {
        let mut routes = Routes::default();
        assert!(routes.routed("slack").is_none());
        routes.gateway("http://127.0.0.1:9/_provider").unwrap();
        assert_eq!(routes.routed("slack").unwrap().as_str(), "http://127.0.0.1:9/_provider/slack");
        routes.base("slack".into(), "https://staging.example/api").unwrap();
        assert_eq!(routes.routed("slack").unwrap().as_str(), "https://staging.example/api");
        assert!(routes.gateway("http://gateway.example").is_err());
    }
}
