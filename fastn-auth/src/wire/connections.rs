//! Fastn's connections API on the wire, as its newer client (`fastn-ai`) speaks it:
//! `POST {base}/connections/initiate` with `{"connector", "tenant_id", "redirect_url"}` and
//! `POST {base}/connections/status` with any of `connection_id`, `connector`, `tenant_id`.
//! Answers may come wrapped as `{"body": …}`.

use std::time::Duration;

use serde_json::{Map, Value};

use super::{AuthStatus, DecodeError, browser_url, optional_string, parse_object, required_string, sanitize};

/// The longest `expires_in` taken as it is: a day (Fastn says 600 s).
const MAX_EXPIRES_IN: Duration = Duration::from_secs(24 * 60 * 60);

/// What `initiate` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitiatedAnswer {
    pub(crate) connection_id: String,
    pub(crate) auth_url: url::Url,
    pub(crate) status: AuthStatus,
    pub(crate) expires_in: Option<Duration>,
}

/// What `status` answered; every field but the status as Fastn sent it, sanitised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectionAnswer {
    pub(crate) connection_id: Option<String>,
    pub(crate) connector: Option<String>,
    pub(crate) status: AuthStatus,
    pub(crate) tenant_id: Option<String>,
    pub(crate) created_at: Option<String>,
}

/// The answer's object, unwrapped from `{"body": {…}}` when Fastn wrapped it.
fn unwrapped(body: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    let mut object = parse_object(body)?;
    match object.remove("body") {
        Some(Value::Object(inner)) => Ok(inner),
        Some(other) => {
            object.insert("body".to_owned(), other);
            Ok(object)
        }
        None => Ok(object),
    }
}

fn status(object: &mut Map<String, Value>) -> Result<AuthStatus, DecodeError> {
    let status = required_string(object, "status")?;
    AuthStatus::from_wire(&status).ok_or_else(|| {
        DecodeError::new(format!(
            "unknown status {:?}, expected pending, authorized, expired (or the connect API's names)",
            sanitize(&status)
        ))
    })
}

/// A connection id Fastn gave, one the SDK can send back (ids may hold `:`).
fn connection_id(text: String) -> Result<String, DecodeError> {
    match super::id_problem(&text, false) {
        None => Ok(text),
        Some(problem) => Err(DecodeError::new(format!(
            "`connection_id` {:?} is not a usable id: {problem}",
            sanitize(&text)
        ))),
    }
}

pub(crate) fn decode_initiated(body: &[u8]) -> Result<InitiatedAnswer, DecodeError> {
    let mut object = unwrapped(body)?;
    let connection_id = connection_id(required_string(&mut object, "connection_id")?)?;
    let auth_url = browser_url("auth_url", &required_string(&mut object, "auth_url")?)?;
    let status = status(&mut object)?;
    let expires_in = match object.remove("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(seconds)) => match seconds.as_f64().filter(|s| s.is_finite() && *s >= 0.0) {
            Some(seconds) => Some(Duration::from_secs_f64(seconds.min(MAX_EXPIRES_IN.as_secs_f64()))),
            None => {
                return Err(DecodeError::new(format!("`expires_in` is {seconds}, not a number of seconds")));
            }
        },
        Some(_) => return Err(DecodeError::new("`expires_in` is not a number")),
    };
    Ok(InitiatedAnswer { connection_id, auth_url, status, expires_in })
}

pub(crate) fn decode_connection(body: &[u8]) -> Result<ConnectionAnswer, DecodeError> {
    let mut object = unwrapped(body)?;
    let status = status(&mut object)?;
    let text = |object: &mut Map<String, Value>, key: &str| -> Result<Option<String>, DecodeError> {
        Ok(optional_string(object, key)?.filter(|text| !text.is_empty()).map(|text| sanitize(&text)))
    };
    Ok(ConnectionAnswer {
        connection_id: text(&mut object, "connection_id")?,
        connector: text(&mut object, "connector")?,
        status,
        tenant_id: text(&mut object, "tenant_id")?,
        created_at: text(&mut object, "created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_bare_or_wrapped_and_checked() {
        let bare =
            br#"{"connection_id": "ucl:org_1:live:slack:a1:acme", "auth_url": "https://x.example/auth",
            "status": "pending", "expires_in": 600}"#;
        let wrapped = format!(r#"{{"body": {}}}"#, std::str::from_utf8(bare).unwrap());
        for body in [&bare[..], wrapped.as_bytes()] {
            let answer = decode_initiated(body).unwrap();
            assert_eq!(answer.connection_id, "ucl:org_1:live:slack:a1:acme");
            assert_eq!(
                (answer.status, answer.expires_in),
                (AuthStatus::Inactive, Some(Duration::from_secs(600)))
            );
        }
        let year =
            br#"{"connection_id": "c", "auth_url": "https://x/", "status": "pending", "expires_in": 3.2e7}"#;
        assert_eq!(decode_initiated(year).unwrap().expires_in, Some(MAX_EXPIRES_IN));
        for (body, expected) in [
            (
                &br#"{"connection_id": "c", "auth_url": "javascript:alert(1)", "status": "pending"}"#[..],
                "http(s)",
            ),
            (br#"{"connection_id": "", "auth_url": "https://x/", "status": "pending"}"#, "usable id"),
            (br#"{"connection_id": "c", "auth_url": "https://x/", "status": "done"}"#, "unknown status"),
            (
                br#"{"connection_id": "c", "auth_url": "https://x/", "status": "pending", "expires_in": -1}"#,
                "expires_in",
            ),
        ] {
            let err = decode_initiated(body).unwrap_err();
            assert!(err.message().contains(expected), "{err:?}");
        }
        let status = decode_connection(
            br#"{"body": {"connection_id": "c1", "connector": "slack",
            "status": "authorized", "tenant_id": "acme", "created_at": "2026-12-07T08:00:00Z"}}"#,
        )
        .unwrap();
        assert_eq!((status.status, status.tenant_id.as_deref()), (AuthStatus::Active, Some("acme")));
        assert_eq!(decode_connection(br#"{"status": "EXPIRED"}"#).unwrap().status, AuthStatus::Expired);
    }
}
