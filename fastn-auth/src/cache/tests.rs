//! The cache's decisions and its shared level on a store in memory, on paused time.

use super::options::*;
use super::slot::*;
use super::*;
use crate::error::Error;
use crate::store::CacheStore;
use crate::store::{LockToken, StoreFuture};
use std::collections::HashMap;
use std::time::Duration;

/// A store that is never reached: these tests look at keys only.
#[derive(Debug)]
struct Keyed(Option<[u8; 32]>);

impl CacheStore for Keyed {
    fn get<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async { Ok(None) })
    }
    fn set<'a>(&'a self, _: &'a str, _: &'a [u8], _: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
    fn try_lock<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, Option<LockToken>> {
        Box::pin(async { Ok(None) })
    }
    fn unlock<'a>(&'a self, _: &'a str, _: LockToken) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
    fn identity_key(&self) -> Option<[u8; 32]> {
        self.0
    }
}

fn key(
    base: &str,
    space: &str,
    credential: Credential<'_>,
    store_key: Option<[u8; 32]>,
    target: &Target,
) -> String {
    let options = CacheOptions::default().store(Keyed(store_key));
    Cache::new(options, &url::Url::parse(base).unwrap(), space, credential).store_key(target.key())
}

fn target(tenant: Option<&str>, connection: Option<&str>) -> Target {
    Target {
        connector_id: "slack".into(),
        org_id: "community".into(),
        tenant_id: tenant.map(Into::into),
        connection_id: connection.map(Into::into),
    }
}

#[test]
fn store_keys_bind_everything_that_decides_the_answer() {
    let base = "https://live.fastn.ai/api";
    let acme = target(Some("acme"), None);
    let reference = key(base, "s", Credential::ApiKey("k1"), Some([1; 32]), &acme);
    let others = [
        key("https://live.fastn.ai/other/api", "s", Credential::ApiKey("k1"), Some([1; 32]), &acme),
        key("http://live.fastn.ai/api", "s", Credential::ApiKey("k1"), Some([1; 32]), &acme),
        key("https://live.fastn.ai:8443/api", "s", Credential::ApiKey("k1"), Some([1; 32]), &acme),
        key(base, "s2", Credential::ApiKey("k1"), Some([1; 32]), &acme),
        key(base, "s", Credential::ApiKey("k2"), Some([1; 32]), &acme),
        key(base, "s", Credential::Token("k1"), Some([1; 32]), &acme),
        key(base, "s", Credential::ApiKey("k1"), Some([2; 32]), &acme),
        key(base, "s", Credential::ApiKey("k1"), None, &acme),
        key(base, "s", Credential::ApiKey("k1"), Some([1; 32]), &target(None, None)),
        key(base, "s", Credential::ApiKey("k1"), Some([1; 32]), &target(Some(""), None)),
        key(base, "s", Credential::ApiKey("k1"), Some([1; 32]), &target(Some("acme"), Some(""))),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_ne!(other, &reference, "case {i}");
    }
    assert_eq!(
        key("https://live.fastn.ai:443/api/", "s", Credential::ApiKey("k1"), Some([1; 32]), &acme),
        reference,
        "one URL, two spellings"
    );
    assert!(!reference.contains("k1"), "{reference}");
    // Absent, empty and a tenant named `!` are three keys.
    let absent = key(base, "s", Credential::ApiKey("k1"), None, &target(None, None));
    let empty = key(base, "s", Credential::ApiKey("k1"), None, &target(Some(""), None));
    let bang = key(base, "s", Credential::ApiKey("k1"), None, &target(Some("!"), None));
    assert!(absent != empty && empty != bang && absent != bang, "{absent} {empty} {bang}");
}

// ---- The slot's decisions, one call at a time.

fn raw(token: &str, expires_in: Duration) -> Credentials<Map<String, Value>> {
    let expires_at = SystemTime::now() + expires_in;
    Credentials::from_parts(Some(crate::credentials::token(token.into())), None, Some(expires_at), Map::new())
}

