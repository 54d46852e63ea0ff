//! The web_app example driven over HTTP like a browser without JavaScript: the button's form
//! post, the consent page, then the router says the tenant is connected.

use crate::example_web_app as web_app;

use fastn_auth_axum::MemoryHandles;
use fastn_auth_emulator::MockServer;

#[tokio::test]
async fn a_customer_connects_salesforce_through_the_web_app() {
    let mock = MockServer::builder().connectors(fastn_auth_tests::MANIFEST).start().await.unwrap();
    let client = mock.client();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, web_app::app(client, MemoryHandles::default())).await });
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let index = browser.get(&app).send().await.unwrap().text().await.unwrap();
    assert!(index.contains("Connect Salesforce") && index.contains("/integrations/connect.js"), "{index}");
    let connected = |browser: reqwest::Client| {
        let url = format!("{app}/integrations/salesforce");
        async move { browser.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    assert_eq!(connected(browser.clone()).await["connected"], false);

    let started = browser.post(format!("{app}/integrations/salesforce/connect")).send().await.unwrap();
    assert_eq!(started.status(), 303);
    let consent_url = started.headers()["location"].to_str().unwrap().to_owned();
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

    let status = browser.get(format!("{app}/integrations/flows/{state}")).send().await.unwrap();
    assert_eq!(status.json::<serde_json::Value>().await.unwrap()["status"], "ACTIVE");
    assert_eq!(connected(browser).await["connected"], true);
}
