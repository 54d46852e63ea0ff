//! What `executeTool` answers: [`ToolOutput`] (or [`RawToolOutput`], its body not
//! decoded), read from Fastn's envelope, and Fastn's refusals ([`refusal`]).

use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, Result};
use crate::tools::FromToolValue;
use crate::wire::{self, DecodeError, Endpoint};

/// The answer of a tool Fastn ran: the provider's status and body, as Fastn's envelope
/// (`{"statusCode", "body", "rawBody"}`) carries them.
///
/// A provider's 4xx or 5xx is here, not an `Err`: check [`is_success`](Self::is_success)
/// or [`status`](Self::status), as with an API call's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    status: Option<u16>,
    body: Value,
    raw_body: Option<String>,
}

impl ToolOutput {
    /// The provider's HTTP status (`statusCode`); `None` when Fastn's envelope had none.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether the provider's status is below 400. An envelope without a status counts as
    /// success: Fastn ran the tool and answered 200 without saying more.
    pub fn is_success(&self) -> bool {
        self.status.is_none_or(|status| status < 400)
    }

    /// The provider's answer (`body`), `null` when the envelope had none.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The provider's answer as `T`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) when the body is not a `T`, saying what serde expected.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(&self.body).map_err(|err| {
            Error::invalid(Endpoint::ExecuteTool, format!("the tool's body is not the type asked for: {err}"))
        })
    }

    /// The provider's answer as a generated output type (`SlackListChannelsOutput`, made
    /// from the tool's `outputSchema`): what `.send().await?.typed()?` gives.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) when the provider
    /// answered a status of 400 or more (its body is an error, not the output), or the
    /// body does not fit `O`: the message names the JSON pointer and what was expected,
    /// never a value; [`Error::response_body`] holds the body as it came.
    pub fn typed<O: FromToolValue>(&self) -> Result<O> {
        let refused = |message: String| -> Error {
            let body = match &self.raw_body {
                Some(raw) => raw.clone(),
                None => self.body.to_string(),
            };
            ErrorKind::InvalidResponse {
                endpoint: Endpoint::ExecuteTool,
                request: None,
                message,
                body: Some(body),
                source: None,
            }
            .into()
        };
        if !self.is_success() {
            let status = self.status.unwrap_or_default();
            return Err(refused(format!(
                "the provider answered {status}: its body is an error, not the tool's output"
            )));
        }
        O::from_value(self.body.clone())
            .map_err(|err| refused(format!("the tool's body does not fit its output type: {err}")))
    }

    /// The provider's answer as Fastn received it (`rawBody`), when the envelope has it.
    pub fn raw_body(&self) -> Option<&str> {
        self.raw_body.as_deref()
    }

    /// The body, owned.
    pub fn into_body(self) -> Value {
        self.body
    }
}

/// A tool's answer with its body as the JSON text Fastn sent, not decoded: for a body too
/// large to hold as a [`Value`] tree (which takes up to twenty times its text), to write
/// out or parse as a stream. Made by [`ToolCall::send_raw`](crate::tools::ToolCall::send_raw).
#[derive(Debug)]
pub struct RawToolOutput {
    status: Option<u16>,
    body: Box<RawValue>,
    raw_body: Option<String>,
}

impl RawToolOutput {
    /// The provider's HTTP status (`statusCode`); `None` when Fastn's envelope had none.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether the provider's status is below 400, as [`ToolOutput::is_success`].
    pub fn is_success(&self) -> bool {
        self.status.is_none_or(|status| status < 400)
    }

    /// The provider's answer (`body`) as JSON text, `null` when the envelope had none.
    pub fn body(&self) -> &str {
        self.body.get()
    }

    /// The provider's answer as Fastn received it (`rawBody`), when the envelope has it.
    pub fn raw_body(&self) -> Option<&str> {
        self.raw_body.as_deref()
    }
}

/// Reads Fastn's envelope ([`wire::tools::decode_answer`]).
pub(crate) fn decode(body: &[u8]) -> std::result::Result<ToolOutput, DecodeError> {
    let wire::tools::Answer { status, body, raw_body } = wire::tools::decode_answer(body)?;
    Ok(ToolOutput { status, body, raw_body })
}

/// As [`decode`], the body kept as its JSON text.
pub(crate) fn decode_raw(body: &[u8]) -> std::result::Result<RawToolOutput, DecodeError> {
    let wire::tools::Answer { status, body, raw_body } = wire::tools::decode_answer_raw(body)?;
    Ok(RawToolOutput { status, body, raw_body })
}

/// Fastn's refusal of a tool call, from its code (its status when it sent none,
/// [`wire::tools::refusal`]); `None` for answers that are no refusal (a 401 for the space's
/// key, a 5xx), which stay as they are.
pub(crate) fn refusal(err: &Error) -> Option<Error> {
    let ErrorKind::Network {
        request, status_code: Some(status), server_message, fastn_code, message, ..
    } = err.kind()
    else {
        return None;
    };
    let refusal = wire::tools::refusal(fastn_code.as_deref(), *status)?;
    Some(Error::from(ErrorKind::ToolRefused {
        request: request.clone(),
        refusal,
        message: message.clone(),
        status_code: *status,
        server_message: server_message.clone(),
        fastn_code: fastn_code.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_keeps_the_providers_status_and_body() {
        let output =
            decode(br#"{"statusCode": 404, "body": {"error": "channel_not_found"}, "rawBody": "{}"}"#)
                .unwrap();
        assert_eq!(output.status(), Some(404));
        assert!(!output.is_success());
        assert_eq!(output.body()["error"], "channel_not_found");
        assert_eq!(output.raw_body(), Some("{}"));
        let bare = decode(b"{}").unwrap();
        assert!(bare.is_success() && bare.body().is_null() && bare.status().is_none());
    }

    #[test]
    fn the_raw_envelope_keeps_the_bodys_text_and_checks_the_rest_alike() {
        let raw = decode_raw(br#"{"statusCode": 404, "body": {"error": [1, 2]}, "rawBody": "{}"}"#).unwrap();
        assert_eq!((raw.status(), raw.is_success(), raw.body()), (Some(404), false, r#"{"error": [1, 2]}"#));
        assert_eq!(raw.raw_body(), Some("{}"));
        assert_eq!(decode_raw(b"{}").unwrap().body(), "null");
        for (body, expected) in [
            (&br#"{"statusCode": 99}"#[..], "not an HTTP status"),
            (br#"{"rawBody": 5}"#, "`rawBody` is not a string"),
            (b"[1]", "expected a JSON object"),
            (b"<html>", "not JSON"),
        ] {
            let err = decode_raw(body).unwrap_err();
            assert!(err.message().contains(expected), "{err:?}");
        }
    }

    #[test]
    fn declared_values_are_checked() {
        for (body, expected) in [
            (&br#"{"statusCode": 99}"#[..], "not an HTTP status"),
            (br#"{"statusCode": 70000}"#, "not an HTTP status"),
            (br#"{"statusCode": -1}"#, "not an HTTP status"),
            (br#"{"statusCode": "200"}"#, "not a number"),
            (br#"{"rawBody": 5}"#, "`rawBody` is not a string"),
            (b"[1]", "expected a JSON object"),
            (b"<html>", "not JSON"),
        ] {
            let err = decode(body).unwrap_err();
            assert!(err.message().contains(expected), "{err:?}");
        }
    }
}
