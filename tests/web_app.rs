//! The web_app example driven over HTTP like a browser: connect, consent, see "connected".

#[path = "../examples/web_app.rs"]
mod web_app;

use fastn_auth_emulator::MockServer;

#[tokio::test]
async fn a_customer_connects_salesforce_through_the_web_app() {
    let mock = MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start().await.unwrap();
    let client = mock.client();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, web_app::app(client)).await });
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let index = browser.get(&app).send().await.unwrap().text().await.unwrap();
    assert!(index.contains("Connect Salesforce"));

    let started = browser.post(format!("{app}/connect")).send().await.unwrap();
    assert_eq!(started.status(), 303);
    let page_path = started.headers()["location"].to_str().unwrap().to_owned();
    let waiting = browser.get(format!("{app}{page_path}")).send().await.unwrap().text().await.unwrap();
    assert!(waiting.contains("Waiting for Salesforce"), "{waiting}");
    let consent_url =
        waiting.split("href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");

    let consent = browser.get(&consent_url).send().await.unwrap().text().await.unwrap();
    assert!(consent.contains("Connect salesforce") && consent.contains("acme"), "{consent}");
    let state = consent_url.split("state=").nth(1).unwrap();
    let csrf = consent.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let approved = browser
        .post(format!("http://{}/authorize", mock.addr()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("state={state}&decision=approve&csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);

    let done = browser.get(format!("{app}{page_path}")).send().await.unwrap().text().await.unwrap();
    assert!(
        done.contains("Salesforce connected") && done.contains("https://acme.example.com/instanceurl"),
        "{done}"
    );
}
