//! Wire compatibility checked by a client we did not write: the official Python client
//! (installed into a venv under target/ by scripts/python-venv.sh) completes a whole flow
//! against the emulator.

use std::process::Command;

use fastn_auth::mock::MockServer;

#[tokio::test(flavor = "multi_thread")]
async fn the_official_python_client_completes_a_flow_against_the_emulator() {
    let root = env!("CARGO_MANIFEST_DIR");
    let venv =
        Command::new("bash").arg(format!("{root}/scripts/python-venv.sh")).output().expect("bash runs");
    assert!(venv.status.success(), "venv setup failed: {}", String::from_utf8_lossy(&venv.stderr));
    let python = String::from_utf8(venv.stdout).unwrap().trim().to_owned();

    let mock = MockServer::builder().auto_approve_after_polls(2).start().await.unwrap();
    let base_url = mock.base_url();
    let script = format!("{root}/scripts/official_client_flow.py");
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python).args([&script, &base_url, MockServer::API_KEY]).output()
    })
    .await
    .unwrap()
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the official client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for line in [
        &format!("redirect_url=http://{}/authorize?state=", mock.addr()) as &str,
        "status=ACTIVE",
        "instance_url=https://acme.my.salesforce.com",
        "has_access_token=True",
        "expires_in=3599",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    let requests = mock.requests();
    assert!(requests.len() >= 5, "init, two polls, two credentials fetches: {requests:?}");
    assert!(requests.iter().all(|r| r.header("x-fastn-space-id") == Some("space-py")
        && r.header("x-fastn-custom-auth") == Some("true")
        && r.header("x-fastn-space-tenantid") == Some("acme")));
}
