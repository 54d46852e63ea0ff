//! Every connector's provider API, over HTTP as from any language.

use super::*;

/// The provider API of a connector, rotated and revoked over HTTP as from any language: the
/// token placement comes from the manifest (Stripe's is an extra field in `Authorization`).
#[tokio::test]
async fn provider_tokens_are_checked_rotated_and_revoked_over_http() {
    use reqwest::Method;
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    let new = json!({ "space_id": "space", "connector_id": "stripe", "tenant_id": "acme" });
    let made = json_of(control(&api, Method::POST, "connections", Some(new)).await).await;
    let key = made["stripe_publishable_key"].as_str().unwrap().to_owned();
    let provider = |token: &str| {
        api.http
            .post(format!("{}/stripe/v1/charges?limit=3&key=x", api.mock.provider_url()))
            .header("authorization", format!("Bearer {token}"))
            .header("x-trace", "7")
            .body("amount=1")
            .send()
    };
    let echo = json_of(provider(&key).await.unwrap()).await;
    assert_eq!(
        (&echo["method"], &echo["path"], &echo["query"]["limit"], &echo["body"], &echo["tenant_id"]),
        (&json!("POST"), &json!("/v1/charges"), &json!("3"), &json!("amount=1"), &json!("acme"))
    );
    assert!(echo["headers"].get("authorization").is_none() && echo["headers"]["x-trace"] == "7");
    let access = made["access_token"].as_str().unwrap();
    assert_eq!(provider(access).await.unwrap().status(), 401, "Stripe's token is the secret field");

    let tenant = json!({ "connector_id": "stripe", "tenant_id": "acme" });
    let rotated = control(&api, Method::POST, "connections/rotate", Some(tenant.clone())).await;
    assert_eq!(json_of(rotated).await["connections"], 1);
    let refused = provider(&key).await.unwrap();
    assert_eq!(
        (refused.status().as_u16(), json_of(refused).await),
        (401, json!({ "error": "invalid_token" }))
    );
    let fresh = json_of(api.credentials("stripe", "acme").await).await;
    let new_key = fresh["credentials"]["stripe_publishable_key"].as_str().unwrap().to_owned();
    assert_eq!(provider(&new_key).await.unwrap().status(), 200);

    assert_eq!(control(&api, Method::POST, "connections/revoke", Some(tenant.clone())).await.status(), 200);
    assert_eq!(provider(&new_key).await.unwrap().status(), 401);
    assert_eq!(api.credentials("stripe", "acme").await.status(), 404);
    assert_eq!(control(&api, Method::POST, "connections/revoke", Some(tenant)).await.status(), 404);
    let bad = control(&api, Method::POST, "connections/rotate", Some(json!({ "tenant": "acme" }))).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(api.mock.requests_to(fastn_auth::Endpoint::Api), 5);
    let log = json_of(control(&api, Method::GET, "requests", None).await).await;
    assert!(log.to_string().contains("key=[REDACTED]"), "a query parameter named key is redacted: {log}");
}

/// A web page the developer visits cannot drive the provider API (a `no-cors` fetch sends
/// its `Origin`, a navigation `Sec-Fetch-Site`), nor use up the faults a test queued.
#[tokio::test]
async fn the_provider_api_refuses_cross_site_callers_and_keeps_their_faults() {
    let api = Api::start(MockServer::builder().connectors(MANIFEST).start().await.unwrap()).await;
    api.mock.inject(Endpoint::Api, Fault::status(503));
    let url = format!("{}/slack/auth.test", api.mock.provider_url());
    for (name, value) in
        [("origin", "https://evil.example"), ("origin", "null"), ("sec-fetch-site", "cross-site")]
    {
        let refused = api.http.get(&url).header(name, value).send().await.unwrap();
        assert_eq!(refused.status(), 403, "{name}: {value}");
        assert!(refused.text().await.unwrap().contains("cross-site"));
    }
    let own = format!("http://{}", api.mock.addr());
    let from_curl = api.http.get(&url).send().await.unwrap();
    assert_eq!(from_curl.status(), 503, "the queued fault is still there for the test");
    let same_site = api.http.get(&url).header("origin", own).send().await.unwrap();
    assert_eq!(same_site.status(), 401, "its own pages and SDK clients are served");
    assert_eq!(api.mock.requests_to(Endpoint::Api), 2, "refused requests are not counted as served");
}
