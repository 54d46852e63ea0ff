//! The cross-crate tests of the workspace (each file beside this one is a test target), the
//! README's Rust examples run as doctests, and the typed connectors of the root
//! `connectors.yaml` for both.
#![warn(missing_docs)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fastn_auth::connectors!("connectors.yaml"); // resolved against the workspace root (build.rs)

/// The tools `connectors.yaml` selects, for a model.
///
/// # Panics
/// If the generated `REGISTRY` does not read back, a bug of the code generator.
pub fn tool_set() -> fastn_auth_agent::ToolSet {
    fastn_auth_agent::ToolSet::from_json(REGISTRY).expect("the generated REGISTRY reads back")
}

/// The README's Rust examples, and those of the guides in `docs/`, compiled and run as
/// doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

macro_rules! guides {
    ($($name:ident = $path:literal;)*) => {$(
        #[cfg(doctest)]
        #[doc = include_str!($path)]
        struct $name;
    )*};
}

guides! {
    AgentsDoctests = "../docs/agents.md";
    ApiCallsDoctests = "../docs/api-calls.md";
    CachingDoctests = "../docs/caching.md";
    EmulatorDoctests = "../docs/emulator.md";
    HealthDoctests = "../docs/health.md";
    ToolsDoctests = "../docs/tools.md";
    WebDoctests = "../docs/web.md";
}

/// docs/bridges.md, whose octocrab block needs the crate (the feature `octocrab`, which
/// .ci/run turns on for these doctests).
#[cfg(all(doctest, feature = "octocrab"))]
#[doc = include_str!("../docs/bridges.md")]
struct BridgesDoctests;

/// Without the feature docs/bridges.md's doctests are not compiled; this says so in the test
/// run's output.
#[cfg(not(feature = "octocrab"))]
#[test]
#[ignore = "docs/bridges.md's doctests need --features octocrab (octocrab takes 2 GB to compile); .ci/run runs them"]
fn bridges_md_doctests() {
    unreachable!("ignored: compiled only without the feature octocrab");
}

/// Log output kept in memory: give clones to a `tracing_subscriber` as its writer, read it
/// all with [`text`](Self::text).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            .into_owned()
    }
}

/// Says that a test did not run, and why, where the person running `cargo test` sees it:
/// written to the process's stderr directly, which the test harness does not capture (it
/// captures `eprintln!`). Under `CI=true` a missing tool fails the test instead, since
/// `.ci/run` installs every tool the tests need.
///
/// # Panics
/// Under `CI=true`, always.
pub fn skipped(why: &str) {
    use std::io::Write as _;
    // The harness names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{test} did not run: {why}; .ci/run installs it");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// A `redis-server` of a test on a loopback port, persistence off, in a temporary
/// directory; stopped on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port (the TLS port for a TLS server).
    pub port: u16,
    args: Vec<String>,
    dir: std::path::PathBuf,
}

/// A free loopback port below 55536, so that a cluster node's bus port (`port + 10000`) is
/// one too.
pub fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < 55_536 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl RedisServer {
    /// Starts one on a free port, or says why not: `None` (skipped) locally, a panic under
    /// `CI=true`.
    pub fn start() -> Option<RedisServer> {
        let port = free_port();
        RedisServer::launch(port, vec!["--port".into(), port.to_string()])
    }

    /// Starts one listening on `port` as `args` say (`--port`, or `--port 0 --tls-port` and
    /// the TLS files, an ACL user, cluster mode, …); `None` or a panic as [`start`](Self::start).
    pub fn launch(port: u16, args: Vec<String>) -> Option<RedisServer> {
        let dir = std::env::temp_dir().join(format!("fastn-auth-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = RedisServer { child: None, port, args, dir };
        match redis.spawn() {
            Ok(()) => Some(redis),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                skipped("redis-server is not installed (apt-get install redis-server)");
                None
            }
            Err(err) => panic!("redis-server did not start: {err}"),
        }
    }

    /// Starts (again) the server process, ready when it answers on its port.
    ///
    /// # Errors
    /// The binary is missing or the server did not answer within 5 s.
    pub fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.args)
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        // Ready when it answers (a fresh server takes a few milliseconds).
        for _ in 0..200 {
            if self.ping() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(std::io::Error::other("redis-server did not answer within 5 s"))
    }

    /// Whether it answers: `PING` answered (`+PONG`, or `-NOAUTH` when the default user is
    /// off); for a TLS server, a connection accepted.
    pub fn ping(&self) -> bool {
        let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        if self.args.iter().any(|arg| arg == "--tls-port") {
            return true;
        }
        let mut answer = [0u8; 1];
        tcp.set_read_timeout(Some(Duration::from_secs(1))).is_ok()
            && tcp.write_all(b"PING\r\n").is_ok()
            && tcp.read_exact(&mut answer).is_ok()
            && (answer[0] == b'+' || answer[0] == b'-')
    }

    /// Its `redis://` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the process (kill).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A connection of its own.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
    }

    /// Every key and its value, as stored.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut connection = self.raw().await;
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut connection).await.unwrap();
        let mut dump = Vec::new();
        for key in keys {
            let value: Vec<u8> =
                redis::cmd("GET").arg(&key).query_async(&mut connection).await.unwrap_or_default();
            dump.push((key, value));
        }
        dump
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server on a free loopback port that counts the connections it is sent and answers
/// none: what must receive nothing (a token sent elsewhere) is counted there.
pub async fn bystander() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, accepted)
}
