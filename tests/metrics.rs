//! What the SDK reports through the `metrics` facade (feature `metrics`), read from a
//! debugging recorder: the counts a user would graph, and labels that never name a tenant
//! or hold a token. One test in this binary: the recorder is process-wide.

use std::time::Duration;

use fastn_auth::{CacheOptions, PollOptions};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

const TENANT: &str = "tenant-METRICS-CANARY-3e1";
const TOKEN: &str = "xoxb-METRICS-CANARY-77a";

#[tokio::test]
async fn one_miss_and_99_hits_are_counted_and_no_label_names_a_tenant_or_a_token() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder of this process");

    let mock = MockServer::builder().auto_approve_after_polls(2).start().await.unwrap();
    let credentials = serde_json::json!({ "access_token": TOKEN, "expires_in": 3600 });
    mock.insert_connection(
        ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(TENANT),
        Some(credentials),
    );
    let client = mock.client_builder().cache(CacheOptions::default()).build().unwrap();
    for _ in 0..100 {
        client.credentials("slack").tenant_id(TENANT).send().await.unwrap();
    }
    let (counters, _) = read(&snapshotter);
    assert_eq!(count(&counters, "fastn_auth_cache_hits_total", &[]), 99, "{counters:?}");
    assert_eq!(count(&counters, "fastn_auth_cache_misses_total", &[]), 1);
    // A flow: an init and its polls; and a tenant that is not connected (a 4xx).
    let session = client.connect("notion").tenant_id(TENANT).send().await.unwrap();
    session
        .wait_for_completion(PollOptions::new(Duration::from_millis(5), Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(client.credentials("slack").tenant_id("nobody").send().await.unwrap_err().is_not_found());

    // A snapshot drains the recorder: from here on, what the flow and `nobody` added.
    let (counters, histograms) = read(&snapshotter);
    let count = |name: &str, labels: &[(&str, &str)]| count(&counters, name, labels);
    assert_eq!(count("fastn_auth_cache_hits_total", &[]), 0, "{counters:?}");
    assert_eq!(count("fastn_auth_cache_misses_total", &[]), 2, "the flow's seed, nobody");
    let ok =
        |endpoint| count("fastn_auth_upstream_requests_total", &[("endpoint", endpoint), ("outcome", "ok")]);
    assert_eq!((ok("init"), ok("status"), ok("credentials")), (1, 2, 1), "{counters:?}");
    let not_found = [("endpoint", "credentials"), ("outcome", "client_error")];
    assert_eq!(count("fastn_auth_upstream_requests_total", &not_found), 1);
    assert_eq!(count("fastn_auth_polls_total", &[]), 2);
    assert_eq!(count("fastn_auth_store_errors_total", &[]), 0);
    // The flow made a connection: one health event, by kind (never by tenant).
    assert_eq!(count("fastn_auth_connection_events_total", &[("kind", "connected")]), 1, "{counters:?}");
    let timed: usize = histograms
        .iter()
        .filter(|(name, _, _)| name == "fastn_auth_upstream_request_seconds")
        .map(|(_, _, samples)| samples)
        .sum();
    assert_eq!(timed, 5, "every upstream request is timed: {histograms:?}");
}

type Counters = Vec<(String, Vec<(String, String)>, u64)>;
type Histograms = Vec<(String, Vec<(String, String)>, usize)>;

/// Every counter and histogram recorded so far, each label checked on the way: none may
/// name a tenant or hold a token.
fn read(snapshotter: &metrics_util::debugging::Snapshotter) -> (Counters, Histograms) {
    let mut counters = Vec::new();
    let mut histograms = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<(String, String)> =
            key.labels().map(|label| (label.key().to_owned(), label.value().to_owned())).collect();
        for (_, value) in &labels {
            assert!(
                !value.contains("CANARY") && !value.contains("nobody"),
                "a label names a tenant or token: {key:?}"
            );
        }
        match value {
            DebugValue::Counter(count) => counters.push((key.name().to_owned(), labels, count)),
            DebugValue::Histogram(values) => histograms.push((key.name().to_owned(), labels, values.len())),
            DebugValue::Gauge(_) => {}
        }
    }
    (counters, histograms)
}

/// The sum of the counter `name` over every label set holding `labels`.
fn count(counters: &Counters, name: &str, labels: &[(&str, &str)]) -> u64 {
    counters
        .iter()
        .filter(|(metric, have, _)| {
            metric == name && labels.iter().all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
        })
        .map(|(_, _, count)| count)
        .sum()
}
