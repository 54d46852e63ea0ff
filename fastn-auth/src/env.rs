//! The environment variables [`FastnAuth::from_env`](crate::FastnAuth::from_env) reads, in
//! one list: the `fastn-auth` command line reads the same ones, by these names.

/// The Fastn space (project) id. Required.
pub const SPACE_ID: &str = "FASTN_SPACE_ID";
/// The space's API key, sent as `x-fastn-api-key`; or set [`AUTH_TOKEN`], not both.
pub const API_KEY: &str = "FASTN_API_KEY";
/// A bearer token instead of an API key.
pub const AUTH_TOKEN: &str = "FASTN_AUTH_TOKEN";
/// The Fastn API's base URL (default [`DEFAULT_BASE_URL`](crate::limits::DEFAULT_BASE_URL)):
/// the emulator's `http://127.0.0.1:8787/api` for local runs.
pub const BASE_URL: &str = "FASTN_BASE_URL";
/// Where every connector's API calls go instead of the connector's own API, as
/// `{url}/{connector_id}/…`: the emulator's provider API
/// (`http://127.0.0.1:8787/_provider`). See
/// [`FastnAuthBuilder::api_gateway`](crate::FastnAuthBuilder::api_gateway).
pub const API_GATEWAY: &str = "FASTN_API_GATEWAY";

/// Every variable read, in the order of this module.
pub const ALL: &[&str] = &[SPACE_ID, API_KEY, AUTH_TOKEN, BASE_URL, API_GATEWAY];
