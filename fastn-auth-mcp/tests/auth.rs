//! [`JwtVerifier`] against a local issuer (its metadata and JWKS served by axum, counted):
//! what is accepted, what is refused and why, a key rotation picked up, and tokens naming
//! made-up keys that cannot make it read the JWKS on every request. The official TypeScript
//! client signing in through a real OAuth server is the CLI's test (`fastn-auth-cli`).
#![cfg(feature = "auth")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fastn_auth_mcp::auth::{AuthError, JwtVerifier, TokenVerifier as _};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const FIRST: &[u8] = include_bytes!("fixtures/test-key-first.pem");
const SECOND: &[u8] = include_bytes!("fixtures/test-key-second.pem");
const AUDIENCE: &str = "https://mcp.example.com/mcp";

/// A local issuer: its URL, the JWKS it serves (replaceable), how often that was read.
struct Issuer {
    url: String,
    jwks: Arc<Mutex<Value>>,
    reads: Arc<AtomicUsize>,
}

async fn issuer(keys: &[(&[u8], &str)], metadata_issuer: Option<&str>) -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let jwks = Arc::new(Mutex::new(jwks(keys)));
    let reads = Arc::new(AtomicUsize::new(0));
    let metadata = json!({"issuer": metadata_issuer.unwrap_or(&url), "jwks_uri": format!("{url}/jwks")});
    let (served, counted) = (jwks.clone(), reads.clone());
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            axum::routing::get(move || async move { axum::Json(metadata) }),
        )
        .route(
            "/jwks",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let jwks = served.lock().unwrap().clone();
                async move { axum::Json(jwks) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Issuer { url, jwks, reads }
}

fn jwks(keys: &[(&[u8], &str)]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(pem, kid)| {
            let mut jwk =
                Jwk::from_encoding_key(&EncodingKey::from_rsa_pem(pem).unwrap(), Algorithm::RS256).unwrap();
            jwk.common.key_id = Some((*kid).to_owned());
            serde_json::to_value(jwk).unwrap()
        })
        .collect();
    json!({ "keys": keys })
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A token signed with `pem` under `kid`: issued by `iss` for AUDIENCE to acme, valid an
/// hour, `claims` replacing any of those.
fn token(pem: &[u8], kid: &str, iss: &str, claims: Value) -> String {
    let mut payload = json!({"iss": iss, "aud": AUDIENCE, "sub": "acme", "exp": now() + 3600});
    for (name, value) in claims.as_object().unwrap() {
        payload[name] = value.clone();
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &payload, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
}

fn verifier(issuer: &Issuer, refresh: Duration) -> JwtVerifier {
    JwtVerifier::builder(&issuer.url).audience(AUDIENCE).refresh_interval(refresh).build().unwrap()
}

fn refused(result: Result<fastn_auth_mcp::auth::Identity, AuthError>) -> String {
    match result {
        Err(AuthError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_good_token_gives_its_tenant_and_each_wrong_claim_is_refused() {
    let issuer = issuer(&[(FIRST, "k1")], None).await;
    let verifier = verifier(&issuer, Duration::from_secs(3600));
    let identity =
        verifier.verify(&token(FIRST, "k1", &issuer.url, json!({"scope": "tools read"}))).await.unwrap();
    assert_eq!((identity.tenant.as_str(), identity.scopes.len()), ("acme", 2));
    let within_leeway = token(FIRST, "k1", &issuer.url, json!({"exp": now() - 30}));
    assert!(verifier.verify(&within_leeway).await.is_ok(), "a 30 s old expiry is within the 60 s leeway");
    for (claims, why) in [
        (json!({"aud": "https://other.example.com/mcp"}), "InvalidAudience"),
        (json!({"exp": now() - 3600}), "ExpiredSignature"),
        (json!({"nbf": now() + 3600}), "ImmatureSignature"),
        (json!({"iss": "https://impostor.example.com"}), "InvalidIssuer"),
        (json!({"sub": ""}), "is not a tenant"),
        (json!({"sub": 7}), "is not a tenant"),
    ] {
        let reason = refused(verifier.verify(&token(FIRST, "k1", &issuer.url, claims.clone())).await);
        assert!(reason.contains(why), "{claims}: {reason}");
    }
    // Signed by a key the issuer does not publish, under a published kid.
    let forged = refused(verifier.verify(&token(SECOND, "k1", &issuer.url, json!({}))).await);
    assert!(forged.contains("InvalidSignature"), "{forged}");
    // `alg: none`, and HS256 keyed with something public: never accepted.
    let b64 = |value: Value| base64_url(&value.to_string());
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"iss": issuer.url, "aud": AUDIENCE, "sub": "acme", "exp": now() + 60}))
    );
    assert!(refused(verifier.verify(&none).await).contains("not a signed JWT"));
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"iss": issuer.url, "aud": AUDIENCE, "sub": "acme", "exp": now() + 60}),
        &EncodingKey::from_secret(b"k1"),
    )
    .unwrap();
    assert!(refused(verifier.verify(&hs).await).contains("HS256"), "alg confusion");
    let custom = JwtVerifier::builder(&issuer.url).audience(AUDIENCE).tenant_claim("org").build().unwrap();
    let org = custom.verify(&token(FIRST, "k1", &issuer.url, json!({"org": "globex"}))).await.unwrap();
    assert_eq!((org.tenant.as_str(), org.subject.as_deref()), ("globex", Some("acme")));
}