fn slot_with(now: Instant, generation: u64, refresh_in: Duration, valid_for: Duration) -> Slot {
    let mut slot = Slot::new(now);
    let cached = Cached {
        raw: raw("t", valid_for),
        views: Vec::new(),
        generation,
        refresh_at: now + refresh_in,
        valid_until: now + valid_for,
    };
    slot.cached = Some(cached);
    slot
}

fn decide(
    slot: &mut Slot,
    freshness: Freshness,
    seen: &mut Option<u64>,
    now: Instant,
) -> (&'static str, CacheStats) {
    let target = target(Some("acme"), None);
    let mut stats = CacheStats::default();
    let step = slot.decide::<Map<String, Value>>(
        Call { key: target.key(), freshness },
        seen,
        &mut stats,
        &mut Ids(10),
        now,
    );
    let kind = match step {
        Step::Serve(..) => "serve",
        Step::Fail(_) => "fail",
        Step::Wait(_) => "wait",
        Step::Lead { ahead: true, .. } => "lead ahead",
        Step::Lead { ahead: false, .. } => "lead",
    };
    (kind, stats)
}

#[test]
fn a_cold_slot_leads_one_fetch_and_the_others_wait_for_it() {
    let now = Instant::now();
    let mut slot = Slot::new(now);
    let (first, stats) = decide(&mut slot, Freshness::Any, &mut None, now);
    assert_eq!((first, stats.misses), ("lead", 1));
    let (second, stats) = decide(&mut slot, Freshness::Any, &mut None, now);
    assert_eq!((second, stats.coalesced), ("wait", 1));
}

#[test]
fn a_valid_answer_is_served_and_refreshed_ahead_by_one_caller_only() {
    let now = Instant::now();
    let minute = Duration::from_secs(60);
    let mut slot = slot_with(now, 1, minute, 10 * minute);
    assert_eq!(decide(&mut slot, Freshness::Any, &mut None, now).0, "serve");
    let later = now + 2 * minute; // inside the refresh window, still valid
    assert_eq!(decide(&mut slot, Freshness::Any, &mut None, later).0, "lead ahead");
    assert_eq!(decide(&mut slot, Freshness::Any, &mut None, later).0, "serve", "served during the refresh");
    let expired = now + 11 * minute;
    slot.inflight = None;
    assert_eq!(decide(&mut slot, Freshness::Any, &mut None, expired).0, "lead", "past expiry: a miss");
}

#[test]
fn fresh_wants_an_answer_newer_than_the_one_it_saw() {
    let now = Instant::now();
    let mut slot = slot_with(now, 1, Duration::from_secs(60), Duration::from_secs(600));
    let mut seen = None;
    assert_eq!(decide(&mut slot, Freshness::Newer, &mut seen, now).0, "lead");
    assert_eq!(seen, Some(1));
    // Another fetch answered meanwhile (generation 2): that one will do.
    slot.inflight = None;
    slot.cached.as_mut().unwrap().generation = 2;
    assert_eq!(decide(&mut slot, Freshness::Newer, &mut seen, now).0, "serve");
    // A new caller saw generation 2: it wants newer still.
    assert_eq!(decide(&mut slot, Freshness::Newer, &mut None, now).0, "lead");
}

