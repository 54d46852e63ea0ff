//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fastn_auth::PollOptions;

/// Fast polling for tests: 20 ms apart, 5 s at most.
pub fn fast() -> PollOptions {
    PollOptions::new(Duration::from_millis(20), Duration::from_secs(5))
}

/// Runs `futures` as tasks and collects their outputs in order.
pub async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("task does not panic"));
    }
    outputs
}

/// This test binary again, as a child process running only the test `name` (which acts on
/// the environment the caller sets), its output captured.
pub fn this_test_as_child(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for a child started by [`this_test_as_child`]: its output, after asserting it
/// succeeded.
pub fn output_of(child: Child) -> String {
    let output = child.wait_with_output().expect("the child runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "a child process failed:\n{text}");
    text
}
