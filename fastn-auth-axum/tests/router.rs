//! The router against the emulator, over HTTP as a browser would call it; Fastn's requests
//! counted by the emulator.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use fastn_auth::Endpoint;
use fastn_auth_axum::{ConnectRouter, MemoryHandles, Tenant};
use fastn_auth_emulator::MockServer;
use futures_util::StreamExt as _;
use serde_json::{Value, json};

/// The app's own auth, for the tests: the tenant is the `x-test-tenant` header (a real app
/// takes it from its session, never from the request as given).
async fn test_auth(mut request: Request, next: Next) -> Response {
    let tenant = request.headers().get("x-test-tenant").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(tenant) = tenant {
        request.extensions_mut().insert(Tenant(tenant));
    }
    next.run(request).await
}

struct App {
    mock: MockServer,
    url: String,
    http: reqwest::Client,
}

async fn app(configure: impl FnOnce(ConnectRouter) -> ConnectRouter) -> App {
    let mock = MockServer::start().await.unwrap();
    let client = mock.client();
    app_on(mock, client, configure).await
}

/// The router on `client` (of `mock`).
async fn app_on(
    mock: MockServer,
    client: fastn_auth::FastnAuth,
    configure: impl FnOnce(ConnectRouter) -> ConnectRouter,
) -> App {
    serve(mock, configure(ConnectRouter::any(client).handles(MemoryHandles::default()))).await
}

/// `routes` served on a loopback port, behind the test's auth.
async fn serve(mock: MockServer, routes: ConnectRouter) -> App {
    let router =
        axum::Router::new().nest("/integrations", routes.into_router()).layer(middleware::from_fn(test_auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/integrations", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    App { mock, url, http }
}

impl App {
    fn get(&self, path: &str, tenant: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url)).header("x-test-tenant", tenant)
    }

    async fn start(&self, connector: &str, tenant: &str) -> Value {
        let answer = self
            .http
            .post(format!("{}/{connector}/connect", self.url))
            .header("x-test-tenant", tenant)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json().await.unwrap()
    }

    /// A start as a form without JavaScript posts it: where the `303` sends the browser.
    async fn form_post(&self, connector: &str, tenant: &str) -> String {
        let answer = self
            .http
            .post(format!("{}/{connector}/connect", self.url))
            .header("x-test-tenant", tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303);
        answer.headers()["location"].to_str().unwrap().to_owned()
    }

    /// The `status` events of a stream, as they come, until it ends.
    async fn events(&self, path: &str, tenant: &str) -> (reqwest::StatusCode, Events) {
        let answer = self.get(path, tenant).send().await.unwrap();
        let status = answer.status();
        let stream = answer.bytes_stream().boxed();
        (status, Events { stream, buffer: String::new() })
    }
}

struct Events {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buffer: String,
}

impl Events {
    /// The next `status` event's data, or `None` when the stream ended.
    async fn next(&mut self) -> Option<Value> {
        self.next_of("status").await
    }

