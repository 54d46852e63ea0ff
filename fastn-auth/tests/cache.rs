//! The credentials cache against the emulator, on paused time: how many upstream requests
//! (counted by the emulator) many callers cause, and what they are served through expiry,
//! refreshes, outages and "not connected".

use std::collections::HashSet;
use std::time::Duration;

use fastn_auth::{CacheOptions, Endpoint, ExposeSecret, FastnAuth};
use fastn_auth_emulator::{ConnectionKey, Fault, MockServer};
use serde_json::json;
use tokio::task::JoinSet;

const TENANT: &str = "acme";

/// An emulator with a Slack connection for `TENANT` whose token lives `expires_in` seconds,
/// and a caching client of it.
async fn setup(expires_in: u64, options: CacheOptions) -> (MockServer, FastnAuth) {
    let mock = MockServer::start().await.unwrap();
    let key = ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(TENANT);
    mock.insert_connection(
        key,
        Some(json!({ "access_token": "token-1", "expires_in": expires_in, "team_id": "T1" })),
    );
    let client = mock.client_builder().cache(options).build().unwrap();
    (mock, client)
}

fn upstream(mock: &MockServer) -> usize {
    mock.requests().iter().filter(|r| r.path.contains("/connect/credentials/")).count()
}

/// `callers` concurrent credentials requests; their tokens, or the first error.
async fn many(client: &FastnAuth, callers: usize, fresh: bool) -> Result<Vec<String>, fastn_auth::Error> {
    let mut tasks = JoinSet::new();
    for _ in 0..callers {
        let client = client.clone();
        tasks.spawn(async move {
            let request = client.credentials("slack").tenant_id(TENANT);
            let request = if fresh { request.fresh() } else { request };
            request
                .send()
                .await
                .map(|c| c.access_token.map(|t| t.expose_secret().to_owned()).unwrap_or_default())
        });
    }
    let mut tokens = Vec::with_capacity(callers);
    while let Some(joined) = tasks.join_next().await {
        tokens.push(joined.expect("no panic")?);
    }
    Ok(tokens)
}

#[tokio::test(start_paused = true)]
async fn a_thousand_callers_on_a_cold_key_cause_one_fetch() {
    let (mock, client) = setup(3600, CacheOptions::default()).await;
    let tokens = many(&client, 1000, false).await.unwrap();
    assert!(tokens.iter().all(|t| t == "token-1"));
    assert_eq!(upstream(&mock), 1);
    let stats = client.cache_stats().unwrap();
    assert_eq!((stats.misses, stats.hits + stats.coalesced >= 999, stats.entries), (1, true, 1), "{stats:?}");

    many(&client, 1000, false).await.unwrap();
    assert_eq!(upstream(&mock), 1, "a warm key costs nothing");
}

#[tokio::test(start_paused = true)]
async fn after_expiry_a_thousand_callers_cause_one_fetch() {
    let (mock, client) = setup(600, CacheOptions::default()).await;
    many(&client, 1, false).await.unwrap();
    tokio::time::advance(Duration::from_secs(601)).await;
    many(&client, 1000, false).await.unwrap();
    assert_eq!(upstream(&mock), 2);
}

#[tokio::test(start_paused = true)]
async fn a_thousand_fresh_requests_cause_one_fetch() {
    let (mock, client) = setup(3600, CacheOptions::default()).await;
    many(&client, 1, false).await.unwrap();
    many(&client, 1000, true).await.unwrap();
    assert_eq!(upstream(&mock), 2, "one warm-up, one fetch for all the fresh requests");
    many(&client, 1, true).await.unwrap();
    assert_eq!(upstream(&mock), 3, "a later fresh request is newer than the cache again");
}

#[tokio::test(start_paused = true)]
async fn a_refresh_ahead_serves_the_others_meanwhile() {
    let (mock, client) = setup(600, CacheOptions::default()).await;
    many(&client, 1, false).await.unwrap();
    // 5 minutes' margin: the refresh window opens 300 to 360 s after the fetch.
    tokio::time::advance(Duration::from_secs(400)).await;
    mock.insert_connection(
        ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(TENANT),
        Some(json!({ "access_token": "token-2", "expires_in": 600 })),
    );
    let tokens = many(&client, 200, false).await.unwrap();
    assert_eq!(upstream(&mock), 2, "one refresh");
    assert!(tokens.contains(&"token-1".to_owned()), "callers during the refresh got the valid token");
    assert!(tokens.contains(&"token-2".to_owned()), "the refresher got the new one");
    assert_eq!(many(&client, 1, false).await.unwrap(), ["token-2"]);
    assert_eq!(client.cache_stats().unwrap().refreshes_ahead, 1);
}

