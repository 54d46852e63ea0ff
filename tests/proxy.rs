//! The proxy rule, with a recording proxy on loopback: the system proxy variables are
//! honoured only for `https` to a remote host (where the proxy sees a `CONNECT`, never the
//! key), and never for plain http or loopback.
//!
//! The variables must be set before a client exists, so the test runs the helper binary
//! `proxy-child` (`bin/proxy_child.rs`) with them set, and reads what the proxy saw.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use fastn_auth_emulator::MockServer;

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
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_proxy-child"));
    command.arg(role);
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        command.env(var, proxy);
    }
    command.env_remove("NO_PROXY").env_remove("no_proxy");
    let output = command.output().expect("the helper runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "proxy-child {role} failed:\n{text}");
    text
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