/// Unpadded base64url, for a token no library would sign (`alg: none`).
fn base64_url(text: &str) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_made_up_kids_cannot_make_it_read_on_every_request() {
    let issuer = issuer(&[(FIRST, "k1")], None).await;
    let rotating = verifier(&issuer, Duration::ZERO);
    assert!(rotating.verify(&token(FIRST, "k1", &issuer.url, json!({}))).await.is_ok());
    assert_eq!(issuer.reads.load(Ordering::SeqCst), 1);
    *issuer.jwks.lock().unwrap() = jwks(&[(FIRST, "k1"), (SECOND, "k2")]);
    assert!(
        rotating.verify(&token(SECOND, "k2", &issuer.url, json!({}))).await.is_ok(),
        "the new key is read"
    );
    assert_eq!(issuer.reads.load(Ordering::SeqCst), 2);

    let guarded = verifier(&issuer, Duration::from_secs(3600));
    assert!(guarded.verify(&token(FIRST, "k1", &issuer.url, json!({}))).await.is_ok());
    for n in 0..50 {
        let made_up = token(SECOND, &format!("made-up-{n}"), &issuer.url, json!({}));
        assert!(refused(guarded.verify(&made_up).await).contains("no key of the issuer"));
    }
    assert_eq!(issuer.reads.load(Ordering::SeqCst), 3, "one read for the first token, none for the 50");
}

#[tokio::test]
async fn another_issuers_metadata_and_an_issuer_off_https_are_refused() {
    let impostor = issuer(&[(FIRST, "k1")], Some("https://id.example.com")).await;
    let result =
        verifier(&impostor, Duration::ZERO).verify(&token(FIRST, "k1", &impostor.url, json!({}))).await;
    assert!(
        matches!(&result, Err(AuthError::Unavailable(why)) if why.contains("not this one")),
        "{result:?}"
    );
    assert_eq!(impostor.reads.load(Ordering::SeqCst), 0, "its keys are never read");
    let err = JwtVerifier::builder("http://id.example.com").audience(AUDIENCE).build().unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    let err = JwtVerifier::builder("https://id.example.com").build().unwrap_err();
    assert!(err.to_string().contains("audience"), "{err}");
}

/// A verifier of the app's own: opaque tokens looked up in a table.
#[derive(Debug)]
struct Table;

impl fastn_auth_mcp::auth::TokenVerifier for Table {
    fn verify<'a>(&'a self, token: &'a str) -> fastn_auth_mcp::auth::VerifyFuture<'a> {
        Box::pin(async move {
            match token {
                "opaque-acme" => Ok(fastn_auth_mcp::auth::Identity::new("acme")),
                _ => Err(AuthError::Refused("unknown token".into())),
            }
        })
    }
}

#[tokio::test]
async fn a_verifier_of_the_apps_own_decides_the_tenant_over_the_servers_fixed_one() {
    use fastn_auth_emulator::{ConnectionKey, MockServer, SAMPLE_REGISTRY};
    let mock = MockServer::start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    let tools = fastn_auth_agent::ToolSet::from_json(SAMPLE_REGISTRY).unwrap();
    let server = fastn_auth_mcp::McpServer::builder(&mock.client(), tools).tenant("not-this-one").build();
    let resource: fastn_auth::Url = "http://127.0.0.1/mcp".parse().unwrap();
    let auth = fastn_auth_mcp::auth::McpAuth::new(resource, "https://id.example.com", Table);
    let app: axum::Router = server.http().auth(auth).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "slack_send_message", "arguments": {"channel": "C1", "text": "hi"}}});
    let send = |token: &'static str| {
        reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .bearer_auth(token)
            .body(call.to_string())
            .send()
    };
    let refused = send("opaque-globex").await.unwrap();
    assert_eq!(refused.status(), 401);
    let answer: Value =
        serde_json::from_str(&send("opaque-acme").await.unwrap().text().await.unwrap()).unwrap();
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains(r#""tenant":"acme""#), "{answer}");
}