#[tokio::test(start_paused = true)]
async fn a_refresh_during_an_outage_serves_the_valid_token_then_fails_after_expiry() {
    let (mock, client) = setup(600, CacheOptions::default()).await;
    many(&client, 1, false).await.unwrap();
    tokio::time::advance(Duration::from_secs(400)).await;
    mock.inject_times(Endpoint::Credentials, Fault::status(503), 100_000);
    for _ in 0..5 {
        let tokens = many(&client, 100, false).await.expect("0 caller errors while the token is valid");
        assert!(tokens.iter().all(|t| t == "token-1"));
        tokio::time::advance(Duration::from_secs(10)).await;
    }
    let stats = client.cache_stats().unwrap();
    assert!(stats.stale_served_on_error >= 1, "{stats:?}");
    assert!(
        upstream(&mock) <= 1 + 5 * 3,
        "a failed refresh is retried at most every 5 s: {}",
        upstream(&mock)
    );

    tokio::time::advance(Duration::from_secs(200)).await;
    let err = many(&client, 10, false).await.unwrap_err();
    assert_eq!(err.status_code(), Some(503), "past expiry, Fastn down is an error, not a stale token");
    assert!(err.is_transient());
}

#[tokio::test(start_paused = true)]
async fn not_connected_is_remembered_for_its_ttl_only_and_transient_errors_never() {
    let mock = MockServer::start().await.unwrap();
    let client = mock.client_builder().cache(CacheOptions::default()).max_retries(0).build().unwrap();
    let ask = || client.credentials("slack").tenant_id("nobody").send();
    assert!(ask().await.unwrap_err().is_not_found());
    let again = ask().await.unwrap_err();
    assert!(again.is_not_found() && again.server_message().is_some(), "{again:?}");
    assert_eq!(upstream(&mock), 1, "the 404 was remembered");
    assert_eq!(client.cache_stats().unwrap().not_found_hits, 1);
    assert!(client.credentials("slack").tenant_id("nobody").fresh().send().await.unwrap_err().is_not_found());
    assert_eq!(upstream(&mock), 2, "fresh() asks again");

    tokio::time::advance(Duration::from_secs(6)).await;
    ask().await.unwrap_err();
    assert_eq!(upstream(&mock), 3, "after its 5 s, the 404 is asked again");

    mock.inject(Endpoint::Credentials, Fault::status(503));
    let other = || client.credentials("slack").tenant_id("other").send();
    assert_eq!(other().await.unwrap_err().status_code(), Some(503));
    assert!(other().await.unwrap_err().is_not_found(), "the 503 was not remembered");
    assert_eq!(upstream(&mock), 5);
}

