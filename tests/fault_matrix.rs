//! The fault matrix of docs/security.md, run exactly as written there: every endpoint × every fault
//! the emulator injects ends as the table says, within the wait's deadline, without a panic.

use std::time::{Duration, Instant};

use fastn_auth::{Endpoint, PollOptions};
use fastn_auth_emulator::{Fault, MockServer};
use fastn_auth_tests::Salesforce;

const TIMEOUT: Duration = Duration::from_secs(10);
/// Long enough that only a hang, not a busy machine, makes a request time out: a request
/// that times out after the emulator used its fault is retried and recovers, which is not
/// what the table says of that fault.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Flows at a time: 42 at once, each with its own emulator, on a busy 2-core machine made
/// ordinary requests wait past the request timeout (1 run in 7 while a fuzzer ran).
const AT_ONCE: usize = 6;

/// The rows under `<!-- fault-matrix -->` in docs/security.md: fault name and expected outcomes
/// for init, status and credentials.
fn documented_matrix() -> Vec<(String, [String; 3])> {
    let readme = include_str!("../docs/security.md");
    let table = readme.split("<!-- fault-matrix -->").nth(1).expect("docs/security.md has the fault matrix");
    table
        .lines()
        .skip_while(|line| line.trim().is_empty())
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<String> =
                row.trim_matches('|').split('|').map(|cell| cell.trim().to_owned()).collect();
            let [name, init, status, credentials] = <[String; 4]>::try_from(cells).expect("four columns");
            (name, [init, status, credentials])
        })
        .collect()
}

fn fault(name: &str, endpoint: Endpoint) -> Fault {
    match name {
        "500" => Fault::status(500),
        "502" => Fault::status(502),
        "503 + Retry-After: 1" => Fault::status_retry_after(503, 1),
        "429 + Retry-After: 1" => Fault::status_retry_after(429, 1),
        "hang" => Fault::Hang,
        "close mid-body" => Fault::CloseMidBody,
        "401" => Fault::status(401),
        "404" => Fault::status(404),
        "malformed JSON" => Fault::MalformedJson,
        "HTML with 200" => Fault::Html,
        "oversized body" => Fault::Oversized(2 * 1024 * 1024),
        "unknown status" => Fault::UnknownStatus("PENDING_REVIEW".into()),
        "missing required field" => Fault::body(match endpoint {
            Endpoint::Init => r#"{"success":true,"redirectUrl":"https://x"}"#,
            Endpoint::Status => r#"{"errorMessage":"no status here"}"#,
            _ => r#"{"success":true,"credentials":{"access_token":"t"}}"#,
        }),
        "wrong field types" => Fault::body(match endpoint {
            Endpoint::Init => r#"{"state":5}"#,
            Endpoint::Status => r#"{"status":5}"#,
            _ => r#"{"access_token":"t","instance_url":5}"#,
        }),
        other => panic!("docs/security.md names a fault this test does not know: {other}"),
    }
}

async fn outcome(endpoint: Endpoint, fault: Fault) -> (String, Duration) {
    let mock = MockServer::builder()
        .connectors(fastn_auth_tests::MANIFEST)
        .auto_approve_after_polls(1)
        .start()
        .await
        .unwrap();
    let client = mock.client_builder().request_timeout(REQUEST_TIMEOUT).build().unwrap();
    mock.inject(endpoint, fault);
    let started = Instant::now();
    let result = async {
        let session = Salesforce::connect(&client).tenant_id("acme").send().await?;
        let remaining = TIMEOUT.saturating_sub(started.elapsed());
        session.wait_for_completion(PollOptions::new(Duration::from_millis(10), remaining)).await
    }
    .await;
    let name = match result {
        Ok(_) => "recovered".to_owned(),
        Err(err) => err.code().as_str().to_owned(),
    };
    (name, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_on_every_endpoint_ends_as_documented() {
    let matrix = documented_matrix();
    assert!(matrix.len() >= 12, "the README's table was not found whole");
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let cases: Vec<_> = matrix
        .iter()
        .flat_map(|(name, expected)| {
            Endpoint::ALL
                .into_iter()
                .zip(expected.iter())
                .map(move |(endpoint, expected)| (name, endpoint, expected))
        })
        .map(|(name, endpoint, expected)| {
            let fault = fault(name, endpoint);
            let expected = expected.clone();
            let name = name.clone();
            let slots = slots.clone();
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.expect("never closed");
                (name, endpoint, expected, outcome(endpoint, fault).await)
            })
        })
        .collect();
    let mut mismatches = Vec::new();
    for case in cases {
        let (name, endpoint, expected, (actual, elapsed)) = case.await.expect("no panic");
        if actual != expected {
            mismatches.push(format!("{name} on {endpoint:?}: documented {expected}, got {actual}"));
        }
        // An SDK that let a fault pass the deadline would overrun it by a hang (forever) or a
        // Retry-After (1 s); 900 ms of margin absorbs a busy 2-core machine.
        assert!(elapsed < TIMEOUT + Duration::from_millis(900), "{name} on {endpoint:?} took {elapsed:?}");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