    /// The next event `name`'s data, or `None` when the stream ended.
    async fn next_of(&mut self, name: &str) -> Option<Value> {
        let wanted = format!("event: {name}");
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|line| line.strip_prefix("data: "))
                    && event.lines().any(|line| line == wanted)
                {
                    return Some(serde_json::from_str(data).unwrap());
                }
                continue;
            }
            match self.stream.next().await {
                Some(Ok(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }
}

#[tokio::test]
async fn a_flow_is_started_followed_and_seen_connected() {
    let app = app(|router| router.poll_interval(Duration::from_millis(50))).await;
    let connected = app.get("/slack", "acme").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(connected, json!({ "connected": false, "state": "unknown" }));

    let flow = app.start("slack", "acme").await;
    let state = flow["state"].as_str().unwrap();
    assert_eq!(flow["events_url"], format!("/integrations/flows/{state}/events"));
    assert!(flow["redirect_url"].as_str().unwrap().contains(state));
    let status = app.get(&format!("/flows/{state}"), "acme").send().await.unwrap();
    assert_eq!(status.json::<Value>().await.unwrap(), json!({ "status": "INACTIVE" }));

    let (code, mut events) = app.events(&format!("/flows/{state}/events"), "acme").await;
    assert_eq!(code, 200);
    assert_eq!(events.next().await, Some(json!({ "status": "INACTIVE" })));
    assert!(app.mock.approve(state));
    assert_eq!(events.next().await, Some(json!({ "status": "ACTIVE" })));
    assert_eq!(events.next().await, None, "the stream ends after ACTIVE");
    let connected = app.get("/slack", "acme").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(connected, json!({ "connected": true, "state": "healthy" }));
    // Any connector id, however it is encoded in the path.
    let odd = app.start("my%20crm%2Fv2", "acme").await;
    let odd_state = odd["state"].as_str().unwrap();
    assert_eq!(odd["events_url"], format!("/integrations/flows/{odd_state}/events"));

    // A denied flow ends FAILED, with the message.
    let state = app.start("slack", "acme").await["state"].as_str().unwrap().to_owned();
    let (_, mut events) = app.events(&format!("/flows/{state}/events"), "acme").await;
    assert_eq!(events.next().await, Some(json!({ "status": "INACTIVE" })));
    app.mock.deny(&state, "user denied access");
    assert_eq!(events.next().await, Some(json!({ "status": "FAILED", "message": "user denied access" })));
    assert_eq!(events.next().await, None);
}

#[tokio::test]
async fn without_javascript_the_form_post_goes_to_the_consent_page() {
    let app = app(|router| router).await;
    let consent = app.form_post("notion", "acme").await;
    assert!(consent.starts_with(&format!("http://{}/authorize?state=", app.mock.addr())), "{consent}");
    let state = consent.split("state=").nth(1).unwrap();
    let page =
        app.get(&format!("/flows/{state}"), "acme").header("accept", "text/html").send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("Waiting") && page.contains("http-equiv=refresh"), "{page}");
    let script = app.get("/connect.js", "acme").send().await.unwrap();
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(script.text().await.unwrap().contains("data-fastn-connect"));
}