#[tokio::test(start_paused = true)]
async fn the_flow_seeds_the_cache_and_no_token_prints() {
    let mock = MockServer::builder().auto_approve_after_polls(1).start().await.unwrap();
    let client = mock.client_builder().cache(CacheOptions::default()).build().unwrap();
    let session = client.connect("slack").tenant_id(TENANT).send().await.unwrap();
    let options = fastn_auth::PollOptions::new(Duration::from_millis(10), Duration::from_secs(5));
    let from_flow = session.wait_for_completion(options).await.unwrap();
    let later = client.credentials("slack").tenant_id(TENANT).send().await.unwrap();
    assert_eq!(upstream(&mock), 1, "the flow's fetch seeded the cache");
    let token = later.access_token.as_ref().unwrap().expose_secret();
    assert_eq!(from_flow.access_token.as_ref().unwrap().expose_secret(), token);
    let shown = format!("{client:?} {:?}", client.cache_stats());
    assert!(!shown.contains(token), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn max_entries_is_respected() {
    let mock = MockServer::start().await.unwrap();
    let client = mock.client_builder().cache(CacheOptions::default().max_entries(10)).build().unwrap();
    for i in 0..50 {
        let tenant = format!("t{i}");
        mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(&tenant), None);
        client.credentials("slack").tenant_id(tenant).send().await.unwrap();
        assert!(client.cache_stats().unwrap().entries <= 10);
    }
    assert!(client.cache_stats().unwrap().evictions >= 40);
    // The most recent are still there.
    client.credentials("slack").tenant_id("t49").send().await.unwrap();
    assert_eq!(upstream(&mock), 50);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_fetch_hands_over_to_a_waiting_caller() {
    let (mock, client) = setup(3600, CacheOptions::default()).await;
    mock.inject(Endpoint::Credentials, Fault::Hang);
    let leader = tokio::spawn({
        let client = client.clone();
        async move { client.credentials("slack").tenant_id(TENANT).send().await }
    });
    tokio::task::yield_now().await;
    let waiter = tokio::spawn({
        let client = client.clone();
        async move { client.credentials("slack").tenant_id(TENANT).send().await }
    });
    tokio::task::yield_now().await;
    leader.abort();
    let creds = waiter.await.unwrap().expect("the waiter fetched after the leader was cancelled");
    assert_eq!(creds.access_token.unwrap().expose_secret(), "token-1");
    assert_eq!(upstream(&mock), 2);
}

#[tokio::test(start_paused = true)]
async fn tenants_connections_and_orgs_never_share_a_token() {
    // Every combination of a few orgs, tenants and connections, each with its own token,
    // asked in an order that interleaves them, twice.
    let mock = MockServer::start().await.unwrap();
    let client = mock.client_builder().cache(CacheOptions::default()).build().unwrap();
    let mut keys = Vec::new();
    for org in ["community", "org-b"] {
        for tenant in [None, Some("acme"), Some("globex")] {
            for connection in [None, Some("c1"), Some("c2")] {
                let mut key = ConnectionKey::new(MockServer::SPACE_ID, "slack").org_id(org);
                if let Some(tenant) = tenant {
                    key = key.tenant_id(tenant);
                }
                if let Some(connection) = connection {
                    key = key.connection_id(connection);
                }
                let token = format!("{org}/{tenant:?}/{connection:?}");
                mock.insert_connection(key, Some(json!({ "access_token": token, "expires_in": 3600 })));
                keys.push((org, tenant, connection, token));
            }
        }
    }
    let mut rng = fastrand::Rng::with_seed(11);
    let mut order: Vec<usize> = (0..keys.len()).chain(0..keys.len()).collect();
    rng.shuffle(&mut order);
    let mut seen = HashSet::new();
    for i in order {
        let (org, tenant, connection, token) = &keys[i];
        let mut request = client.credentials("slack").org_id(*org);
        if let Some(tenant) = tenant {
            request = request.tenant_id(*tenant);
        }
        if let Some(connection) = connection {
            request = request.connection_id(*connection);
        }
        let creds = request.send().await.unwrap();
        assert_eq!(creds.access_token.unwrap().expose_secret(), token);
        seen.insert(i);
    }
    assert_eq!(seen.len(), keys.len());
    assert_eq!(upstream(&mock), keys.len(), "one fetch per connection");
}

#[tokio::test]
async fn extreme_settings_never_panic() {
    let mock = MockServer::builder()
        .header_read_timeout(Duration::MAX)
        .flow_ttl(Duration::MAX)
        .request_log(usize::MAX)
        .auto_approve_after(Duration::MAX)
        .start()
        .await
        .unwrap();
    connect_acme(&mock);
    for duration in [Duration::ZERO, Duration::from_nanos(1), Duration::MAX] {
        let options = CacheOptions::default()
            .max_entries(usize::MAX)
            .ttl_without_expiry(duration)
            .refresh_margin(duration)
            .not_found_ttl(duration);
        let client = mock.client_builder().cache(options).build().unwrap();
        for _ in 0..3 {
            client
                .credentials("slack")
                .tenant_id(TENANT)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{duration:?}: {e}"));
            assert!(client.credentials("slack").tenant_id("nobody").send().await.unwrap_err().is_not_found());
        }
    }
    let zero = mock.client_builder().cache(CacheOptions::default().max_entries(0)).build().unwrap_err();
    assert_eq!(zero.code(), fastn_auth::ErrorCode::ConfigError);
}

fn connect_acme(mock: &MockServer) {
    let key = ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(TENANT);
    mock.insert_connection(key, Some(json!({ "access_token": "token-1", "expires_in": 3600 })));
}

#[tokio::test(start_paused = true)]
async fn hits_hand_out_the_one_token_the_cache_holds_not_copies() {
    let (mock, client) = setup(3600, CacheOptions::default()).await;
    let first = client.credentials("slack").tenant_id(TENANT).send().await.unwrap();
    let second = client.credentials("slack").tenant_id(TENANT).send().await.unwrap();
    let (first, second) = (first.access_token.unwrap(), second.access_token.unwrap());
    assert!(std::sync::Arc::ptr_eq(&first, &second), "a hit shares the cached token");
    assert_eq!(second.expose_secret(), "token-1");
    assert_eq!(format!("{second:?}"), "SecretBox<str>([REDACTED])");
    assert_eq!(upstream(&mock), 1);
}
