//! The emulator over plain HTTP, as any client (curl, the official Python client) sees it.

use std::time::{Duration, Instant};

use fastn_auth::Endpoint;
use fastn_auth_emulator::{ConnectionKey, Fault, MockServer};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

/// The workspace manifest: the emulator generates the extra fields it declares.
const MANIFEST: &str = include_str!("../../connectors.yaml");

fn headers(request: RequestBuilder, tenant: &str) -> RequestBuilder {
    request
        .header("content-type", "application/json")
        .header("x-fastn-space-id", "space")
        .header("x-fastn-api-key", MockServer::API_KEY)
        .header("x-fastn-custom-auth", "true")
        .header("x-fastn-space-tenantid", tenant)
        .header("x-fastn-space-connection-id", "")
}

async fn json_of(response: Response) -> Value {
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

struct Api {
    mock: MockServer,
    http: Client,
}

impl Api {
    async fn start(mock: MockServer) -> Self {
        Api { mock, http: Client::new() }
    }

    async fn init(&self, connector: &str, tenant: &str) -> Value {
        let url = format!("{}/connect/init/community/{connector}", self.mock.base_url());
        let response = headers(self.http.post(url), tenant).send().await.unwrap();
        assert_eq!(response.status(), 200);
        json_of(response).await
    }

    async fn status(&self, state: &str) -> Response {
        headers(self.http.get(format!("{}/connect/status/{state}", self.mock.base_url())), "")
            .send()
            .await
            .unwrap()
    }

    async fn credentials(&self, connector: &str, tenant: &str) -> Response {
        let url = format!("{}/connect/credentials/community/{connector}", self.mock.base_url());
        headers(self.http.get(url), tenant).send().await.unwrap()
    }

    /// The consent page's anti-forgery token of a pending flow, read as a browser would.
    async fn csrf(&self, state: &str) -> String {
        let page = self
            .http
            .get(format!("http://{}/authorize?state={state}", self.mock.addr()))
            .send()
            .await
            .unwrap();
        let page = page.text().await.unwrap();
        let (_, after) = page.split_once("name=\"csrf\" value=\"").unwrap_or(("", "\""));
        after.split('"').next().unwrap_or_default().to_owned()
    }

    /// Posts the consent form as the page does, anti-forgery token included.
    async fn decide(&self, state: &str, decision: &str) -> Response {
        let csrf = self.csrf(state).await;
        self.post_form(&format!("state={state}&decision={decision}&csrf={csrf}")).await
    }

    async fn post_form(&self, form: &str) -> Response {
        self.http
            .post(format!("http://{}/authorize", self.mock.addr()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_person_approves_on_the_consent_page() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let init = api.init("salesforce", "acme").await;
    assert_eq!((init["type"].as_str(), init["success"].as_bool()), (Some("oauth"), Some(true)));
    let state = init["state"].as_str().unwrap();
    assert_eq!(json_of(api.status(state).await).await, json!({ "status": "INACTIVE" }));

    let page = api.http.get(init["redirectUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("salesforce")
            && page.contains("acme")
            && page.contains("Approve")
            && page.contains("Deny")
    );
    assert!(page.contains("Salesforce CRM; API calls go to"), "the manifest's description: {page}");
    assert!(page.contains(&format!("name=\"state\" value=\"{state}\"")));

    let outcome = api.decide(state, "approve").await;
    assert_eq!(outcome.status(), 200);
    assert!(outcome.text().await.unwrap().contains("Connected"));
    assert_eq!(json_of(api.status(state).await).await, json!({ "status": "ACTIVE" }));
    let creds = json_of(api.credentials("salesforce", "acme").await).await;
    assert_eq!(creds["success"], true);
    assert_eq!(creds["credentials"]["instance_url"], "https://acme.example.com/instanceurl");
    assert_eq!(api.decide(state, "approve").await.status(), 403, "a completed flow cannot be decided again");
}

#[tokio::test]
async fn a_person_denies_on_the_consent_page() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let state = api.init("slack", "").await["state"].as_str().unwrap().to_owned();
    assert_eq!(api.decide(&state, "deny").await.status(), 200);
    assert_eq!(
        json_of(api.status(&state).await).await,
        json!({ "status": "FAILED", "errorMessage": "user denied access" })
    );
    assert_eq!(api.credentials("slack", "").await.status(), 404);
}

#[tokio::test]
async fn tenants_connections_and_spaces_are_isolated() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let state = api.init("notion", "acme").await["state"].as_str().unwrap().to_owned();
    assert!(api.mock.approve(&state));
    assert_eq!(api.credentials("notion", "acme").await.status(), 200);
    assert_eq!(api.credentials("notion", "globex").await.status(), 404);
    assert_eq!(api.credentials("notion", "").await.status(), 404);
    assert_eq!(api.credentials("slack", "acme").await.status(), 404);

    let other_space = api
        .http
        .get(format!("{}/connect/status/{state}", api.mock.base_url()))
        .header("x-fastn-space-id", "another-space")
        .header("x-fastn-api-key", MockServer::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(other_space.status(), 404, "a state is only visible to its own space");
    api.mock
        .insert_connection(ConnectionKey::new("space", "notion").tenant_id("acme").connection_id("c2"), None);
    let with_connection = headers(
        api.http.get(format!("{}/connect/credentials/community/notion", api.mock.base_url())),
        "acme",
    )
    .header("x-fastn-space-connection-id", "c2")
    .send()
    .await
    .unwrap();
    assert_eq!(with_connection.status(), 200);
}

#[tokio::test]
async fn unauthenticated_requests_get_401_and_unknown_states_404() {
    // A token of its own replaces the public defaults; the key is given back explicitly.
    let mock = MockServer::builder()
        .connectors(MANIFEST)
        .auth_token("extra-token")
        .api_key(MockServer::API_KEY)
        .start()
        .await
        .unwrap();
    let http = Client::new();
    let url = format!("{}/connect/init/community/slack", mock.base_url());
    let no_space = http.post(&url).header("x-fastn-api-key", MockServer::API_KEY).send().await.unwrap();
    assert_eq!(no_space.status(), 401);
    assert!(json_of(no_space).await["error"]["message"].as_str().unwrap().contains("x-fastn-space-id"));
    let no_key = http.post(&url).header("x-fastn-space-id", "s").send().await.unwrap();
    assert_eq!(no_key.status(), 401);
    let wrong_key = http
        .post(&url)
        .header("x-fastn-space-id", "s")
        .header("x-fastn-api-key", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), 401);
    let bearer =
        http.post(&url).header("x-fastn-space-id", "s").bearer_auth("extra-token").send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    let api = Api { mock, http };
    assert_eq!(api.status("unknown").await.status(), 404);
    assert_eq!(api.http.get(format!("http://{}/nope", api.mock.addr())).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn auto_approval_after_a_delay_or_a_number_of_polls() {
    let api = Api::start(
        MockServer::builder()
            .connectors(MANIFEST)
            .auto_approve_after(Duration::from_millis(200))
            .start()
            .await
            .unwrap(),
    )
    .await;
    // The flow starts between these two instants; so it is INACTIVE whenever the status is
    // asked for sooner than the delay after `sent`, and ACTIVE once the delay after
    // `answered` has passed, however slow the machine is.
    let sent = Instant::now();
    let state = api.init("github", "").await["state"].as_str().unwrap().to_owned();
    let answered = Instant::now();
    let first = json_of(api.status(&state).await).await["status"].clone();
    assert!(first == "INACTIVE" || sent.elapsed() >= Duration::from_millis(200), "approved early: {first}");
    tokio::time::sleep_until((answered + Duration::from_millis(200)).into()).await;
    assert_eq!(json_of(api.status(&state).await).await["status"], "ACTIVE");

    let api = Api::start(
        MockServer::builder().connectors(MANIFEST).auto_approve_after_polls(3).start().await.unwrap(),
    )
    .await;
    let state = api.init("github", "").await["state"].as_str().unwrap().to_owned();
    let seen: Vec<Value> = futures_seq(&api, &state, 3).await;
    assert_eq!(seen, ["INACTIVE", "INACTIVE", "ACTIVE"]);
}

async fn futures_seq(api: &Api, state: &str, polls: usize) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..polls {
        seen.push(json_of(api.status(state).await).await["status"].clone());
    }
    seen
}

#[tokio::test]
async fn each_fault_kind_is_served_as_scripted_then_normal_answers_resume() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let state = api.init("slack", "").await["state"].as_str().unwrap().to_owned();
    let mock = &api.mock;

    mock.inject(Endpoint::Status, Fault::status_retry_after(429, 7));
    let response = api.status(&state).await;
    assert_eq!(
        (response.status().as_u16(), &response.headers()["retry-after"]),
        (429, &"7".parse::<reqwest::header::HeaderValue>().unwrap())
    );

    mock.inject(Endpoint::Status, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(api.status(&state).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    mock.inject(Endpoint::Status, Fault::Hang);
    let hung = tokio::time::timeout(Duration::from_millis(300), api.status(&state)).await;
    assert!(hung.is_err(), "a hanging request never answers");

    mock.inject(Endpoint::Status, Fault::MalformedJson);
    let body = api.status(&state).await.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");

    mock.inject(Endpoint::Status, Fault::Html);
    let response = api.status(&state).await;
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));

    mock.inject(Endpoint::Status, Fault::Oversized(2 << 20));
    assert!(api.status(&state).await.bytes().await.unwrap().len() > 2 << 20);

    mock.inject(Endpoint::Status, Fault::CloseMidBody);
    assert!(api.status(&state).await.bytes().await.is_err(), "the body is cut off");

    mock.inject(Endpoint::Status, Fault::UnknownStatus("PENDING_REVIEW".into()));
    assert_eq!(json_of(api.status(&state).await).await, json!({ "status": "PENDING_REVIEW" }));

    mock.inject(Endpoint::Status, Fault::Body { code: 200, body: r#"{"status":5}"#.into() });
    assert_eq!(api.status(&state).await.text().await.unwrap(), r#"{"status":5}"#);

    mock.inject(Endpoint::Status, Fault::Redirect("http://elsewhere.invalid/".into()));
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirected =
        headers(http.get(format!("{}/connect/status/{state}", mock.base_url())), "").send().await.unwrap();
    assert_eq!(
        (redirected.status().as_u16(), redirected.headers()["location"].to_str().unwrap()),
        (307, "http://elsewhere.invalid/")
    );

    mock.inject_times(Endpoint::Init, Fault::status(500), 2);
    assert_eq!(json_of(api.status(&state).await).await["status"], "INACTIVE", "faults are per endpoint");
    let url = format!("{}/connect/init/community/slack", mock.base_url());
    for expected in [500, 500, 200] {
        assert_eq!(headers(api.http.post(&url), "").send().await.unwrap().status(), expected);
    }
}

#[tokio::test]
async fn requests_and_connections_are_observable() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let state = api.init("..%2Fadmin", "acme").await["state"].as_str().unwrap().to_owned();
    let _ = api.status(&state).await;
    let requests = api.mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/api/connect/init/community/..%2Fadmin")
    );
    assert_eq!(requests[0].header("X-Fastn-Space-Tenantid"), Some("acme"));
    assert!(!format!("{requests:?}").contains(MockServer::API_KEY), "the log's Debug redacts keys");
    // Counted per TCP connection: a client that never reuses one made two.
    let unpooled = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let before = api.mock.connections_accepted();
    for _ in 0..2 {
        unpooled.get(format!("http://{}/api/connect/status/x", api.mock.addr())).send().await.unwrap();
    }
    assert_eq!(api.mock.connections_accepted() - before, 2);
    api.mock.clear_requests();
    assert!(api.mock.requests().is_empty());

    let quiet =
        Api::start(MockServer::builder().connectors(MANIFEST).record_requests(false).start().await.unwrap())
            .await;
    assert_eq!(quiet.status("x").await.status(), 404);
    assert!(quiet.mock.requests().is_empty(), "nothing is logged with recording off");
    assert_eq!(quiet.mock.requests_served(), 1, "but every request is counted");
}

#[tokio::test]
async fn a_cross_site_form_cannot_decide_a_flow() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let state = api.init("slack", "acme").await["state"].as_str().unwrap().to_owned();
    for forged in
        [format!("state={state}&decision=approve"), format!("state={state}&decision=approve&csrf=guess")]
    {
        assert_eq!(api.post_form(&forged).await.status(), 403, "{forged}");
    }
    assert_eq!(json_of(api.status(&state).await).await["status"], "INACTIVE", "still pending");
    assert_eq!(api.decide(&state, "approve").await.status(), 200, "the page's own form works");
}

#[tokio::test]
async fn ids_the_sdk_refuses_are_refused() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    for connector in ["%00", "%20slack", "a%0Ab", &"c".repeat(fastn_auth::wire::MAX_ID_BYTES + 1)] {
        let url = format!("{}/connect/init/community/{connector}", api.mock.base_url());
        let response = headers(api.http.post(url), "").send().await.unwrap();
        assert_eq!(response.status(), 400, "{connector}");
        assert!(json_of(response).await["error"]["message"].as_str().unwrap().contains("connector_id"));
    }
    // HTTP allows a tab inside a header value; the SDK refuses it, so the emulator does too.
    let tabbed =
        headers(api.http.get(format!("{}/connect/credentials/community/slack", api.mock.base_url())), "a\tb");
    let response = tabbed.send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(json_of(response).await["error"]["message"].as_str().unwrap().contains("x-fastn-space-tenantid"));
    assert_eq!(api.mock.pending_flows(), 0);
}

/// A credentials request whose tenant header is these raw bytes.
async fn credentials_of_raw_tenant(api: &Api, tenant: &[u8]) -> u16 {
    let url = format!("{}/connect/credentials/community/slack", api.mock.base_url());
    let request = api
        .http
        .get(url)
        .header("x-fastn-space-id", "space")
        .header("x-fastn-api-key", MockServer::API_KEY)
        .header("x-fastn-space-tenantid", reqwest::header::HeaderValue::from_bytes(tenant).unwrap());
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn tenant_ids_are_any_text_never_confused_with_none() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    api.mock.insert_connection(ConnectionKey::new("space", "slack").tenant_id("Zürich"), None);
    assert_eq!(credentials_of_raw_tenant(&api, "Zürich".as_bytes()).await, 200);
    assert_eq!(credentials_of_raw_tenant(&api, b"Zurich").await, 404);
    assert_eq!(
        credentials_of_raw_tenant(&api, b"\xffZ\xfcrich").await,
        400,
        "not UTF-8: refused, not read as no tenant"
    );
}

#[tokio::test]
async fn flows_expire_and_the_log_keeps_the_newest() {
    let mock = MockServer::builder()
        .connectors(MANIFEST)
        .flow_ttl(Duration::from_millis(100))
        .request_log(5)
        .start()
        .await
        .unwrap();
    let api = Api::start(mock).await;
    let old = api.init("slack", "").await["state"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(api.status(&old).await.status(), 404, "an expired flow is forgotten");
    assert_eq!(api.mock.pending_flows(), 0);
    for _ in 0..20 {
        api.init("slack", "").await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    api.init("slack", "").await;
    assert_eq!(api.mock.flows_held(), 1, "starting a flow drops the expired ones");
    let log = api.mock.requests();
    assert_eq!(log.len(), 5);
    assert_eq!(log.last().unwrap().method, "POST", "the newest are kept");
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mock = MockServer::builder()
        .connectors(MANIFEST)
        .header_read_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut tcp = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
        tcp.write_all(b"GET /api/connect/status/x HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        slow.push(tcp);
    }
    let idle = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    slow.push(idle);
    for mut tcp in slow {
        let mut rest = Vec::new();
        // A generous guard: the emulator closes within its 200 ms; this only stops a hang.
        let closed = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the emulator closed the connection");
    }
}

/// A control call: `method` on `/_emulator/{path}` with an optional JSON body, with the
/// emulator's key as the control API asks.
async fn control(api: &Api, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
    let request = api
        .http
        .request(method, format!("http://{}/_emulator/{path}", api.mock.addr()))
        .header("x-fastn-api-key", MockServer::API_KEY);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_emulator_is_driven_over_http_as_from_any_language() {
    use reqwest::Method;
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;

    // Fixed credentials, then a flow approved by a control call.
    let fixed = json!({ "access_token": "fixed-token", "team_id": "T9" });
    assert_eq!(control(&api, Method::PUT, "credentials/slack", Some(fixed)).await.status(), 204);
    let state = api.init("slack", "acme").await["state"].as_str().unwrap().to_owned();
    assert_eq!(control(&api, Method::POST, &format!("flows/{state}/approve"), None).await.status(), 204);
    assert_eq!(json_of(api.status(&state).await).await["status"], "ACTIVE");
    let creds = json_of(api.credentials("slack", "acme").await).await;
    assert_eq!(creds["credentials"]["access_token"], "fixed-token");
    assert_eq!(control(&api, Method::POST, &format!("flows/{state}/approve"), None).await.status(), 404);

    // Denied with the caller's message.
    let state = api.init("stripe", "").await["state"].as_str().unwrap().to_owned();
    let deny_path = format!("flows/{state}/deny");
    let deny = control(&api, Method::POST, &deny_path, Some(json!({ "message": "no thanks" }))).await;
    assert_eq!(deny.status(), 204);
    assert_eq!(json_of(api.status(&state).await).await["errorMessage"], "no thanks");

    // A connection made earlier.
    let new = json!({ "space_id": "space", "connector_id": "notion", "tenant_id": "globex" });
    let made = control(&api, Method::POST, "connections", Some(new)).await;
    assert_eq!(made.status(), 201);
    assert!(json_of(made).await["access_token"].is_string());
    assert_eq!(api.credentials("notion", "globex").await.status(), 200);

    // Faults in, used, and cleared.
    let fault = json!({ "endpoint": "status", "fault": { "kind": "status", "code": 503, "retry_after": 2 }, "times": 2 });
    assert_eq!(control(&api, Method::POST, "faults", Some(fault)).await.status(), 204);
    let faulted = api.status(&state).await;
    assert_eq!((faulted.status().as_u16(), faulted.headers()["retry-after"].to_str().unwrap()), (503, "2"));
    assert_eq!(control(&api, Method::DELETE, "faults", None).await.status(), 204);
    assert_eq!(api.status(&state).await.status(), 200, "the second 503 was cleared");

    // The log, keys redacted, without the control calls themselves; the counters.
    let log = json_of(control(&api, Method::GET, "requests", None).await).await;
    let log = log.as_array().unwrap();
    assert!(log.iter().all(|r| !r["path"].as_str().unwrap().starts_with("/_emulator")), "{log:?}");
    assert!(log.iter().all(|r| r["headers"]["x-fastn-api-key"] == "[REDACTED]"));
    assert!(log.iter().any(|r| r["path"] == "/api/connect/init/community/slack" && r["method"] == "POST"));
    let stats = json_of(control(&api, Method::GET, "stats", None).await).await;
    assert_eq!(stats["requests_served"].as_u64(), Some(log.len() as u64));

    // Bad input says what was expected; reset forgets everything.
    let bad = control(
        &api,
        Method::POST,
        "faults",
        Some(json!({ "endpoint": "status", "fault": { "kind": "explode" } })),
    )
    .await;
    assert_eq!(bad.status(), 400);
    assert!(json_of(bad).await["error"]["message"].as_str().unwrap().contains("expected {\"endpoint\""));
    let bad = control(&api, Method::PUT, "credentials/slack", Some(json!([1]))).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(control(&api, Method::GET, "nope", None).await.status(), 404);
    assert_eq!(control(&api, Method::POST, "reset", None).await.status(), 204);
    assert_eq!(api.credentials("notion", "globex").await.status(), 404);
    assert!(json_of(control(&api, Method::GET, "requests", None).await).await.as_array().unwrap().len() <= 1);
    assert_eq!(api.mock.pending_flows(), 0);
}

/// What a web page the developer visits could send to the emulator on loopback: refused,
/// and nothing changes.
#[tokio::test]
async fn no_web_page_can_drive_the_control_api() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let plant =
        json!({ "space_id": "mock-space", "connector_id": "slack", "tenant_id": "victim" }).to_string();
    let own = format!("http://{}", api.mock.addr());
    let localhost = format!("localhost:{}", api.mock.addr().port());
    let key = ("x-fastn-api-key", MockServer::API_KEY);
    let json = ("content-type", "application/json");
    // (method, path, headers, body, answer): with the key unless the case says otherwise.
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a str, u16);
    let cases: Vec<Case> = vec![
        // No key: what a cross-site `fetch` without a preflight sends.
        ("POST", "_emulator/connections", vec![json], &plant, 401),
        // A form post (text/plain, or a form's type) even with a key, another site's Origin,
        // or a browser's cross-site marker.
        ("POST", "_emulator/connections", vec![key, ("content-type", "text/plain")], &plant, 415),
        (
            "POST",
            "_emulator/reset",
            vec![key, ("content-type", "application/x-www-form-urlencoded")],
            "",
            415,
        ),
        ("POST", "_emulator/connections", vec![key, json, ("origin", "https://evil.example")], &plant, 403),
        ("POST", "_emulator/reset", vec![key, ("sec-fetch-site", "cross-site")], "", 403),
        // DNS rebinding: the right address, another name, on every route.
        ("GET", "_emulator/stats", vec![key, ("host", "evil.example")], "", 421),
        ("GET", "api/connect/status/x", vec![key, ("host", "evil.example")], "", 421),
        ("GET", "authorize?state=x", vec![key, ("host", "evil.example")], "", 421),
        // Its own pages and callers are welcome: same origin, localhost, no body.
        ("GET", "_emulator/stats", vec![key, ("host", &localhost)], "", 200),
        ("POST", "_emulator/faults", vec![key], "", 400), // a 400 saying what was expected, not 415
    ];
    for (method, path, headers, body, answer) in cases {
        let mut request = api.http.request(method.parse().unwrap(), format!("{own}/{path}"));
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let got = request.body(body.to_owned()).send().await.unwrap().status();
        assert_eq!(got, answer, "{method} {path} {headers:?}");
    }
    assert_eq!(api.credentials("slack", "victim").await.status(), 404, "nothing was planted");
    let same_origin = api
        .http
        .post(format!("{own}/_emulator/connections"))
        .header(key.0, key.1)
        .header("origin", &own)
        .header(json.0, json.1)
        .body(plant)
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 201);
}

#[tokio::test]
async fn fault_sizes_are_bounded_and_an_own_key_replaces_the_public_one() {
    let mock = MockServer::builder().connectors(MANIFEST).api_key("MY-KEY").start().await.unwrap();
    let http = Client::new();
    let url = format!("http://{}/_emulator/faults", mock.addr());
    let fault = |body: Value| http.post(&url).header("x-fastn-api-key", "MY-KEY").json(&body).send();
    for (body, says) in [
        (
            json!({ "endpoint": "status", "fault": { "kind": "hang" }, "times": 10_000_000_000u64 }),
            "times is 10000000000, at most 1000000",
        ),
        (json!({ "endpoint": "status", "fault": { "kind": "oversized", "bytes": 1e13 } }), "expected"),
        (
            json!({ "endpoint": "status", "fault": { "kind": "oversized", "bytes": 100_000_000 } }),
            "bytes is 100000000, at most 16777216",
        ),
        (
            json!({ "endpoint": "status", "fault": { "kind": "delay", "ms": 4_000_000 } }),
            "ms is 4000000, at most 3600000",
        ),
        (
            json!({ "endpoint": "status", "fault": { "kind": "status", "code": 503, "retry_after": 100_000 } }),
            "retry_after is 100000",
        ),
        (json!({ "endpoint": "status", "fault": { "kind": "status", "code": 42 } }), "code is 42"),
    ] {
        let answer = fault(body.clone()).await.unwrap();
        assert_eq!(answer.status(), 400, "{body}");
        let message = json_of(answer).await["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(says), "{body}: {message}");
    }
    let ok = fault(
        json!({ "endpoint": "status", "fault": { "kind": "status", "code": 503 }, "times": 1_000_000 }),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 204, "the maximum is accepted, and costs one entry");

    // The public key no longer opens this emulator, its own client uses its key.
    let public = http
        .get(format!("http://{}/_emulator/stats", mock.addr()))
        .header("x-fastn-api-key", MockServer::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 401);
    let init = http
        .post(format!("{}/connect/init/community/slack", mock.base_url()))
        .header("x-fastn-space-id", "s")
        .header("x-fastn-api-key", MockServer::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 401);
    mock.clear_faults();
    assert!(mock.client().connect("slack").send().await.is_ok());
}

#[tokio::test]
async fn the_log_hides_cookies_and_the_consent_page_cannot_be_framed() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let url = format!("{}/connect/init/community/slack", api.mock.base_url());
    let sent =
        headers(api.http.post(url), "acme").header("cookie", "session=COOKIE-SECRET").send().await.unwrap();
    let state = json_of(sent).await["state"].as_str().unwrap().to_owned();
    let log = control(&api, reqwest::Method::GET, "requests", None).await.text().await.unwrap();
    assert!(!log.contains("COOKIE-SECRET") && log.contains("\"cookie\":\"[REDACTED]\""), "{log}");

    let page =
        api.http.get(format!("http://{}/authorize?state={state}", api.mock.addr())).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'none'"), "{policy}");
}

#[path = "emulator/provider.rs"]
mod provider;
