//! Helpers shared by the integration tests.
#![allow(dead_code)]

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
