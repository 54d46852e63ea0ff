//! Many flows against an emulator that injects random faults: every flow ends in success or
//! a typed error within its deadline, nothing hangs, and no file descriptor is leaked.
//!
//! CI runs 1,000 flows; the documented long run is
//! `FASTN_LOAD_FLOWS=10000 cargo test --release --test load_with_faults -- --nocapture`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fastn_auth::{Endpoint, PollOptions};
use fastn_auth_emulator::{Fault, MockServer};

const DEADLINE: Duration = Duration::from_secs(5);

/// The process's open file descriptors. The leak check needs `/proc` (Linux): without it
/// the test fails saying so rather than passing on a count of zero.
fn open_fds() -> usize {
    match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir.count(),
        Err(err) => panic!("the descriptor-leak check needs /proc/self/fd (Linux): {err}"),
    }
}

/// A fault for `endpoint`: an unknown status is a fault only where a status is expected (on
/// credentials it would be a valid answer without a token).
fn random_fault(rng: &mut fastrand::Rng, endpoint: Endpoint) -> Fault {
    match rng.u8(0..10) {
        0 => Fault::status(500),
        1 => Fault::status(502),
        2 => Fault::status_retry_after(503, 0),
        3 => Fault::status_retry_after(429, 0),
        4 => Fault::Hang,
        5 => Fault::CloseMidBody,
        6 => Fault::MalformedJson,
        7 => Fault::Html,
        8 if endpoint != Endpoint::Credentials => Fault::UnknownStatus("PAUSED".into()),
        8 => Fault::status(404),
        _ => Fault::status(401),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_under_random_faults_end_on_time_without_leaks() {
    let flows: usize = std::env::var("FASTN_LOAD_FLOWS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let seed: u64 = std::env::var("FASTN_LOAD_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(7);
    let fds_before = open_fds();
    let started = Instant::now();
    let outcomes = {
        let mock = MockServer::builder()
            .connectors(fastn_auth_tests::MANIFEST)
            .auto_approve_after_polls(2)
            .record_requests(false)
            .start()
            .await
            .unwrap();
        let client = mock.client_builder().request_timeout(Duration::from_millis(200)).build().unwrap();
        // About one request in five meets a fault.
        let mut rng = fastrand::Rng::with_seed(seed);
        for endpoint in Endpoint::ALL {
            for _ in 0..flows / 5 {
                mock.inject(endpoint, random_fault(&mut rng, endpoint));
            }
        }
        let tasks: Vec<_> = (0..flows)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let began = Instant::now();
                    let outcome = async {
                        let session = client.connect("slack").tenant_id(format!("t{i}")).send().await?;
                        let left = DEADLINE.saturating_sub(began.elapsed());
                        session.wait_for_completion(PollOptions::new(Duration::from_millis(20), left)).await
                    }
                    .await;
                    let outcome =
                        outcome.map(|creds| creds.access_token.is_some()).map_err(|e| e.code().as_str());
                    (outcome, began.elapsed())
                })
            })
            .collect();
        let mut outcomes = BTreeMap::<&str, usize>::new();
        for task in tasks {
            let (outcome, elapsed) =
                tokio::time::timeout(DEADLINE * 4, task).await.expect("no flow hangs").expect("no panic");
            // A flow that ignored its deadline would overrun by a hang (forever) or a whole
            // request timeout and more; 1 s of margin absorbs 1,000 flows on a busy 2-core machine.
            assert!(elapsed < DEADLINE + Duration::from_secs(1), "a flow took {elapsed:?}");
            if let Ok(has_token) = outcome {
                assert!(has_token, "a completed flow returns its access token");
            }
            *outcomes.entry(outcome.err().unwrap_or("ok")).or_default() += 1;
        }
        outcomes
    };
    // The client and the emulator are dropped: their sockets must all close.
    let mut fds_after = open_fds();
    for _ in 0..40 {
        if fds_after <= fds_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        fds_after = open_fds();
    }
    println!(
        "{flows} flows in {:.2?} (seed {seed}): {outcomes:?}; fds {fds_before} -> {fds_after}",
        started.elapsed()
    );
    assert!(
        outcomes.get("ok").copied().unwrap_or(0) > flows / 2,
        "most flows survive transient faults: {outcomes:?}"
    );
    for code in outcomes.keys() {
        assert!(
            [
                "ok",
                "NETWORK_ERROR",
                "SERVER_ERROR",
                "RATE_LIMITED",
                "UNAUTHORIZED",
                "NOT_FOUND",
                "NOT_CONNECTED",
                "INVALID_RESPONSE",
                "TIMEOUT"
            ]
            .contains(code),
            "unexpected outcome {code}"
        );
    }
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
}
