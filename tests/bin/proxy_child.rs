//! A helper of `proxy.rs`, not a test: a client made with the proxy variables that the
//! parent test set in this process's environment (they must be set before a client exists).
//! `proxy-child loopback` runs a flow against an emulator on loopback; `proxy-child
//! remote-https` makes one call to an https host that does not exist.

use std::time::Duration;

use fastn_auth::{FastnAuth, PollOptions};
use fastn_auth_emulator::MockServer;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("loopback") => {
            let mock = MockServer::builder().auto_approve_after_polls(1).start().await.expect("an emulator");
            let session = mock.client().connect("slack").send().await.expect("not sent to the proxy");
            let options = PollOptions::new(Duration::from_millis(10), Duration::from_secs(5));
            session.wait_for_completion(options).await.expect("the flow completes");
            println!("loopback flow completed");
        }
        Some("remote-https") => {
            let client = FastnAuth::builder("space")
                .api_key(MockServer::API_KEY)
                .base_url("https://fastn-proxy-test.invalid/api")
                .max_retries(0)
                .build()
                .expect("a valid client");
            let err = client.connect("slack").send().await.expect_err("no such host");
            println!("remote call ended: {err}");
        }
        other => {
            eprintln!("usage: proxy-child loopback|remote-https (got {other:?})");
            std::process::exit(2);
        }
    }
}
