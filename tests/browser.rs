//! A real browser — headless Chromium through ChromeDriver (Debian packages `chromium` and
//! `chromium-driver`) — clicks through the web_app example and the emulator's consent page
//! as a person would.
//!
//! Without the browser the tests say they were skipped, and fail under `CI=true`, where
//! `.ci/run` installs it.

#[path = "../examples/web_app.rs"]
mod web_app;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_connects_salesforce_through_the_web_app_in_a_browser() {
    let Some(browser) = Browser::start().await else { return };
    let mock = MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://{}", listener.local_addr().unwrap());
    let client = mock.client();
    tokio::spawn(async move { axum::serve(listener, web_app::app(client)).await });
    let page = browser.client();

    page.goto(&app).await.unwrap();
    page.find(Locator::XPath("//button[text()='Connect Salesforce']")).await.unwrap().click().await.unwrap();
    browser.text_with("Waiting for Salesforce").await;
    let connection_page = page.current_url().await.unwrap();

    page.find(Locator::LinkText("Authorize in Salesforce")).await.unwrap().click().await.unwrap();
    let consent = browser.text_with("Connect salesforce").await;
    assert!(consent.contains("acme"), "{consent}");
    page.find(Locator::XPath("//button[text()='Approve']")).await.unwrap().click().await.unwrap();
    browser.text_with("Access granted").await;

    page.goto(connection_page.as_str()).await.unwrap();
    let done = browser.text_with("Salesforce connected").await;
    assert!(done.contains("https://acme.example.com/instanceurl"), "{done}");
    browser.close().await;
}

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
