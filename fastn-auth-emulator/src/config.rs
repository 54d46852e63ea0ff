//! How a [`MockServer`](crate::MockServer) answers: when flows approve themselves, and the
//! wire shape of its credentials.

use std::time::Duration;

/// When flows approve themselves without anyone clicking Approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AutoApprove {
    /// Only [`MockServer::approve`](crate::MockServer::approve) or the consent page approve (the default).
    #[default]
    Never,
    /// The first poll at least this long after init sees `ACTIVE` (`Duration::ZERO`: at once).
    After(Duration),
    /// The n-th poll sees `ACTIVE` (1: the first).
    AfterPolls(u32),
}

/// The shape of the emulator's error answers: Fastn's documented envelope, or one of the
/// older shapes some of its paths still return, to test a client against each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ErrorShape {
    /// `{"success": false, "error": {"code", "message", "retryAfter"?}}` (the default, as
    /// documented).
    #[default]
    Documented,
    /// `{"error": "CODE", "message": …}`.
    ErrorString,
    /// `{"code": "CODE", "statusCode": N, "message": …}`.
    CodeAndStatus,
}

/// Whether credentials come wrapped in `{"success": true, "credentials": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Wrapping {
    /// `{"success": true, "credentials": {…}}` (the default, as the live API).
    #[default]
    Envelope,
    /// The credentials object alone.
    Bare,
}

/// How the common credential keys are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyCase {
    /// `access_token`, `refresh_token`, `expires_at`, `expires_in` (the default; client 1.0.5).
    #[default]
    Snake,
    /// `accessToken`, `refreshToken`, `expiresAt`, `expiresIn` (client 1.0.4).
    Camel,
}

/// The wire shape of the credentials endpoint's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CredentialsShape {
    /// Envelope or bare object.
    pub wrapping: Wrapping,
    /// snake_case or camelCase common keys.
    pub keys: KeyCase,
}
