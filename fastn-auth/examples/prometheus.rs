//! The SDK's metrics on a Prometheus endpoint (feature `metrics`, exporter
//! `metrics-exporter-prometheus`), while a service calls for credentials through its cache:
//!
//! ```text
//! cargo run -p fastn-auth --example prometheus --features metrics
//! curl -s http://127.0.0.1:9000/metrics | grep fastn_auth
//! ```
//!
//! `METRICS_ADDR` changes the address. Offline against the emulator; Ctrl-C stops it.

use std::net::SocketAddr;
use std::time::Duration;

use fastn_auth::CacheOptions;
use fastn_auth_emulator::{ConnectionKey, MockServer};
use metrics_exporter_prometheus::PrometheusBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("METRICS_ADDR").as_deref().unwrap_or("127.0.0.1:9000").parse()?;
    // Any exporter of the `metrics` facade works; this one serves GET /metrics.
    PrometheusBuilder::new().with_http_listener(addr).install()?;

    let emulator = MockServer::start().await?;
    for tenant in ["acme", "globex"] {
        emulator.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(tenant), None);
    }
    let client = emulator.client_builder().cache(CacheOptions::default()).build()?;
    println!("metrics on http://{addr}/metrics — try: curl -s http://{addr}/metrics | grep fastn_auth");
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                for tenant in ["acme", "globex", "initech"] {
                    // initech never connected: a 404 each time, remembered for 5 s.
                    let _ = client.credentials("slack").tenant_id(tenant).send().await;
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
