//! A real browser — headless Chromium through ChromeDriver (Debian packages `chromium` and
//! `chromium-driver`) — clicks through the web_app example (`fastn-auth-axum` and its
//! `connect.js`) and the emulator's consent page as a person would: in one process, and on
//! two replicas sharing one `redis-server`.
//!
//! Without the browser the tests say they were skipped, and fail under `CI=true`, where
//! `.ci/run` installs it.

use crate::example_web_app as web_app;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse as _;
use fantoccini::{Client, ClientBuilder, Locator};
use fastn_auth_axum::MemoryHandles;
use fastn_auth_emulator::MockServer;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// ChromeDriver on a free port with a headless Chromium session; both stop on drop.
struct Browser {
    driver: Child,
    client: Option<Client>,
    profile: std::path::PathBuf,
}

impl Browser {
    async fn start() -> Option<Browser> {
        if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists() {
            fastn_auth_tests::skipped(
                "Chromium or ChromeDriver is not installed (apt-get install chromium chromium-driver)",
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(format!("fastn-auth-chromium-{}-{port}", std::process::id()));
        // Flags for a root user in a sandboxed machine with no network beyond loopback.
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let mut capabilities = serde_json::Map::new();
        capabilities
            .insert("goog:chromeOptions".into(), serde_json::json!({ "binary": CHROMIUM, "args": args }));
        let url = format!("http://127.0.0.1:{port}");
        let mut attempts = 0;
        let client = loop {
            // ChromeDriver takes a moment to listen.
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(_) if attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => panic!("no browser session: {err}"),
            }
        };
        Some(Browser { driver, client: Some(client), profile })
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session")
    }

    /// The page's text once it contains `expected`: a click navigates, and reading the
    /// page mid-navigation finds the old one or none. Twenty seconds only stops a hang.
    async fn text_with(&self, expected: &str) -> String {
        let mut last = String::new();
        for _ in 0..200 {
            if let Ok(body) = self.client().find(Locator::Css("body")).await
                && let Ok(text) = body.text().await
            {
                if text.contains(expected) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {expected:?}; it showed:\n{last}");
    }

    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Clicks "Connect Salesforce" on the app at `app`, decides (`Approve` or `Deny`) on the
/// consent page in the popup the click opened, and returns the opener page's text once it
/// shows `expected` — with no reload.
async fn connect_in_popup(browser: &Browser, app: &str, decision: &str, expected: &str) -> String {
    click_in_popup(browser, app, "Connect Salesforce", decision, expected).await
}

/// [`connect_in_popup`] through the button labelled `label`.
async fn click_in_popup(browser: &Browser, app: &str, label: &str, decision: &str, expected: &str) -> String {
    let page = browser.client();
    page.goto(app).await.unwrap();
    // `connect.js` is deferred: wait until it has run before clicking.
    for _ in 0..200 {
        let ready = page.execute("return document.readyState", Vec::new()).await.unwrap();
        if ready == "complete" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let opener = page.window().await.unwrap();
    let button = format!("//button[text()='{label}']");
    // The script relabels a broken connection's button after asking the router.
    for _ in 0..200 {
        if page.find(Locator::XPath(&button)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    page.find(Locator::XPath(&button)).await.unwrap().click().await.unwrap();
    let mut popup = None;
    for _ in 0..200 {
        popup = page.windows().await.unwrap().into_iter().find(|window| *window != opener);
        if popup.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    page.switch_to_window(popup.expect("the click opened a popup")).await.unwrap();
    let consent = browser.text_with("Connect salesforce").await;
    assert!(consent.contains("acme"), "{consent}");
    page.find(Locator::XPath(&format!("//button[text()='{decision}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The opener closes the popup once the flow ends: look at the opener from now on.
    page.switch_to_window(opener).await.unwrap();
    let text = browser.text_with(expected).await;
    assert_eq!(page.current_url().await.unwrap().as_str().trim_end_matches('/'), app, "no navigation");
    text
}

#[cfg_attr(
    missing_chromium,
    ignore = "Chromium or ChromeDriver is not installed (apt-get install chromium chromium-driver)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_connects_salesforce_in_a_popup_and_the_page_learns_it() {
    let Some(browser) = Browser::start().await else { return };
    let mock = MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://{}", listener.local_addr().unwrap());
    let client = mock.client();
    tokio::spawn(async move { axum::serve(listener, web_app::app(client, MemoryHandles::default())).await });

    let approved = connect_in_popup(&browser, &app, "Approve", "Salesforce connected").await;
    assert!(!approved.contains("not connected yet"), "{approved}");
    let denied = connect_in_popup(&browser, &app, "Deny", "Salesforce was not connected").await;
    assert!(denied.contains(fastn_auth_emulator::DENIED_MESSAGE), "{denied}");

    // The connection breaks: on load the button says "Reconnect", and one click mends it.
    mock.break_connection("salesforce", "acme", fastn_auth_emulator::ConnectionBreak::RefreshFailed);
    let mended =
        click_in_popup(&browser, &app, "Reconnect Salesforce", "Approve", "Salesforce connected").await;
    assert!(!mended.contains("Reconnect"), "the button has its label back: {mended}");
    browser.close().await;
}

/// Two replicas of the app in processes of their own, sharing one `redis-server`, behind a
/// proxy that sends every flow start to the first and everything else to the second.
#[cfg_attr(
    any(missing_chromium, missing_redis),
    ignore = "Chromium, ChromeDriver or redis-server is not installed (apt-get install chromium chromium-driver redis-server)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_started_on_one_replica_is_followed_on_another() {
    let Some(redis) = fastn_auth_tests::RedisServer::start() else { return };
    let Some(browser) = Browser::start().await else { return };
    let mock = MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start().await.unwrap();
    let replica = || Replica::spawn(&mock.base_url(), &redis.url());
    let (first, second) = (replica(), replica());
    let proxy = Arc::new(Proxy {
        starts: first.url.clone(),
        rest: second.url.clone(),
        started_on_first: AtomicUsize::new(0),
        events_on_second: AtomicUsize::new(0),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(forward).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    connect_in_popup(&browser, &app, "Approve", "Salesforce connected").await;
    assert_eq!(proxy.started_on_first.load(Ordering::SeqCst), 1, "the flow started on the first replica");
    assert!(proxy.events_on_second.load(Ordering::SeqCst) >= 1, "its events came from the second");
    browser.close().await;
    drop((first, second));
}

/// A `web-replica` process (`bin/web_replica.rs`); stopped on drop.
struct Replica {
    child: Child,
    url: String,
}

impl Replica {
    fn spawn(base_url: &str, redis_url: &str) -> Replica {
        let mut child = Command::new(env!("CARGO_BIN_EXE_web-replica"))
            .args([base_url, redis_url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the replica starts");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        Replica { child, url: line.trim().to_owned() }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Proxy {
    starts: String,
    rest: String,
    started_on_first: AtomicUsize,
    events_on_second: AtomicUsize,
    http: reqwest::Client,
}

/// Forwards a request as a load balancer would: `Host` kept, bodies streamed (the events).
async fn forward(
    State(proxy): State<Arc<Proxy>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str()).to_owned();
    let start = parts.method == axum::http::Method::POST && parts.uri.path().ends_with("/connect");
    let backend = if start {
        proxy.started_on_first.fetch_add(1, Ordering::SeqCst);
        &proxy.starts
    } else {
        if parts.uri.path().ends_with("/events") {
            proxy.events_on_second.fetch_add(1, Ordering::SeqCst);
        }
        &proxy.rest
    };
    let mut outgoing = proxy.http.request(parts.method.clone(), format!("{backend}{path}"));
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name, value);
    }
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let Ok(answer) = outgoing.body(body).send().await else {
        return axum::http::StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = axum::http::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    response.body(axum::body::Body::from_stream(answer.bytes_stream())).unwrap()
}

#[cfg_attr(
    missing_chromium,
    ignore = "Chromium or ChromeDriver is not installed (apt-get install chromium chromium-driver)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_denies_on_the_emulators_consent_page() {
    let Some(browser) = Browser::start().await else { return };
    let mock = MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start().await.unwrap();
    let session = mock.client().connect("slack").tenant_id("acme").send().await.unwrap();
    let page = browser.client();

    page.goto(session.redirect_url().unwrap().as_str()).await.unwrap();
    assert_eq!(page.title().await.unwrap(), "Connect slack · Fastn emulator");
    page.find(Locator::XPath("//button[text()='Deny']")).await.unwrap().click().await.unwrap();
    browser.text_with("You denied access").await;
    let status = session.get_status().await.unwrap();
    assert_eq!(
        (status.status, status.error_message.as_deref()),
        (fastn_auth::AuthStatus::Failed, Some(fastn_auth_emulator::DENIED_MESSAGE))
    );

    // The page's form worked; the same decision again is refused.
    page.back().await.unwrap();
    page.refresh().await.unwrap();
    browser.text_with("does not exist or has already completed").await;
    browser.close().await;
}