#[test]
fn a_rejected_token_is_replaced_once_whoever_notices_it_last() {
    let now = Instant::now();
    let mut slot = slot_with(now, 1, Duration::from_secs(60), Duration::from_secs(600));
    // Generation 1 was rejected: its caller leads the refresh, the next one waits.
    assert_eq!(decide(&mut slot, Freshness::NewerThan(1), &mut None, now).0, "lead");
    assert_eq!(decide(&mut slot, Freshness::NewerThan(1), &mut None, now).0, "wait");
    // The refresh answered (generation 2). A caller whose generation-1 request is
    // answered 401 only now is served generation 2: no second refresh.
    slot.inflight = None;
    slot.cached.as_mut().unwrap().generation = 2;
    assert_eq!(decide(&mut slot, Freshness::NewerThan(1), &mut None, now).0, "serve");
    assert_eq!(decide(&mut slot, Freshness::NewerThan(2), &mut None, now).0, "lead");
    // A connection found gone is the answer to a rejected token too: no refetch.
    slot.inflight = None;
    slot.cached = None;
    slot.not_found = Some((now + Duration::from_secs(5), Arc::new(Error::config("gone"))));
    assert_eq!(decide(&mut slot, Freshness::NewerThan(2), &mut None, now).0, "fail");
}

#[test]
fn not_connected_is_remembered_for_its_time_only() {
    let now = Instant::now();
    let mut slot = Slot::new(now);
    let gone = Arc::new(Error::config("gone"));
    slot.not_found = Some((now + Duration::from_secs(5), gone));
    let (kind, stats) = decide(&mut slot, Freshness::Any, &mut None, now);
    assert_eq!((kind, stats.not_found_hits), ("fail", 1));
    assert_eq!(decide(&mut slot, Freshness::Newer, &mut None, now).0, "lead", "fresh() asks anyway");
    slot.inflight = None;
    assert_eq!(decide(&mut slot, Freshness::Any, &mut None, now + Duration::from_secs(6)).0, "lead");
    assert!(slot.not_found.is_none());
}

// ---- The shared level's lease and double-check, on a store in memory (paused time).

/// A `CacheStore` in memory with Redis's semantics for what the cache uses: values with
/// a TTL, `SET NX PX` locks released by token. `plant` is written just before the next
/// lock is taken (another replica writing between our look and our lock).
#[derive(Debug, Default)]
struct MemoryStore {
    values: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
    locks: Mutex<HashMap<String, (String, Option<Instant>)>>,
    plant: Mutex<Option<(String, Vec<u8>)>>,
}

impl MemoryStore {
    fn put(&self, key: &str, value: Vec<u8>) {
        self.values
            .lock()
            .unwrap()
            .insert(key.to_owned(), (value, Instant::now() + Duration::from_secs(3600)));
    }
}

