//! Helpers shared by the integration tests: an emulator and a client pointed at it.
#![allow(dead_code)]

use std::time::Duration;

use fastn_auth::mock::{MockServer, MockServerBuilder};
use fastn_auth::{FastnAuth, FastnAuthBuilder, PollOptions};

pub const SPACE: &str = "space-1";

pub fn client_for(mock: &MockServer) -> FastnAuthBuilder {
    FastnAuth::builder(SPACE).api_key(MockServer::API_KEY).base_url(mock.base_url())
}

pub async fn start(builder: MockServerBuilder) -> (MockServer, FastnAuth) {
    let mock = builder.start().await.expect("emulator starts");
    let client = client_for(&mock).build().expect("client builds");
    (mock, client)
}

/// Fast polling for tests: 20 ms apart, 5 s at most.
pub fn fast() -> PollOptions {
    PollOptions::new(Duration::from_millis(20), Duration::from_secs(5))
}
