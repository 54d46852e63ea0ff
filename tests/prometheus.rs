//! The README's Prometheus set-up, curled: `metrics-exporter-prometheus` serves the SDK's
//! counters on `/metrics`. One test in this binary: the recorder is process-wide.

use fastn_auth::CacheOptions;
use fastn_auth_emulator::{ConnectionKey, MockServer};
use metrics_exporter_prometheus::PrometheusBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counters_are_on_the_metrics_endpoint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    PrometheusBuilder::new().with_http_listener(([127, 0, 0, 1], port)).install().unwrap();
    let mock = MockServer::start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let client = mock.client_builder().cache(CacheOptions::default()).build().unwrap();
    for _ in 0..100 {
        client.credentials("slack").tenant_id("acme").send().await.unwrap();
    }
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut text = String::new();
    // The listener starts in the background: a few tries.
    for _ in 0..100 {
        if let Ok(answer) = reqwest::get(&url).await {
            text = answer.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let value = |line: &str| {
        text.lines().find(|l| l.starts_with(line)).map(|l| l.rsplit(' ').next().unwrap().to_owned())
    };
    assert_eq!(value("fastn_auth_cache_hits_total ").as_deref(), Some("99"), "{text}");
    assert_eq!(value("fastn_auth_cache_misses_total ").as_deref(), Some("1"), "{text}");
    assert_eq!(
        value("fastn_auth_upstream_requests_total{endpoint=\"credentials\",outcome=\"ok\"} ").as_deref(),
        Some("1"),
        "{text}"
    );
    assert!(text.contains("fastn_auth_upstream_request_seconds"), "{text}");
    assert!(!text.contains("acme"), "no tenant in a label");
}
