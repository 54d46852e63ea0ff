//! For arbitrary ids, every request stays under `/connect/…` with each value in its own path
//! segment, and header-unsafe input is refused with `ErrorKind::Config` before anything is sent.

use std::sync::{Mutex, MutexGuard, OnceLock};

use fastn_auth::wire::MAX_ID_BYTES;
use fastn_auth::{CacheOptions, ErrorCode, ExposeSecret, FastnAuth, SessionHandle};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;

struct World {
    runtime: tokio::runtime::Runtime,
    mock: MockServer,
    client: FastnAuth,
}

/// One emulator for all cases (proptest runs hundreds of them), one case at a time so that
/// each reads its own requests from the log.
fn world() -> (MutexGuard<'static, ()>, &'static World) {
    static TURN: Mutex<()> = Mutex::new(());
    static WORLD: OnceLock<World> = OnceLock::new();
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    (
        turn,
        WORLD.get_or_init(|| {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            let mock = runtime
                .block_on(MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start())
                .unwrap();
            let client = mock.client();
            World { runtime, mock, client }
        }),
    )
}

/// The documented id rule: non-empty, at most `MAX_ID_BYTES`, no control character, no
/// leading or trailing space.
fn header_ok(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_BYTES
        && !value.chars().any(char::is_control)
        // Bidirectional overrides and marks: they make a line show other text than it holds.
        && !value.chars().any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'))
        && value.trim_matches(' ') == value
}

/// As a path segment, also not `.` or `..`.
fn segment_ok(id: &str) -> bool {
    header_ok(id) && id != "." && id != ".."
}

/// Any string, biased towards the characters that break paths and headers.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[./%?#\\\\ a-z\r\n\t\u{0}\u{7f}\u{85}é]{0,12}",
        Just(String::new()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("../admin".to_owned()),
        Just("x".repeat(MAX_ID_BYTES)),
        Just("x".repeat(MAX_ID_BYTES + 1)),
    ]
}

/// A usable id, biased towards the characters that encodings mix up.
fn usable_id() -> impl Strategy<Value = String> {
    "[a-c/%:. é_-]{1,6}".prop_filter("a usable id", |id| segment_ok(id))
}

/// A connection: org, optional tenant, optional connection.
fn connection() -> impl Strategy<Value = (String, Option<String>, Option<String>)> {
    (usable_id(), proptest::option::of(usable_id()), proptest::option::of(usable_id()))
}

fn decoded(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn cached_connections_never_see_each_others_token(connections in proptest::collection::hash_set(connection(), 1..6), order in proptest::collection::vec(0usize..100, 12)) {
        let (_turn, world) = world();
        static CASE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let connections: Vec<_> = connections.into_iter().collect();
        for (i, (org, tenant, connection)) in connections.iter().enumerate() {
            let mut key = ConnectionKey::new(MockServer::SPACE_ID, "slack").org_id(org.clone());
            if let Some(tenant) = tenant { key = key.tenant_id(tenant.clone()); }
            if let Some(connection) = connection { key = key.connection_id(connection.clone()); }
            world.mock.insert_connection(key, Some(serde_json::json!({ "access_token": format!("case{case}-token{i}"), "expires_in": 3600 })));
        }
        // A cache of its own per case, asked in an order that interleaves the connections.
        let cached = world.runtime.block_on(async { world.mock.client_builder().cache(CacheOptions::default()).build() }).unwrap();
        for pick in order {
            let i = pick % connections.len();
            let (org, tenant, connection) = &connections[i];
            let mut request = cached.credentials("slack").org_id(org.clone());
            if let Some(tenant) = tenant { request = request.tenant_id(tenant.clone()); }
            if let Some(connection) = connection { request = request.connection_id(connection.clone()); }
            let credentials = world.runtime.block_on(request.send()).unwrap();
            let token = credentials.access_token.as_ref().unwrap().expose_secret().to_owned();
            prop_assert_eq!(token, format!("case{case}-token{i}"), "{:?}", &connections[i]);
        }
    }

    #[test]
    fn init_requests_keep_every_id_in_its_own_segment(connector in id(), org in id(), tenant in id(), connection in id()) {
        let (_turn, world) = world();
        world.mock.clear_requests();
        let request = world.client.connect(connector.clone()).org_id(org.clone()).tenant_id(tenant.clone()).connection_id(connection.clone());
        let outcome = world.runtime.block_on(request.send());
        let requests = world.mock.requests();
        if segment_ok(&connector) && segment_ok(&org) && header_ok(&tenant) && header_ok(&connection) {
            prop_assert!(outcome.is_ok(), "{:?}", outcome.err());
            prop_assert_eq!(requests.len(), 1);
            let path = requests[0].path.strip_prefix("/api/connect/init/").expect("under /connect/init/");
            let segments: Vec<&str> = path.split('/').collect();
            prop_assert_eq!(segments.len(), 2, "{}", path);
            prop_assert_eq!(decoded(segments[0]), org);
            prop_assert_eq!(decoded(segments[1]), connector);
            prop_assert!(!path.contains('?') && !path.contains('#'));
            prop_assert_eq!(requests[0].header("x-fastn-space-tenantid"), Some(tenant.as_str()));
            prop_assert_eq!(requests[0].header("x-fastn-space-connection-id"), Some(connection.as_str()));
        } else {
            let err = outcome.expect_err("unusable input is refused");
            prop_assert_eq!(err.code(), ErrorCode::ConfigError);
            prop_assert!(requests.is_empty(), "nothing is sent: {:?}", requests);
        }
    }

    #[test]
    fn status_requests_keep_the_state_in_one_segment(state in id(), tenant in id()) {
        let (_turn, world) = world();
        world.mock.clear_requests();
        let handle: SessionHandle = serde_json::from_value(serde_json::json!({
            "connector_id": "slack", "org_id": "community", "tenant_id": tenant, "state": state,
        })).unwrap();
        let outcome = world.runtime.block_on(world.client.resume(handle).get_status());
        let requests = world.mock.requests();
        // In a stored handle, "" is "no tenant" (handles of earlier versions wrote it so).
        if segment_ok(&state) && (tenant.is_empty() || header_ok(&tenant)) {
            prop_assert_eq!(outcome.unwrap_err().status_code(), Some(404), "an unknown state");
            let path = requests[0].path.strip_prefix("/api/connect/status/").expect("under /connect/status/");
            prop_assert!(!path.contains('/') && !path.contains('?') && !path.contains('#'), "{}", path);
            prop_assert_eq!(decoded(path), state);
        } else {
            prop_assert_eq!(outcome.unwrap_err().code(), ErrorCode::ConfigError);
            prop_assert!(requests.is_empty());
        }
    }
}
