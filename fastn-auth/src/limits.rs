//! The SDK's defaults and limits, in one place: what a call may cost at most, and what the
//! builder accepts.

pub use crate::cache::{MAX_UNAUTHORIZED_BACKOFF, UNAUTHORIZED_BACKOFF};
pub use crate::client::{MAX_IN_FLIGHT, MAX_RETRIES};
pub use crate::response::DEFAULT_MAX_API_BODY;
pub use crate::transport::{
    MAX_BODY_BYTES, MAX_RESET_WAIT, MAX_RETRY_DELAY, MIN_RETRY_DELAY, POOL_IDLE_TIMEOUT,
};
pub use crate::wire::{
    DEFAULT_BASE_URL, DEFAULT_ORG_ID, MAX_ID_BYTES, MAX_SERVER_TEXT_CHARS, MAX_STATE_BYTES,
};
