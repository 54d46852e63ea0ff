//! A helper of `browser.rs`, not a test: one replica of the web_app example, its flow
//! handles on Redis. `web-replica FASTN_BASE_URL REDIS_URL` prints the replica's URL and
//! serves until its stdin closes.

#[path = "../../examples/web_app.rs"]
mod web_app;

use fastn_auth::FastnAuth;
use fastn_auth_axum::RedisHandles;
use fastn_auth_emulator::MockServer;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, redis_url] = &args[..] else {
        eprintln!("usage: web-replica FASTN_BASE_URL REDIS_URL");
        std::process::exit(2);
    };
    let client = FastnAuth::builder(MockServer::SPACE_ID)
        .api_key(MockServer::API_KEY)
        .base_url(base_url.clone())
        .build()
        .expect("a valid client");
    // Every replica seals and opens records with the same key, as a fleet's would.
    let store = fastn_auth_redis::RedisStore::builder([7; 32]).url(redis_url).key_prefix("web-replica");
    let handles = RedisHandles::new(store.build().expect("a Redis URL"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    println!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, web_app::app(client, handles)).await });
    // Serve until the test closes our stdin (or kills us).
    let _ = tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await;
}