impl CacheStore for Arc<MemoryStore> {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let now = Instant::now();
        let value =
            self.values.lock().unwrap().get(key).filter(|(_, until)| now < *until).map(|(v, _)| v.clone());
        Box::pin(async move { Ok(value) })
    }
    fn set<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()> {
        self.values.lock().unwrap().insert(key.to_owned(), (value.to_vec(), Instant::now() + ttl));
        Box::pin(async { Ok(()) })
    }
    fn try_lock<'a>(&'a self, key: &'a str, lease: Duration) -> StoreFuture<'a, Option<LockToken>> {
        if let Some((planted, value)) = self.plant.lock().unwrap().take() {
            self.put(&planted, value);
        }
        let now = Instant::now();
        let mut locks = self.locks.lock().unwrap();
        let held = locks.get(key).is_some_and(|(_, until)| until.is_none_or(|until| now < until));
        let token = (!held).then(|| {
            locks.insert(key.to_owned(), ("mine".to_owned(), Some(now + lease)));
            LockToken::new("mine")
        });
        Box::pin(async move { Ok(token) })
    }
    fn unlock<'a>(&'a self, key: &'a str, token: LockToken) -> StoreFuture<'a, ()> {
        let mut locks = self.locks.lock().unwrap();
        if locks.get(key).is_some_and(|(held, _)| held == token.as_str()) {
            locks.remove(key);
        }
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(start_paused = true)]
async fn a_token_rejected_after_a_refresh_backs_off_and_the_back_off_grows() {
    let base = url::Url::parse("https://live.fastn.ai/api").unwrap();
    let cache = Cache::new(CacheOptions::default(), &base, "s", Credential::ApiKey("k"));
    let target = target(Some("acme"), None);
    let fetch = || async { Ok(raw("t", Duration::from_secs(3600))) };
    let (_, generation) =
        cache.get::<Map<String, Value>, _>(target.key(), Freshness::Any, None, fetch).await.unwrap();
    assert!(!cache.unauthorized_is_final(&target, generation), "a first 401 refreshes");
    cache.reject(&target, generation);
    cache.reject(&target, generation);
    assert!(cache.unauthorized_is_final(&target, generation));
    assert!(!cache.unauthorized_is_final(&target, generation + 1), "a newer token is not held to it");
    tokio::time::advance(UNAUTHORIZED_BACKOFF - Duration::from_millis(1)).await;
    assert!(
        cache.unauthorized_is_final(&target, generation),
        "the same caller's second reject did not extend it"
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(!cache.unauthorized_is_final(&target, generation), "over: the next 401 refreshes again");
    // Rejected again soon after: twice as long, and so on up to the cap.
    let mut step = UNAUTHORIZED_BACKOFF;
    for _ in 0..8 {
        cache.reject(&target, generation);
        step = (step * 2).min(MAX_UNAUTHORIZED_BACKOFF);
        tokio::time::advance(step - Duration::from_millis(1)).await;
        assert!(cache.unauthorized_is_final(&target, generation), "{step:?}");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!cache.unauthorized_is_final(&target, generation), "{step:?}");
    }
    assert_eq!(step, MAX_UNAUTHORIZED_BACKOFF);
    // Long quiet: it starts over at the base.
    tokio::time::advance(MAX_UNAUTHORIZED_BACKOFF * 2).await;
    cache.reject(&target, generation);
    tokio::time::advance(UNAUTHORIZED_BACKOFF).await;
    assert!(!cache.unauthorized_is_final(&target, generation));
    assert_eq!(cache.stats().unauthorized_returned, 10, "each 401 returned as it is, counted");
}

struct Replica {
    cache: Cache,
    fetches: std::sync::atomic::AtomicUsize,
}

impl Replica {
    fn new(store: &Arc<MemoryStore>) -> Self {
        let options = CacheOptions::default().store(store.clone()).lease(Duration::from_secs(10));
        let base = url::Url::parse("https://live.fastn.ai/api").unwrap();
        let cache = Cache::new(options, &base, "s", Credential::ApiKey("k"));
        Replica { cache, fetches: Default::default() }
    }

    fn key(&self) -> String {
        self.cache.store_key(target(Some("acme"), None).key())
    }

    async fn get(&self, freshness: Freshness, deadline: Duration) -> Result<String> {
        let deadline = Some(Instant::now() + deadline);
        let target = target(Some("acme"), None);
        let fetch = || async {
            let n = self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            Ok(raw(&format!("fetched-{n}"), Duration::from_secs(3600)))
        };
        let (credentials, _) =
            self.cache.get::<Map<String, Value>, _>(target.key(), freshness, deadline, fetch).await?;
        Ok(credentials
            .access_token
            .map(|t| secrecy::ExposeSecret::expose_secret(&*t).to_owned())
            .unwrap_or_default())
    }

    fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn stored(token: &str, fetched_at: SystemTime) -> Vec<u8> {
    store::encode(&raw(token, Duration::from_secs(3600)), fetched_at)
}

#[tokio::test(start_paused = true)]
async fn another_replicas_answer_is_served_without_a_fetch() {
    let store = Arc::new(MemoryStore::default());
    let replica = Replica::new(&store);
    store.put(&replica.key(), stored("theirs", SystemTime::now()));
    assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "theirs");
    assert_eq!((replica.fetches(), replica.cache.stats().store_hits), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn an_answer_written_between_the_look_and_the_lock_is_used() {
    let store = Arc::new(MemoryStore::default());
    let replica = Replica::new(&store);
    *store.plant.lock().unwrap() = Some((replica.key(), stored("raced", SystemTime::now())));
    assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "raced");
    assert_eq!(replica.fetches(), 0, "the double-check after the lock found it");
    assert!(store.locks.lock().unwrap().is_empty(), "and released the lock");
}

#[tokio::test(start_paused = true)]
async fn a_lease_holder_that_answers_is_waited_for() {
    let store = Arc::new(MemoryStore::default());
    let replica = Replica::new(&store);
    let key = replica.key();
    store
        .locks
        .lock()
        .unwrap()
        .insert(key.clone(), ("theirs".into(), Some(Instant::now() + Duration::from_secs(10))));
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            store.put(&key, stored("holder's", SystemTime::now()));
        })
    };
    assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "holder's");
    assert_eq!(replica.fetches(), 0);
    writer.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_stuck_lock_costs_half_the_deadline_then_the_answer_is_fetched_and_shared() {
    let store = Arc::new(MemoryStore::default());
    let replica = Replica::new(&store);
    let key = replica.key();
    store.locks.lock().unwrap().insert(key.clone(), ("stuck".into(), None)); // no expiry
    let started = Instant::now();
    assert_eq!(replica.get(Freshness::Any, Duration::from_secs(3)).await.unwrap(), "fetched-1");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_millis(1700), "{waited:?}");
    let other = Replica::new(&store);
    assert_eq!(other.get(Freshness::Any, Duration::from_secs(3)).await.unwrap(), "fetched-1", "written back");
    assert_eq!(other.fetches(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_value_older_than_one_held_is_never_accepted() {
    let store = Arc::new(MemoryStore::default());
    let replica = Replica::new(&store);
    let before = SystemTime::now() - Duration::from_secs(60);
    assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "fetched-1");
    // The answer is dropped in process (as a 404 drops it); the store is rolled back to
    // a value fetched before it, and holds a newer one than that in nothing.
    replica.cache.lock().slots.values_mut().for_each(|slot| slot.cached = None);
    store.put(&replica.key(), stored("rolled back", before));
    assert_eq!(replica.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "fetched-2");
    assert_eq!(replica.cache.stats().store_hits, 0);
    // What the fetch wrote back serves a replica that held nothing.
    let cold = Replica::new(&store);
    assert_eq!(cold.get(Freshness::Any, Duration::from_secs(60)).await.unwrap(), "fetched-2");
}

#[tokio::test(start_paused = true)]
async fn a_borrowed_key_finds_the_slot_of_its_connection_and_no_other() {
    let base = url::Url::parse("https://live.fastn.ai/api").unwrap();
    let cache = Cache::new(CacheOptions::default(), &base, "s", Credential::ApiKey("k"));
    let fetch = || async { Ok(raw("t", Duration::from_secs(3600))) };
    let acme = target(Some("acme"), None);
    cache.get::<Map<String, Value>, _>(acme.key(), Freshness::Any, None, fetch).await.unwrap();
    // The same ids from other strings (as a request borrows them): the same slot, a hit.
    let (connector, org, tenant) = (String::from("slack"), String::from("community"), String::from("acme"));
    let borrowed =
        Key { connector_id: &connector, org_id: &org, tenant_id: Some(&tenant), connection_id: None };
    assert!(matches!(cache.settled::<Map<String, Value>>(borrowed, Freshness::Any), Some(Ok(_))));
    // Any id different, or absent where the slot's is present (and the reverse): no slot.
    let others = [
        target(None, None),
        target(Some(""), None),
        target(Some("acme"), Some("")),
        target(Some("acme "), None),
        Target { org_id: "other".into(), ..acme.clone() },
        Target { connector_id: "slack2".into(), ..acme.clone() },
    ];
    for other in &others {
        assert!(cache.settled::<Map<String, Value>>(other.key(), Freshness::Any).is_none(), "{other:?}");
    }
    assert_eq!(cache.stats().entries, 1);
    assert_eq!(cache.stats().hits, 1);
}
