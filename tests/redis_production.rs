//! The shared cache on Redis as managed services and fleets run it: TLS with a private CA
//! (made by the test with `openssl`), an ACL user, and a Redis Cluster of three primaries
//! with replicas, made with `redis-cli --cluster create`, losing a primary mid-run.
//!
//! Every server is a real `redis-server` the test starts; without `redis-server` or
//! `openssl` the tests say they were skipped, and fail under `CI=true`, where `.ci/run`
//! installs them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use fastn_auth::{CacheOptions, Endpoint, FastnAuth};
use fastn_auth_emulator::{ConnectionKey, MockServer};
use fastn_auth_redis::RedisStore;
use fastn_auth_tests::{CapturedLogs, RedisServer, free_port, skipped};

const KEY: [u8; 32] = [7; 32];
const CANARY: &str = "xoxb-REDIS-CANARY-8d1f";
const PASSWORD: &str = "pw-ACL-CANARY-51c2";

/// A flow record written through `writer` is read back through `reader`: RedisHandles on
/// the same connection builder as the cache's store.
async fn flow_handles_round_trip(writer: RedisStore, reader: RedisStore) {
    use fastn_auth_axum::{FlowRecord, HandleStore, RedisHandles};
    let record = FlowRecord {
        tenant_id: "acme".to_owned(),
        handle: fastn_auth::SessionHandle::new("slack", "state-1"),
        expires_at: SystemTime::now() + Duration::from_secs(60),
    };
    RedisHandles::new(writer).put("state-1", &record, Duration::from_secs(60)).await.unwrap();
    assert_eq!(RedisHandles::new(reader).get("state-1").await.unwrap(), Some(record));
}

fn connect(mock: &MockServer, tenant: &str) {
    let credentials = serde_json::json!({ "access_token": CANARY, "expires_in": 3600 });
    mock.insert_connection(
        ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id(tenant),
        Some(credentials),
    );
}

fn client(mock: &MockServer, store: RedisStore) -> FastnAuth {
    mock.client_builder().cache(CacheOptions::default().store(store)).build().unwrap()
}

/// The log lines of this thread's `tracing` events while the guard lives.
fn capture_logs() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// A CA and a server certificate for 127.0.0.1 it signed, made with `openssl` in `dir`:
/// `(ca.pem, server.pem, server.key)` paths. `None` (skipped) without `openssl`.
fn certificates(dir: &std::path::Path) -> Option<[std::path::PathBuf; 3]> {
    std::fs::create_dir_all(dir).unwrap();
    let run = |args: &[&str]| Command::new("openssl").args(args).current_dir(dir).output();
    match run(&["version"]) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            skipped("openssl is not installed (apt-get install openssl)");
            return None;
        }
        other => assert!(other.unwrap().status.success()),
    }
    std::fs::write(dir.join("san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    for args in [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=fastn-auth test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ][..],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.cnf",
            "-out",
            "server.pem",
        ],
    ] {
        let output = run(args).unwrap();
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    Some(["ca.pem", "server.pem", "server.key"].map(|name| dir.join(name)))
}

