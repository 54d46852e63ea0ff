//! Instructions per operation on the hot paths, counted by `bench/instructions.sh` under
//! `valgrind --tool=callgrind` (repeatable whatever the machine's load). Not a timing
//! benchmark: `instructions <what> <count>` performs `count` operations after one warm-up,
//! on a current-thread runtime, and exits; the script runs two counts and divides the
//! difference of the totals by the difference of the counts, so start-up cancels out.
//!
//! - `cache-hit`: a credentials call served by the in-process cache.
//! - `api`: an `ApiClient` GET, body read, token from a cache hit.
//! - `bare`: the same GET with bare reqwest, the token copied in by hand.
//!
//! The emulator of `api` and `bare` runs in a child process (`instructions serve`), which
//! valgrind does not trace: only the client's work is counted.

use std::io::BufRead as _;
use std::process::{Command, Stdio};

use fastn_auth::{CacheOptions, ExposeSecret as _, FastnAuth};
use fastn_auth_emulator::{ConnectionKey, MockServer};

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match args.as_slice() {
        [serve] if serve == "serve" => runtime.block_on(serve_emulator()),
        [what, count] => runtime.block_on(measure(what, count.parse()?)),
        _ => Err("usage: instructions cache-hit|api|bare COUNT".into()),
    }
}

/// The emulator with a connection of `slack` for tenant `t0`: prints its base URL and
/// the connection's token, then serves until stdin closes.
async fn serve_emulator() -> Result<(), Failure> {
    let mock = MockServer::builder().record_requests(false).start().await?;
    let credentials =
        mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("t0"), None);
    let token = credentials.get("access_token").and_then(|token| token.as_str()).ok_or("no access token")?;
    println!("{} {token}", mock.base_url());
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await??;
    Ok(())
}

async fn measure(what: &str, count: usize) -> Result<(), Failure> {
    match what {
        "cache-hit" => {
            let mock = MockServer::builder().record_requests(false).start().await?;
            mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("t0"), None);
            let client = mock.client_builder().cache(CacheOptions::default()).build()?;
            for _ in 0..=count {
                let credentials = client.credentials("slack").tenant_id("t0").send().await?;
                assert!(credentials.access_token.is_some());
            }
        }
        "api" | "bare" => {
            let mut child = Command::new(std::env::current_exe()?)
                .arg("serve")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
            let (base_url, token) = line.trim().split_once(' ').ok_or("no base URL and token")?;
            let origin = base_url.trim_end_matches("/api");
            let client = FastnAuth::builder(MockServer::SPACE_ID)
                .api_key(MockServer::API_KEY)
                .base_url(base_url)
                .api_gateway(format!("{origin}/_provider"))
                .build()?;
            if what == "api" {
                let slack = client.api("slack").base_url("https://slack.com/api").tenant_id("t0");
                for _ in 0..=count {
                    let response = slack.get("/auth.test").send().await?;
                    assert!(response.status().is_success());
                    response.bytes().await?;
                }
            } else {
                // The token as a hand-written caller holds it: fetched once, copied in.
                let fetched = client.credentials("slack").tenant_id("t0").send().await?.access_token;
                assert_eq!(fetched.as_ref().map(|t| t.expose_secret()), Some(token));
                let bare = reqwest::Client::new();
                let url = format!("{origin}/_provider/slack/auth.test");
                for _ in 0..=count {
                    let response = bare.get(&url).bearer_auth(token).send().await?;
                    assert!(response.status().is_success());
                    response.bytes().await?;
                }
            }
            drop(child.stdin.take());
            child.wait()?;
        }
        other => return Err(format!("unknown operation `{other}`: cache-hit, api or bare").into()),
    }
    Ok(())
}
