//! The proxy rule, with a recording proxy on loopback: the system proxy variables are
//! honoured only for `https` to a remote host (where the proxy sees a `CONNECT`, never the
//! key), and never for plain http or loopback.
//!
//! The variables must be set before a client exists, so the test runs this binary again as
//! a child process with them set (`proxy_child`), and the parent reads what the proxy saw.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use fastn_auth::FastnAuth;
use fastn_auth_emulator::MockServer;

const ROLE: &str = "FASTN_AUTH_PROXY_TEST_ROLE";

/// A proxy that records every byte it receives and answers each connection with 502.
fn recording_proxy() -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let mut buf = [0; 4096];
            let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            if let Ok(n) = tcp.read(&mut buf) {
                log.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ =
                tcp.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

fn run_child(role: &str, proxy: &str) -> String {
    let mut command = common::this_test_as_child("proxy_child");
    command.env(ROLE, role);
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        command.env(var, proxy);
    }
    command.env_remove("NO_PROXY").env_remove("no_proxy");
    common::output_of(command.spawn().unwrap())
}

#[test]
fn proxy_variables_never_see_the_key() {
    let (proxy, seen) = recording_proxy();

    let out = run_child("loopback", &proxy);
    assert!(out.contains("loopback flow completed"), "{out}");
    assert!(seen.lock().unwrap().is_empty(), "a loopback base URL was proxied");

    let out = run_child("remote-https", &proxy);
    assert!(out.contains("remote call ended:"), "{out}");
    let seen = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(seen.starts_with("CONNECT fastn-proxy-test.invalid:443 "), "the https call tunnels: {seen:?}");
    assert!(
        !seen.contains(MockServer::API_KEY) && !seen.to_ascii_lowercase().contains("x-fastn"),
        "{seen:?}"
    );
}

/// The child's side; does nothing unless started by the test above.
#[test]
fn proxy_child() {
    let Ok(role) = std::env::var(ROLE) else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        match role.as_str() {
            "loopback" => {
                let mock = MockServer::builder().auto_approve_after_polls(1).start().await.unwrap();
                let session = mock.client().connect("slack").send().await.expect("not sent to the proxy");
                let options = fastn_auth::PollOptions::new(
                    std::time::Duration::from_millis(10),
                    std::time::Duration::from_secs(5),
                );
                session.wait_for_completion(options).await.expect("the flow completes");
                println!("loopback flow completed");
            }
            "remote-https" => {
                let client = FastnAuth::builder("space")
                    .api_key(MockServer::API_KEY)
                    .base_url("https://fastn-proxy-test.invalid/api")
                    .max_retries(0)
                    .build()
                    .unwrap();
                let err = client.connect("slack").send().await.unwrap_err();
                println!("remote call ended: {err}");
            }
            other => panic!("unknown role {other}"),
        }
    });
}