#[cfg_attr(
    missing_openssl,
    ignore = "redis-server or openssl is not installed (apt-get install redis-server openssl)"
)]
#[tokio::test(flavor = "current_thread")]
async fn tls_with_a_private_ca_and_an_untrusted_certificate_reported_clearly() {
    let dir = std::env::temp_dir().join(format!("fastn-auth-tls-{}", std::process::id()));
    let Some([ca, cert, key]) = certificates(&dir) else { return };
    let port = free_port();
    let path = |p: &std::path::Path| p.display().to_string();
    let args = [
        "--port",
        "0",
        "--tls-port",
        &port.to_string(),
        "--tls-cert-file",
        &path(&cert),
        "--tls-key-file",
        &path(&key),
        "--tls-ca-cert-file",
        &path(&ca),
        "--tls-auth-clients",
        "no",
    ];
    let Some(_redis) = RedisServer::launch(port, args.iter().map(|arg| (*arg).to_owned()).collect()) else {
        return;
    };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme");
    let url = format!("rediss://127.0.0.1:{port}/");
    let pem = std::fs::read(&ca).unwrap();
    let tls = || RedisStore::builder(KEY).url(&url).root_certificate_pem(&pem).build().unwrap();

    // One replica fetches and shares over TLS; another is answered by Redis.
    let first = client(&mock, tls());
    first.credentials("slack").tenant_id("acme").send().await.unwrap();
    let second = client(&mock, tls());
    second.credentials("slack").tenant_id("acme").send().await.unwrap();
    let stats = second.cache_stats().unwrap();
    assert_eq!((stats.store_hits, stats.store_errors), (1, 0), "{stats:?}");
    assert_eq!(mock.requests_to(Endpoint::Credentials), 1);
    // Flow handles over the same TLS connection, written on one replica, read on another.
    flow_handles_round_trip(tls(), tls()).await;

    // The system's roots do not know this CA: reported once, clearly; calls keep working.
    let (logs, _guard) = capture_logs();
    let untrusted = client(&mock, RedisStore::builder(KEY).url(&url).build().unwrap());
    for _ in 0..5 {
        untrusted.credentials("slack").tenant_id("acme").fresh().send().await.unwrap();
    }
    let text = logs.text();
    let warnings: Vec<&str> = text.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(warnings[0].contains("TLS handshake with Redis failed"), "{}", warnings[0]);
    // Plain redis:// to a TLS port, and a CA for plain redis://: refused or reported.
    let err =
        RedisStore::builder(KEY).url(format!("redis://127.0.0.1:{port}/")).root_certificate_pem(&pem).build();
    assert!(err.unwrap_err().to_string().contains("rediss://"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg_attr(missing_redis, ignore = "redis-server is not installed (apt-get install redis-server)")]
#[tokio::test(flavor = "current_thread")]
async fn an_acl_user_works_and_a_wrong_password_is_one_log_line_and_no_caller_error() {
    let port = free_port();
    let acl = [
        "--port",
        &port.to_string(),
        "--user",
        "default",
        "off",
        "--user",
        "fastn",
        "on",
        &format!(">{PASSWORD}"),
        "~*",
        // Channels too: connection health crosses replicas on the store's channel.
        "&*",
        "+@all",
    ];
    let Some(_redis) = RedisServer::launch(port, acl.iter().map(|arg| (*arg).to_owned()).collect()) else {
        return;
    };
    let mock = MockServer::start().await.unwrap();
    for tenant in 0..20 {
        connect(&mock, &format!("t{tenant}"));
    }
    let store = |password: &str| {
        RedisStore::new(&format!("redis://fastn:{password}@127.0.0.1:{port}/"), KEY).unwrap()
    };
    let first = client(&mock, store(PASSWORD));
    first.credentials("slack").tenant_id("t0").send().await.unwrap();
    let second = client(&mock, store(PASSWORD));
    second.credentials("slack").tenant_id("t0").send().await.unwrap();
    assert_eq!(second.cache_stats().unwrap().store_hits, 1, "the ACL user reads and writes");

    let (logs, _guard) = capture_logs();
    let wrong = client(&mock, store("not-the-password"));
    for tenant in 0..20 {
        wrong.credentials("slack").tenant_id(format!("t{tenant}")).send().await.expect("no caller error");
    }
    let text = logs.text();
    let warnings: Vec<&str> = text.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(warnings[0].contains("Redis refused the user or password"), "{}", warnings[0]);
    assert!(!text.contains("not-the-password") && !text.contains(PASSWORD), "no password in the logs");
    assert!(wrong.cache_stats().unwrap().store_errors >= 1);
}

/// A Redis Cluster of three primaries, each with a replica, on this machine.
struct Cluster {
    nodes: Vec<RedisServer>,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let port = free_port();
            let args = [
                "--port",
                &port.to_string(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &format!("nodes-{port}.conf"),
                "--cluster-node-timeout",
                "1000",
                // A replica takes over however long its primary has been gone, and syncs at
                // once rather than after the default 5 s.
                "--cluster-replica-validity-factor",
                "0",
                "--repl-diskless-sync-delay",
                "0",
            ];
            nodes.push(RedisServer::launch(port, args.iter().map(|arg| (*arg).to_owned()).collect())?);
        }
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        create.args(nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)));
        create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = create.output().expect("redis-cli runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
        let cluster = Cluster { nodes };
        cluster.wait_until_ok(&cluster.nodes);
        cluster.wait_until_replicas_synced();
        Some(cluster)
    }

    /// Waits (20 s at most) until `nodes` all say `cluster_state:ok`.
    fn wait_until_ok(&self, nodes: &[RedisServer]) {
        let started = Instant::now();
        let ok = |node: &RedisServer| {
            let out =
                Command::new("redis-cli").args(["-p", &node.port.to_string(), "cluster", "info"]).output();
            out.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
        };
        while !nodes.iter().all(ok) {
            assert!(started.elapsed() < Duration::from_secs(20), "the cluster never became ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (20 s at most) until every replica has synced with its primary, so that it can
    /// take over.
    fn wait_until_replicas_synced(&self) {
        let started = Instant::now();
        let synced = |node: &RedisServer| {
            let out = Command::new("redis-cli")
                .args(["-p", &node.port.to_string(), "info", "replication"])
                .output();
            out.is_ok_and(|out| {
                let text = String::from_utf8_lossy(&out.stdout);
                text.contains("role:master") || text.contains("master_link_status:up")
            })
        };
        while !self.nodes.iter().all(synced) {
            assert!(started.elapsed() < Duration::from_secs(20), "the replicas never synced");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The seed URLs a client is given: the first three nodes.
    fn seeds(&self) -> Vec<String> {
        self.nodes.iter().take(3).map(RedisServer::url).collect()
    }

    /// The port of a primary (the 50 tenants' keys are spread over all three).
    fn a_primary(&self) -> u16 {
        let nodes = Command::new("redis-cli")
            .args(["-p", &self.nodes[0].port.to_string(), "cluster", "nodes"])
            .output()
            .unwrap();
        // `cluster nodes`: "id host:port@bus flags master ping pong epoch state slots…"
        let text = String::from_utf8_lossy(&nodes.stdout);
        let primary = text
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|fields| fields.get(2).is_some_and(|flags| flags.contains("master")) && fields.len() > 8);
        let address = primary.expect("a primary with slots")[1];
        address.split(['@', ':']).nth(1).unwrap().parse().unwrap()
    }
}

fn spawn_replica(mock: &MockServer, seeds: &[String], start_ms: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_redis-replica"))
        .args(["callers", &mock.base_url(), &format!("cluster:{}", seeds.join(","))])
        .env("FASTN_REPLICA_START_MS", start_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[cfg_attr(
    missing_redis_cluster,
    ignore = "redis-server or redis-cli is not installed (apt-get install redis-server redis-tools)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_shares_one_fetch_among_processes_and_survives_losing_a_primary() {
    let Some(mut cluster) = Cluster::start() else { return };
    let mock = MockServer::start().await.unwrap();
    connect(&mock, "acme");
    let seeds = cluster.seeds();

    // 4 processes x 250 callers on one cold key: one fetch, whichever slot it lands in.
    let start = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64 + 1500;
    let replicas: Vec<Child> = (0..4).map(|_| spawn_replica(&mock, &seeds, start)).collect();
    let outputs = tokio::task::spawn_blocking(move || {
        replicas.into_iter().map(|child| child.wait_with_output().unwrap()).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for output in &outputs {
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && text.contains("replica ok 250"),
            "{text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(mock.requests_to(Endpoint::Credentials), 1, "4 x 250 callers, one upstream request");
    let on_cluster = || RedisStore::builder(KEY).cluster(seeds.clone()).build().unwrap();
    flow_handles_round_trip(on_cluster(), on_cluster()).await;

    // A primary dies mid-run: no caller sees an error while the tokens are valid. One
    // in-process entry, so that every call goes to the cluster.
    for tenant in 0..50 {
        connect(&mock, &format!("t{tenant}"));
    }
    let store = RedisStore::builder(KEY).cluster(seeds.clone()).build().unwrap();
    let client =
        mock.client_builder().cache(CacheOptions::default().store(store).max_entries(1)).build().unwrap();
    let victim = cluster.a_primary();
    let mut errors = 0;
    let mut killed = false;
    let run = Instant::now();
    let mut round = 0;
    while run.elapsed() < Duration::from_secs(6) {
        for tenant in 0..50 {
            if client.credentials("slack").tenant_id(format!("t{tenant}")).send().await.is_err() {
                errors += 1;
            }
        }
        round += 1;
        if !killed && round == 2 {
            let node = cluster.nodes.iter_mut().find(|node| node.port == victim).unwrap();
            node.stop(); // SIGKILL
            killed = true;
        }
    }
    assert!(killed && round > 2, "the run went on after the kill ({round} rounds)");
    assert_eq!(errors, 0, "no caller error while a primary was lost");
    let survivors: Vec<RedisServer> = cluster.nodes.drain(..).filter(|node| node.port != victim).collect();
    cluster.wait_until_ok(&survivors);
    let stats = client.cache_stats().unwrap();
    assert!(stats.store_hits > 0, "the cluster served values: {stats:?}");
}