#[tokio::test]
async fn tenants_and_sites_are_kept_apart() {
    let app = app(|router| router).await;
    // No tenant: 401, nothing sent.
    let anonymous = app.http.post(format!("{}/slack/connect", app.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(app.http.get(format!("{}/slack", app.url)).send().await.unwrap().status(), 401);
    // From another site: 403, nothing sent to Fastn.
    for (name, value) in
        [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("origin", "null")]
    {
        let answer = app
            .http
            .post(format!("{}/slack/connect", app.url))
            .header("x-test-tenant", "acme")
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{name}: {value}");
    }
    assert_eq!(app.mock.requests_to(Endpoint::Init), 0);
    // The page's own origin is fine.
    let own = format!("http://{}", app.url.trim_start_matches("http://").split('/').next().unwrap());
    let same = app
        .http
        .post(format!("{}/slack/connect", app.url))
        .header("x-test-tenant", "acme")
        .header("origin", own)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
    let state = same.json::<Value>().await.unwrap()["state"].as_str().unwrap().to_owned();
    // Another tenant: the flow does not exist for it.
    assert_eq!(app.get(&format!("/flows/{state}"), "globex").send().await.unwrap().status(), 404);
    assert_eq!(app.events(&format!("/flows/{state}/events"), "globex").await.0, 404);
    assert_eq!(app.get("/flows/no-such-state", "acme").send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_hundred_listeners_share_one_poll_per_interval() {
    let interval = Duration::from_millis(100);
    let app = app(|router| router.poll_interval(interval).max_streams(1000, 200)).await;
    let state = app.start("slack", "acme").await["state"].as_str().unwrap().to_owned();
    let path = format!("/flows/{state}/events");
    let mut listeners = Vec::new();
    for _ in 0..100 {
        let (code, mut events) = app.events(&path, "acme").await;
        assert_eq!(code, 200);
        assert_eq!(events.next().await, Some(json!({ "status": "INACTIVE" })));
        listeners.push(events);
    }
    let polls = app.mock.requests_to(Endpoint::Status);
    let started = Instant::now();
    tokio::time::sleep(interval * 10).await;
    let (polled, elapsed) = (app.mock.requests_to(Endpoint::Status) - polls, started.elapsed());
    // One poller sleeps an interval between polls: at most one poll per interval elapsed,
    // plus the one under way; a poll per listener would be a hundred times that.
    let most = (elapsed.as_millis() / interval.as_millis()) as u64 + 1;
    assert!((1..=most).contains(&polled), "{polled} polls in {elapsed:?} for 100 listeners");
    app.mock.approve(&state);
    for events in &mut listeners {
        assert_eq!(events.next().await, Some(json!({ "status": "ACTIVE" })));
    }
}

#[tokio::test]
async fn open_streams_are_capped_per_tenant_and_process_and_end_at_the_deadline() {
    let app = app(|router| router.max_streams(3, 2).flow_ttl(Duration::from_secs(2))).await;
    let state = app.start("slack", "acme").await["state"].as_str().unwrap().to_owned();
    let path = format!("/flows/{state}/events");
    let (first, _a) = app.events(&path, "acme").await;
    let (second, _b) = app.events(&path, "acme").await;
    let (third, _) = app.events(&path, "acme").await;
    assert_eq!((first.as_u16(), second.as_u16(), third.as_u16()), (200, 200, 429), "2 per tenant");
    let other = app.start("slack", "globex").await["state"].as_str().unwrap().to_owned();
    let other_path = format!("/flows/{other}/events");
    let (one, _c) = app.events(&other_path, "globex").await;
    let (two, _) = app.events(&other_path, "globex").await;
    assert_eq!((one.as_u16(), two.as_u16()), (200, 429), "3 per process");

    // The flow's deadline ends its streams (nobody approved), and frees their slots.
    let (_, mut events) = (first, _a);
    while events.next().await.is_some() {}
    let mut b = _b;
    while b.next().await.is_some() {}
    let fresh = app.start("slack", "acme").await["state"].as_str().unwrap().to_owned();
    let (again, _) = app.events(&format!("/flows/{fresh}/events"), "acme").await;
    assert_eq!(again, 200, "ended streams give their slots back");
}

#[tokio::test]
async fn same_origin_starts_work_over_http2_and_cross_site_ones_do_not() {
    let app = app(|router| router).await;
    let http2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let own = app.url.trim_end_matches("/integrations").to_owned();
    let start = |origin: &str| {
        http2
            .post(format!("{}/slack/connect", app.url))
            .header("x-test-tenant", "acme")
            .header("accept", "application/json")
            .header("origin", origin)
            .send()
    };
    let answer = start(&own).await.unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.status(), 200, "HTTP/2 carries the host in :authority");
    let answer = start("https://evil.example").await.unwrap();
    assert_eq!(
        (answer.version(), answer.status()),
        (reqwest::Version::HTTP_2, reqwest::StatusCode::FORBIDDEN)
    );
    assert_eq!(app.mock.requests_to(Endpoint::Init), 1, "only the same-origin start reached Fastn");
}

#[tokio::test]
async fn a_flooding_tenant_is_held_to_its_limits_and_another_tenant_is_not_touched() {
    let app = app(|router| router.tenant_limits(5, 8)).await;
    let victim = app.start("slack", "victim").await["state"].as_str().unwrap().to_owned();
    let post = |tenant: &str| {
        app.http
            .post(format!("{}/slack/connect", app.url))
            .header("x-test-tenant", tenant)
            .header("accept", "application/json")
            .send()
    };
    let mut answers = Vec::new();
    for _ in 0..50 {
        answers.push(post("flood").await.unwrap());
    }
    let accepted = answers.iter().filter(|answer| answer.status() == 200).count();
    assert_eq!(accepted, 5, "the pending-flow cap");
    let refused = answers.last().unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    // Fastn saw the victim's start and the flood's five: nothing for the refused ones.
    assert_eq!(app.mock.requests_to(Endpoint::Init), 6);
    let status = app.get(&format!("/flows/{victim}"), "victim").send().await.unwrap();
    assert_eq!(status.status(), 200, "the other tenant's flow is still there");
    assert!(post("victim").await.unwrap().status().is_success(), "and it can start another");

    // Flows that end free their place; the rate per minute still holds.
    let states: Vec<String> = {
        let mut states = Vec::new();
        for answer in answers.into_iter().filter(|answer| answer.status() == 200) {
            states.push(answer.json::<Value>().await.unwrap()["state"].as_str().unwrap().to_owned());
        }
        states
    };
    for state in &states {
        app.mock.approve(state);
        let status = app.get(&format!("/flows/{state}"), "flood").send().await.unwrap();
        assert_eq!(status.json::<Value>().await.unwrap()["status"], "ACTIVE");
    }
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(post("flood").await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429], "8 starts a minute: 5 then 3 more");
}

#[tokio::test]
async fn a_tenant_is_connected_the_moment_its_flow_is_active() {
    let mock = MockServer::start().await.unwrap();
    let client = mock.client_builder().cache(fastn_auth::CacheOptions::default()).build().unwrap();
    let app = app_on(mock, client.clone(), |router| router).await;
    // The page asks on load: not connected, and the cache remembers that for 5 s.
    let connected =
        || async { app.get("/slack", "acme").send().await.unwrap().json::<Value>().await.unwrap() };
    assert_eq!(connected().await, json!({ "connected": false, "state": "unknown" }));
    assert_eq!(connected().await, json!({ "connected": false, "state": "unknown" }));
    assert_eq!(app.mock.requests_to(Endpoint::Credentials), 1, "the second answer was remembered");

    let state = app.start("slack", "acme").await["state"].as_str().unwrap().to_owned();
    let (_, mut events) = app.events(&format!("/flows/{state}/events"), "acme").await;
    assert_eq!(events.next().await, Some(json!({ "status": "INACTIVE" })));
    app.mock.approve(&state);
    assert_eq!(events.next().await, Some(json!({ "status": "ACTIVE" })));
    // On `fastn:connected` the page asks again: connected at once, and API calls work.
    assert_eq!(connected().await, json!({ "connected": true, "state": "healthy" }));
    assert_eq!(app.mock.requests_to(Endpoint::Credentials), 2, "asked Fastn, not the remembered 404");
    let slack = client.api("slack").base_url("https://slack.com/api").tenant_id("acme");
    assert_eq!(slack.get("/auth.test").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn only_the_declared_connectors_are_served() {
    let mock = MockServer::start().await.unwrap();
    let client = mock.client();
    let app = serve(mock, ConnectRouter::new(client, ["slack", "salesforce"])).await;
    assert_eq!(app.start("slack", "acme").await["state"].as_str().map(str::len).map(|n| n > 0), Some(true));
    for path in ["/slak/connect", "/my%20crm/connect"] {
        let answer = app.http.post(format!("{}{path}", app.url)).header("x-test-tenant", "acme").send().await;
        assert_eq!(answer.unwrap().status(), 404, "{path}");
    }
    assert_eq!(app.get("/slak", "acme").send().await.unwrap().status(), 404);
    assert_eq!(app.mock.requests_to(Endpoint::Init), 1, "nothing sent for an undeclared id");
    assert_eq!(app.mock.requests_to(Endpoint::Credentials), 0);
}

/// The emulator's consent form, approved as a browser posts it; where it sends the user.
async fn approve(app: &App, consent: &str) -> String {
    let page = app.http.get(consent).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let state = page.split("name=\"state\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let decided = app
        .http
        .post(format!("http://{}/authorize", app.mock.addr()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("state={state}&decision=approve&csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 303);
    decided.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn in_return_mode_the_user_consents_and_comes_back_to_the_apps_page() {
    const PAGE: &str = "https://app.example.com/settings?tab=apps";
    let app = app(|router| router.return_to(PAGE).unwrap()).await;
    let connected = app.get("/hubspot", "acme").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(connected, json!({ "connected": false, "state": "unknown" }));

    // Without JavaScript: the form post goes to Fastn's consent page, not to a popup's flow.
    let consent = app.form_post("hubspot", "acme").await;
    assert!(consent.starts_with(&format!("http://{}/", app.mock.addr())), "{consent}");
    assert_eq!(app.mock.requests().iter().filter(|r| r.path.ends_with("/connections/initiate")).count(), 1);
    let back = approve(&app, &consent).await;
    assert!(back.starts_with(&format!("{PAGE}&connector=hubspot&connection_id=")), "{back}");
    assert!(back.ends_with("&status=authorized"), "{back}");
    // The page asks the router, not the query, whether the tenant is connected.
    let connected = app.get("/hubspot", "acme").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(connected, json!({ "connected": true, "state": "healthy" }));
    let other = app.get("/hubspot", "globex").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(
        other,
        json!({ "connected": false, "state": "unknown" }),
        "another tenant's consent is not this one's"
    );

    // With JavaScript: the same start as JSON, and the script that follows it in the same tab.
    let started = app.start("slack", "acme").await;
    assert!(started["connection_id"].is_string() && started.get("events_url").is_none(), "{started}");
    assert!(started["redirect_url"].as_str().unwrap().starts_with(&format!("http://{}/", app.mock.addr())));
    let script = app.get("/connect.js", "acme").send().await.unwrap().text().await.unwrap();
    assert!(script.contains("const RETURN_MODE = true;"), "the script of a router in return mode");
}

#[test]
fn return_mode_needs_an_absolute_http_url_of_the_app() {
    for bad in ["/settings", "javascript:alert(1)", "ftp://app.example.com/", "https://", ""] {
        let client = fastn_auth::FastnAuth::builder("space").api_key("k").build().unwrap();
        let err = ConnectRouter::any(client).return_to(bad).unwrap_err();
        assert!(err.to_string().contains("absolute http(s) URL"), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn a_broken_connection_says_so_with_why_and_one_post_reconnects_it() {
    let mock = MockServer::start().await.unwrap();
    mock.insert_connection(
        fastn_auth_emulator::ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"),
        None,
    );
    let client = mock.client();
    let app = app_on(mock, client, |router| router.poll_interval(Duration::from_millis(50))).await;
    let health = || async { app.get("/slack", "acme").send().await.unwrap().json::<Value>().await.unwrap() };
    assert_eq!(health().await, json!({ "connected": true, "state": "healthy" }));
    let (_, mut live) = app.events("/events", "acme").await;

    app.mock.break_connection("slack", "acme", fastn_auth_emulator::ConnectionBreak::RefreshFailed);
    let broken = json!({
        "connected": false, "state": "broken", "reason": "refresh_failed", "reconnect": "/integrations/slack/connect",
    });
    assert_eq!(health().await, broken);
    let told = json!({ "connector": "slack", "kind": "broken", "reason": "refresh_failed" });
    assert_eq!(live.next_of("health").await, Some(told));

    // The button posts to `reconnect`: a flow for the same connection; approved, it is mended.
    let state = app.start("slack", "acme").await["state"].as_str().unwrap().to_owned();
    let (_, mut flow) = app.events(&format!("/flows/{state}/events"), "acme").await;
    assert_eq!(flow.next().await, Some(json!({ "status": "INACTIVE" })));
    app.mock.approve(&state);
    assert_eq!(flow.next().await, Some(json!({ "status": "ACTIVE" })));
    let mended = json!({ "connector": "slack", "kind": "reconnected", "reason": null });
    assert_eq!(live.next_of("health").await, Some(mended));
    assert_eq!(health().await, json!({ "connected": true, "state": "healthy" }));
    let script = app.get("/connect.js", "acme").send().await.unwrap().text().await.unwrap();
    assert!(script.contains("Reconnect") && script.contains("fastn:broken"), "the button's reconnect");
}
