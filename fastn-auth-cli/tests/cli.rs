//! The `fastn-auth` binary as a user runs it: every subcommand against an emulator, bad
//! input included, with the documented exit codes (0 ok, 1 usage or configuration, 2 flow
//! failed or timed out, 3 network).

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fastn_auth_emulator::{ConnectionKey, MockServer};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_fastn-auth");
const TOKEN: &str = "xoxb-CLI-TOKEN-1";

/// The workspace root, where `connectors.yaml` and the test manifests are.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root")
}

/// `fastn-auth args…` configured for `mock` through the environment, as a user would.
fn cli(mock: Option<&MockServer>, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(root());
    for var in ["FASTN_SPACE_ID", "FASTN_API_KEY", "FASTN_AUTH_TOKEN", "FASTN_BASE_URL", "FASTN_API_GATEWAY"]
    {
        command.env_remove(var);
    }
    if let Some(mock) = mock {
        command
            .env("FASTN_SPACE_ID", MockServer::SPACE_ID)
            .env("FASTN_API_KEY", MockServer::API_KEY)
            .env("FASTN_BASE_URL", mock.base_url())
            .env("FASTN_API_GATEWAY", mock.provider_url());
    }
    command
}

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs")).await.unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn emulator_with_slack() -> MockServer {
    let mock = MockServer::start().await.unwrap();
    let key = ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme");
    mock.insert_connection(
        key,
        Some(serde_json::json!({ "access_token": TOKEN, "expires_in": 3600, "team_id": "T1" })),
    );
    mock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_redacted_unless_revealed_and_json_for_scripts() {
    let mock = emulator_with_slack().await;
    let out = run(cli(Some(&mock), &["credentials", "slack", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("access_token: [REDACTED]") && stdout(&out).contains("team_id: T1"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(TOKEN));

    let out = run(cli(Some(&mock), &["credentials", "slack", "--tenant", "acme", "--reveal"])).await;
    assert!(stdout(&out).contains(&format!("access_token: {TOKEN}")), "{}", stdout(&out));

    let out = run(cli(Some(&mock), &["--json", "credentials", "slack", "--tenant", "acme"])).await;
    let json: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(
        (json["access_token"].as_str(), json["extra"]["team_id"].as_str()),
        (Some("[REDACTED]"), Some("T1"))
    );
    assert!(json["expires_at"].as_str().is_some_and(|at| at.starts_with("20")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_waits_for_the_user_and_times_out_with_exit_code_2() {
    let mock = MockServer::builder().auto_approve_after_polls(2).start().await.unwrap();
    let out = run(cli(Some(&mock), &["connect", "slack", "--tenant", "acme", "--interval", "20ms"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("Authorize slack at: http://{}/authorize?state=", mock.addr())),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("access_token: [REDACTED]") && stdout(&out).contains("state: "),
        "{}",
        stdout(&out)
    );

    let waiting = MockServer::start().await.unwrap();
    let out = run(cli(Some(&waiting), &["connect", "slack", "--timeout", "1s", "--interval", "50ms"])).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("did not complete within 1s"), "{}", stderr(&out));

    let denying = MockServer::start().await.unwrap();
    let connect = tokio::spawn(run(cli(Some(&denying), &["connect", "stripe", "--interval", "20ms"])));
    // The flow's state is the last segment of its first status poll.
    let state = loop {
        let polled = denying.requests().iter().find(|r| r.path.contains("/status/")).map(|r| r.path.clone());
        if let Some(path) = polled {
            break path.rsplit('/').next().unwrap_or_default().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(denying.deny(&state, "the user said no"));
    let out = connect.await.unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("the user said no"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_tells_where_a_flow_stands() {
    let mock = MockServer::start().await.unwrap();
    let session = mock.client().connect("slack").send().await.unwrap();
    let out = run(cli(Some(&mock), &["status", "slack", session.state_key()])).await;
    assert_eq!((code(&out), stdout(&out).trim()), (0, "INACTIVE"), "{}", stderr(&out));
    assert!(mock.deny(session.state_key(), "denied"));
    let out = run(cli(Some(&mock), &["--json", "status", "slack", session.state_key()])).await;
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((json["status"].as_str(), json["error_message"].as_str()), (Some("FAILED"), Some("denied")));
    let out = run(cli(Some(&mock), &["status", "slack", "no-such-state"])).await;
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("unknown state"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error_with_its_exit_code() {
    let mock = emulator_with_slack().await;
    let out = run(cli(Some(&mock), &["credentials", "no-such-connector", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("404 Not Found") && stderr(&out).contains("no-such-connector"),
        "{}",
        stderr(&out)
    );

    let out = run(cli(None, &["credentials", "slack"])).await;
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("FASTN_SPACE_ID"), "{}", stderr(&out));

    let mut wrong_key = cli(Some(&mock), &["credentials", "slack", "--tenant", "acme"]);
    wrong_key.env("FASTN_API_KEY", "wrong");
    let out = run(wrong_key).await;
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("401 Unauthorized"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong\""), "the key is not echoed");

    let out = run(cli(Some(&mock), &["credentials", "slack", "--tenant", "acme\tx"])).await;
    assert_eq!(code(&out), 1, "an unusable id is a configuration error: {}", stderr(&out));

    let out = run(cli(None, &["frobnicate"])).await;
    assert_eq!(code(&out), 1, "a usage error");
    let out = run(cli(None, &["--help"])).await;
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("manifest") && stdout(&out).contains("emulator"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_check_gives_the_macros_errors_and_expand_the_generated_code() {
    let out = run(cli(None, &["manifest", "check", "connectors.yaml"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("connectors.yaml: 8 connectors: google-sheets, salesforce"),
        "{}",
        stdout(&out)
    );

    // Where the macro's trybuild cases are, so the path is written as they write it.
    let mut check = cli(None, &["manifest", "check", "tests/ui/manifests/unknown_type.yaml"]);
    check.current_dir(root().join("tests/macro"));
    let out = run(check).await;
    assert_eq!(code(&out), 1);
    let expected =
        std::fs::read_to_string(root().join("tests/macro/tests/ui/fail/unknown_type.stderr")).unwrap();
    let macro_message = expected.lines().next().unwrap();
    assert_eq!(stderr(&out).trim(), macro_message, "exactly the macro's message");

    let out = run(cli(None, &["manifest", "check", "missing.yaml"])).await;
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("cannot read the connectors manifest `missing.yaml`: file not found"),
        "{}",
        stderr(&out)
    );

    let out = run(cli(None, &["manifest", "expand"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("pub struct Slack;") && stdout(&out).contains("pub enum ConnectorId {"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_subcommand_serves_a_flow_to_the_connect_subcommand() {
    let mut emulator = cli(
        None,
        &["emulator", "--port", "0", "--auto-approve", "0s", "--manifest", "tests/manifests/custom.yaml"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(emulator.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    let base_url = first_line.trim().to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/api"), "{base_url}");

    let mut connect =
        cli(None, &["--json", "--reveal", "connect", "acme-crm", "--tenant", "globex", "--interval", "20ms"]);
    connect
        .env("FASTN_SPACE_ID", MockServer::SPACE_ID)
        .env("FASTN_API_KEY", MockServer::API_KEY)
        .env("FASTN_BASE_URL", &base_url);
    let out = run(connect).await;
    emulator.kill().unwrap();
    let log = String::from_utf8_lossy(&emulator.wait_with_output().unwrap().stderr).into_owned();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json["extra"]["api_base"], "https://globex.example.com/apibase",
        "a field from --manifest: {json}"
    );
    assert!(log.contains("POST /api/connect/init/community/acme-crm 200"), "a line per request: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_subcommand_takes_a_rate_limit_and_an_older_error_shape() {
    let args =
        ["emulator", "--port", "0", "--rate-limit", "2/60s", "--error-shape", "error-string", "--quiet"];
    let mut emulator = cli(None, &args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(emulator.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    let host = first_line.trim().trim_start_matches("http://").trim_end_matches("/api").to_owned();
    let request = format!(
        "GET /api/connect/credentials/community/slack HTTP/1.1\r\nHost: {host}\r\nx-fastn-api-key: {}\r\n\
         x-fastn-space-id: {}\r\nx-fastn-space-tenantid: nobody\r\nConnection: close\r\n\r\n",
        MockServer::API_KEY,
        MockServer::SPACE_ID
    );
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await.unwrap();
    emulator.kill().unwrap();
    let _ = emulator.wait();
    let lower = answer.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 404") && lower.contains("x-ratelimit-limit: 2\r\n"), "{answer}");
    assert!(answer.contains(r#""error":"NOT_FOUND""#), "the older shape: {answer}");
    for bad in ["0/60s", "2/100ms", "two/60s"] {
        let out = run(cli(None, &["emulator", "--port", "0", "--rate-limit", bad])).await;
        assert_eq!(code(&out), 1, "a usage error: {bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("--rate-limit"), "{bad}: {}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_for_a_shell() {
    let out = run(cli(None, &["completions", "bash"])).await;
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("fastn-auth") && stdout(&out).contains("credentials"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_text_is_shown_escaped_never_obeyed_by_the_terminal() {
    let mock = MockServer::start().await.unwrap();
    let hostile = "Acme\u{1b}]0;owned\u{7}\u{1b}[31m\naccess_token: forged\u{202e}";
    let key = ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme");
    mock.insert_connection(
        key,
        Some(serde_json::json!({ "access_token": TOKEN, "team_name": hostile, "x\u{1b}[2Jkey\nforged": 1 })),
    );
    let out = run(cli(Some(&mock), &["credentials", "slack", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.chars().any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'), "{text:?}");
    assert!(
        !text.lines().any(|line| line.starts_with("access_token: forged") || line.starts_with("forged")),
        "{text}"
    );
    assert!(
        text.contains("team_name: Acme\\u{1b}]0;owned\\u{7}\\u{1b}[31m\\naccess_token: forged\\u{202e}"),
        "{text}"
    );
    assert!(text.contains("x\\u{1b}[2Jkey\\nforged: 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_on_the_command_line_is_warned_about_and_json_errors_are_json() {
    let mock = emulator_with_slack().await;
    let mut command =
        cli(Some(&mock), &["--api-key", MockServer::API_KEY, "credentials", "slack", "--tenant", "acme"]);
    command.env_remove("FASTN_API_KEY");
    let out = run(command).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let errors = stderr(&out);
    let warning: Vec<&str> = errors.lines().filter(|line| line.starts_with("warning:")).collect();
    assert_eq!(warning.len(), 1, "{}", stderr(&out));
    assert!(warning[0].contains("--api-key") && warning[0].contains("FASTN_API_KEY"), "{}", warning[0]);
    let from_env = run(cli(Some(&mock), &["credentials", "slack", "--tenant", "acme"])).await;
    assert!(!stderr(&from_env).contains("warning:"), "{}", stderr(&from_env));

    let out = run(cli(Some(&mock), &["--json", "credentials", "slack", "--tenant", "nobody"])).await;
    assert_eq!(code(&out), 3);
    let json: Value = serde_json::from_str(&stdout(&out)).expect("the error as one JSON document");
    assert_eq!(json["exit_code"], 3);
    assert!(json["error"].as_str().unwrap().contains("404"), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_names_the_variables_without_values_and_one_rule_for_key_or_token() {
    let out = run(cli(None, &["--help"])).await;
    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    assert!(help.contains("[env: FASTN_BASE_URL]") && !help.contains("FASTN_BASE_URL="), "{help}");

    let mock = emulator_with_slack().await;
    let mut both = cli(Some(&mock), &["credentials", "slack", "--tenant", "acme"]);
    both.env("FASTN_AUTH_TOKEN", MockServer::AUTH_TOKEN);
    let out = run(both).await;
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("set an api_key or an auth_token, not both"),
        "the SDK's own words: {}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_calls_the_connected_app_like_gh_api() {
    let mock = emulator_with_slack().await;
    let out = run(cli(Some(&mock), &["api", "slack", "get", "/auth.test?full=1", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 200 OK"), "{}", stderr(&out));
    let echo: Value = serde_json::from_str(&stdout(&out)).expect("the body, as JSON");
    assert_eq!((echo["path"].as_str(), echo["query"]["full"].as_str()), (Some("/auth.test"), Some("1")));
    assert!(!stdout(&out).contains(TOKEN), "the token is never printed");

    let args = [
        "--json",
        "api",
        "slack",
        "POST",
        "chat.postMessage",
        "--tenant",
        "acme",
        "--data",
        r#"{"text":"hi"}"#,
        "-H",
        "X-Trace: 7",
    ];
    let out = run(cli(Some(&mock), &args)).await;
    let json: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(json["status"], 200);
    assert_eq!(json["body"]["body"], serde_json::json!({ "text": "hi" }));
    assert_eq!(json["body"]["headers"]["x-trace"], "7");

    mock.inject(fastn_auth::wire::Endpoint::Api, fastn_auth_emulator::Fault::status(404));
    let out = run(cli(Some(&mock), &["api", "slack", "GET", "/nothing", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 4, "a provider error status: {}", stderr(&out));
    let out = run(cli(Some(&mock), &["api", "slack", "GET", "//evil.example/x", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 1, "a path leaving the base: {}", stderr(&out));
    let out =
        run(cli(Some(&mock), &["api", "slack", "GET", "/x", "--tenant", "acme", "-H", "no colon"])).await;
    assert_eq!(code(&out), 1);
    let out = run(cli(Some(&mock), &["api", "slack", "GET", "/x", "--tenant", "globex"])).await;
    assert_eq!(code(&out), 3, "no connection for that tenant: {}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refuses_headers_that_move_the_request_and_escapes_what_the_provider_says() {
    let mock = emulator_with_slack().await;
    let sent = mock.requests_to(fastn_auth::wire::Endpoint::Api);
    for header in ["Host: evil.example", "Transfer-Encoding: chunked", "Proxy-Authorization: x"] {
        let args = ["api", "slack", "GET", "/auth.test", "--tenant", "acme", "-H", header];
        let out = run(cli(Some(&mock), &args)).await;
        assert_eq!(code(&out), 1, "{header}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot be set"), "{}", stderr(&out));
    }
    assert_eq!(mock.requests_to(fastn_auth::wire::Endpoint::Api), sent, "nothing was sent");

    // The echo repeats the query: a right-to-left override, an isolate and a C1 CSI.
    let path = "/auth.test?name=%E2%80%AEtxt.exe%E2%81%A6%C2%9B31m";
    for json_mode in [true, false] {
        let mut args = vec!["api", "slack", "GET", path, "--tenant", "acme"];
        if json_mode {
            args.insert(0, "--json");
        }
        let out = run(cli(Some(&mock), &args)).await;
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let text = stdout(&out);
        assert!(
            !text.chars().any(|c| fastn_auth_rules::is_unprintable(c) && c != '\n'),
            "raw controls reach the terminal: {text:?}"
        );
        assert!(text.contains("\\u202e") && text.contains("\\u009b") && text.contains("\\u2066"), "{text}");
        let json: Value = serde_json::from_str(&text).expect("still JSON");
        let echo = if json_mode { &json["body"] } else { &json };
        assert_eq!(echo["query"]["name"], "\u{202e}txt.exe\u{2066}\u{9b}31m", "the same text, escaped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_stops_reading_an_endless_body_at_the_limit() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let head =
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
                let _ = socket.write_all(head).await;
                let mut chunk = b"10000\r\n".to_vec();
                chunk.extend(std::iter::repeat_n(b'a', 0x10000));
                chunk.extend_from_slice(b"\r\n");
                // Bounded: 6 GiB at most, or until the client hangs up.
                for _ in 0..100_000 {
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mock = emulator_with_slack().await;
    for (args, limit) in [(vec![], "16777216"), (vec!["--max-body", "100000"], "100000")] {
        let mut command = cli(Some(&mock), &["api", "slack", "GET", "/files", "--tenant", "acme"]);
        command.env_remove("FASTN_API_GATEWAY").args(["--api-base-url", &provider]).args(args);
        let out = tokio::time::timeout(Duration::from_secs(120), run(command)).await.expect("it ends");
        assert_eq!(code(&out), 3, "{}", stderr(&out));
        assert!(stderr(&out).contains(limit), "the limit is named: {}", stderr(&out));
        assert!(out.stdout.len() <= 16 * 1024 * 1024, "{} bytes printed", out.stdout.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_needs_no_manifest_with_a_gateway_and_names_what_it_does_not_know() {
    let mock = emulator_with_slack().await;
    // Outside any directory holding a manifest: the gateway is enough for a bearer token.
    let elsewhere = std::env::temp_dir();
    let mut command = cli(Some(&mock), &["api", "slack", "GET", "/auth.test", "--tenant", "acme"]);
    command.current_dir(&elsewhere);
    let out = run(command).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut command = cli(Some(&mock), &["api", "slack", "GET", "/auth.test", "--tenant", "acme"]);
    command.current_dir(&elsewhere).env_remove("FASTN_API_GATEWAY");
    let out = run(command).await;
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("--api-base-url") && stderr(&out).contains("FASTN_API_GATEWAY"),
        "{}",
        stderr(&out)
    );

    // A typo of a connector the manifest declares.
    let out = run(cli(Some(&mock), &["api", "slak", "GET", "/auth.test", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("did you mean `slack`?"), "{}", stderr(&out));
    // Only HTTP methods.
    let out = run(cli(Some(&mock), &["api", "slack", "FETCH", "/auth.test", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("not an HTTP method"), "{}", stderr(&out));
    assert_eq!(mock.requests_to(fastn_auth::wire::Endpoint::Api), 1, "only the first call was sent");

    // Help never shows an empty variable's value, and each command's only what applies.
    let help = stdout(&run(cli(None, &["--help"])).await);
    assert!(
        help.contains("[env: FASTN_API_GATEWAY]") && !help.contains("=]") && !help.contains("= "),
        "{help}"
    );
    let emulator = stdout(&run(cli(None, &["emulator", "--help"])).await);
    for foreign in ["--base-url", "--api-gateway", "--space-id", "FASTN_"] {
        assert!(!emulator.contains(foreign), "emulator --help lists {foreign}: {emulator}");
    }
}

/// An emulator of the workspace's manifest serving its sample registry, `acme` connected to
/// Slack.
/// The emulator as it comes: it serves its built-in sample registry, so `tools sync` works
/// offline from an empty directory.
async fn emulator_with_tools() -> MockServer {
    let manifest = std::fs::read_to_string(root().join("connectors.yaml")).unwrap();
    let mock = MockServer::builder().connectors(manifest).start().await.unwrap();
    mock.insert_connection(ConnectionKey::new(MockServer::SPACE_ID, "slack").tenant_id("acme"), None);
    mock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_sync_writes_a_registry_that_list_schema_and_run_read() {
    let mock = emulator_with_tools().await;
    let dir = std::env::temp_dir().join(format!("fastn-auth-cli-tools-{}", std::process::id()));
    let path = dir.join(".fastn/registry.json");
    let written = path.to_str().unwrap();
    let out = run(cli(Some(&mock), &["tools", "sync", "--out", written, "--org", "acme-org"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("wrote 5 connectors, 8 tools"), "{}", stdout(&out));
    let parse = |text: &str| fastn_auth_rules::registry::Registry::parse(text).unwrap().connectors;
    let synced = parse(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(synced, parse(fastn_auth_emulator::SAMPLE_REGISTRY), "a bare emulator's sample, synced whole");
    let list = run(cli(None, &["tools", "list", "--registry", written, "slack"])).await;
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    let lines: Vec<String> = stdout(&list).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|line| line.starts_with("slack_")), "{lines:?}");
    for format in ["openai", "anthropic", "gemini", "bedrock"] {
        let schema = run(cli(None, &["tools", "schema", "--registry", written, "--format", format])).await;
        assert_eq!(code(&schema), 0, "{format}: {}", stderr(&schema));
        let tools: Value = serde_json::from_str(&stdout(&schema)).unwrap();
        let listed = if format == "gemini" { &tools["function_declarations"] } else { &tools };
        assert_eq!(listed.as_array().unwrap().len(), 8, "{format}");
    }
    let run_args = ["tools", "run", "slack", "send_message", "--tenant", "acme", "--registry", written];
    let ran = run(cli(Some(&mock), &[&run_args[..], &[r#"{"channel": "C1", "text": "hi"}"#]].concat())).await;
    assert_eq!(code(&ran), 0, "{}", stderr(&ran));
    assert!(stderr(&ran).contains("provider status: 200"), "{}", stderr(&ran));
    let body: Value = serde_json::from_str(&stdout(&ran)).unwrap();
    assert_eq!(body["parameters"]["body"]["text"], "hi");
    // A provider status of 400 or more is exit code 4, its body still printed.
    let failing = r#"{"statusCode": 404, "body": {"error": "channel_not_found"}}"#;
    mock.inject(fastn_auth::wire::Endpoint::ExecuteTool, fastn_auth_emulator::Fault::body(failing));
    let ran =
        run(cli(Some(&mock), &[&run_args[..], &["--data", r#"{"channel": "C9", "text": "x"}"#]].concat()))
            .await;
    assert_eq!(code(&ran), 4, "{}", stderr(&ran));
    assert!(stdout(&ran).contains("channel_not_found") && stderr(&ran).contains("404"), "{}", stderr(&ran));
    // Bad arguments: exit code 1 naming the field, nothing sent.
    let before = mock.requests_to(fastn_auth::wire::Endpoint::ExecuteTool);
    let ran = run(cli(Some(&mock), &[&run_args[..], &[r#"{"channel": 1, "text": "x"}"#]].concat())).await;
    assert_eq!(code(&ran), 1, "{}", stderr(&ran));
    assert!(stderr(&ran).contains("/channel"), "{}", stderr(&ran));
    assert_eq!(mock.requests_to(fastn_auth::wire::Endpoint::ExecuteTool), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_sync_reports_a_failing_scope_and_writes_nothing() {
    let mock = emulator_with_tools().await;
    mock.inject_times(fastn_auth::wire::Endpoint::Registry, fastn_auth_emulator::Fault::status(500), 3);
    let path = std::env::temp_dir().join(format!("fastn-auth-cli-partial-{}.json", std::process::id()));
    let out = run(cli(Some(&mock), &["tools", "sync", "--out", path.to_str().unwrap()])).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("failed: source workspace"), "{}", stderr(&out));
    assert!(!path.exists(), "nothing is written when a part failed");
    // Every source failing is a server error too: exit 3, Fastn's status named.
    mock.inject_times(fastn_auth::wire::Endpoint::Registry, fastn_auth_emulator::Fault::status(500), 9);
    let out = run(cli(Some(&mock), &["tools", "sync", "--out", path.to_str().unwrap()])).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("500"), "{}", stderr(&out));
}

#[tokio::test]
async fn the_cli_speaks_in_its_own_flags_and_names_a_busy_port() {
    let mut plain = cli(None, &["--base-url", "http://example.com/api", "credentials", "slack"]);
    plain.env("FASTN_SPACE_ID", "space").env("FASTN_API_KEY", "key");
    let plain = run(plain).await;
    let said = stderr(&plain);
    assert!(said.contains("--allow-insecure-http") && !said.contains("(true)"), "{said}");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = run(cli(None, &["emulator", "--port", &port])).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("port {port} on 127.0.0.1 is in use")), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_serves_the_manifests_tools_on_stdio_to_the_official_mcp_client() {
    let mock = emulator_with_tools().await;
    // The official MCP SDK for Python starts `fastn-auth mcp --tenant acme` and runs the
    // scenario scripts/mcp_client.py judges (list, valid, malformed, connect on demand by
    // a tool error and by elicitation), with the emulator's counts.
    let mut command = cli(Some(&mock), &[]);
    command.env_remove("FASTN_API_GATEWAY");
    let origin = mock.base_url().trim_end_matches("/api").to_owned();
    let mut script = Command::new("bash");
    script
        .arg(root().join("scripts/mcp-client.sh"))
        .args([&origin, "stdio", "acme", BIN, "mcp", "--tenant", "acme"]);
    script.current_dir(root()).envs(command.get_envs().filter_map(|(name, value)| Some((name, value?))));
    let output = run(script).await;
    assert_eq!(code(&output), 0, "{}\n{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains(r#""step": "elicited""#), "{}", stdout(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_on_stdio_asks_the_user_before_a_tool_the_manifest_marks_and_runs_it_once_on_their_yes() {
    let mock = emulator_with_tools().await;
    // The workspace's manifest with Slack's send_message marked `approve:`.
    let dir = std::env::temp_dir().join(format!("fastn-auth-cli-approve-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".fastn")).unwrap();
    std::fs::copy(root().join(".fastn/registry.json"), dir.join(".fastn/registry.json")).unwrap();
    let manifest = std::fs::read_to_string(root().join("connectors.yaml")).unwrap();
    let marked = manifest.replace(
        "    tools: [send_message, list_channels]\n",
        "    tools: [send_message, list_channels]\n    approve: [send_message]\n",
    );
    assert_ne!(marked, manifest, "the manifest's slack selection moved");
    std::fs::write(dir.join("connectors.yaml"), marked).unwrap();
    let manifest = dir.join("connectors.yaml");
    let mut command = cli(Some(&mock), &[]);
    command.env_remove("FASTN_API_GATEWAY");
    let origin = mock.base_url().trim_end_matches("/api").to_owned();
    let mut script = Command::new("bash");
    script.arg(root().join("scripts/mcp-client.sh")).args([
        &origin,
        "approval-stdio",
        BIN,
        "mcp",
        "--tenant",
        "acme",
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    script.current_dir(root()).envs(command.get_envs().filter_map(|(name, value)| Some((name, value?))));
    let output = run(script).await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code(&output), 0, "{}\n{}", stdout(&output), stderr(&output));
    // The script judged the scenario: unasked, declined, approved → 0, 0, 1 executions, the
    // form showing the exact arguments, on the legacy handshake.
    assert!(stdout(&output).contains(r#""step": "approval""#), "{}", stdout(&output));
    assert_eq!(mock.requests_to(fastn_auth::wire::Endpoint::ExecuteTool), 1);
}

#[test]
fn mcp_without_a_tenant_or_tools_says_what_is_missing() {
    let output = cli(None, &["mcp"]).output().unwrap();
    assert_eq!(code(&output), 1, "a usage error");
    assert!(stderr(&output).contains("--tenant"), "{}", stderr(&output));
    let output = cli(None, &["mcp", "--tenant", "acme", "--tools", "slack_send_mesage"]).output().unwrap();
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains("did you mean `slack_send_message`"), "{}", stderr(&output));
}

/// `request` (an HTTP/1.1 request, `Connection: close`) sent to `addr`; the whole answer.
async fn http_exchange(addr: &str, request: String) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// `mcp` over HTTP started as `command` (stdout and stderr piped): the child and the
/// loopback `host:port` it serves on (from the URL it prints).
fn mcp_http(mut command: Command) -> (std::process::Child, String) {
    let mut server = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    let url = first_line.trim();
    let port = url.strip_suffix("/mcp").and_then(|rest| rest.rsplit(':').next()).expect(url).to_owned();
    (server, format!("127.0.0.1:{port}"))
}

/// A `tools/list` request to `addr` with `extra` header lines.
fn mcp_list(addr: &str, extra: &str) -> String {
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{list}",
        list.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_serves_streamable_http_and_refuses_a_cross_site_page() {
    let mock = emulator_with_tools().await;
    let (mut server, addr) =
        mcp_http(cli(Some(&mock), &["mcp", "--tenant", "acme", "--http", "127.0.0.1:0"]));
    let request = |origin: &str| mcp_list(&addr, origin);
    let listed = http_exchange(&addr, request("")).await;
    let refused = http_exchange(&addr, request("Origin: https://evil.example\r\n")).await;
    server.kill().unwrap();
    drop(server.wait());
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    assert!(listed.contains("slack_send_message") && listed.contains("hubspot_create_contact"), "{listed}");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_off_loopback_needs_public_and_an_access_token_that_clients_send() {
    let mock = emulator_with_tools().await;
    let token = "t".repeat(40);
    let args = ["mcp", "--tenant", "acme", "--http", "0.0.0.0:0"];
    let refused = run(cli(Some(&mock), &args)).await;
    assert_eq!(code(&refused), 1, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("not a loopback address") && stderr(&refused).contains("--public"));
    let public = [&args[..], &["--public"]].concat();
    let untokened = run(cli(Some(&mock), &public)).await;
    assert_eq!(code(&untokened), 1);
    assert!(stderr(&untokened).contains("FASTN_MCP_ACCESS_TOKEN"), "{}", stderr(&untokened));
    let mut short = cli(Some(&mock), &public);
    short.env("FASTN_MCP_ACCESS_TOKEN", "short");
    assert!(stderr(&run(short).await).contains("at least 32 characters"));

    let mut command = cli(Some(&mock), &public);
    command.env("FASTN_MCP_ACCESS_TOKEN", &token);
    let (mut server, addr) = mcp_http(command);
    let request = |auth: &str| mcp_list(&addr, auth);
    let anonymous = http_exchange(&addr, request("")).await;
    let wrong = http_exchange(&addr, request(&format!("Authorization: Bearer {}x\r\n", &token[1..]))).await;
    let bearer = http_exchange(&addr, request(&format!("Authorization: Bearer {token}\r\n"))).await;
    server.kill().unwrap();
    let mut warned = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut warned).unwrap();
    drop(server.wait());
    assert!(
        anonymous.starts_with("HTTP/1.1 401") && anonymous.contains("www-authenticate: Bearer"),
        "{anonymous}"
    );
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    assert!(bearer.starts_with("HTTP/1.1 200") && bearer.contains("slack_send_message"), "{bearer}");
    assert!(warned.contains("reachable from other hosts"), "{warned}");
    assert_eq!(mock.requests_to(fastn_auth::wire::Endpoint::ExecuteTool), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_asks_fastn_and_says_when_the_tenant_must_connect_again() {
    let mock = emulator_with_slack().await;
    let out = run(cli(Some(&mock), &["--json", "health", "slack", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shown: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!((&shown["state"], &shown["tenant"]), (&Value::from("healthy"), &Value::from("acme")));

    mock.break_connection("slack", "acme", fastn_auth_emulator::ConnectionBreak::RefreshFailed);
    let out = run(cli(Some(&mock), &["health", "slack", "--tenant", "acme"])).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("slack: broken") && stdout(&out).contains("reason: refresh_failed"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("fastn-auth connect slack --tenant acme"), "{}", stderr(&out));

    let out = run(cli(Some(&mock), &["events"])).await;
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("--redis-url") && stderr(&out).contains("FASTN_CACHE_KEY"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_and_schema_give_the_tools_the_manifest_selects_unless_all() {
    let names = |out: &Output| -> Vec<String> {
        let rows: Value = serde_json::from_str(stdout(out).trim()).unwrap();
        rows.as_array().unwrap().iter().map(|row| row["name"].as_str().unwrap().to_owned()).collect()
    };
    let selected = run(cli(None, &["--json", "tools", "list"])).await;
    assert_eq!(code(&selected), 0, "{}", stderr(&selected));
    let selected = names(&selected);
    assert!(selected.contains(&"slack_send_message".to_owned()), "{selected:?}");
    assert!(!selected.contains(&"slack_add_reaction".to_owned()), "never selected, never handed to a model");
    let all = names(&run(cli(None, &["--json", "tools", "list", "--all"])).await);
    assert!(all.contains(&"slack_add_reaction".to_owned()) && all.len() > selected.len(), "{all:?}");
    let schema = run(cli(None, &["tools", "schema", "--format", "openai-responses"])).await;
    let schema: Value = serde_json::from_str(&stdout(&schema)).unwrap();
    let offered: Vec<&str> =
        schema.as_array().unwrap().iter().map(|tool| tool["name"].as_str().unwrap()).collect();
    assert_eq!(offered, selected, "the schema offers exactly the listed tools");
    let refused = run(cli(None, &["tools", "schema", "--format", "anthropic", "--strict"])).await;
    assert_eq!(code(&refused), 1);
    assert!(stderr(&refused).contains("--strict is OpenAI's mode"), "{}", stderr(&refused));
}

/// `scripts/mcp-ts-client.sh script args…`: a script of the TypeScript MCP SDK's package
/// (the SDK and oauth2-mock-server installed from npm first).
fn mcp_ts(script: &str, args: &[&str]) -> Command {
    let mut command = Command::new("bash");
    command.arg(root().join("scripts/mcp-ts-client.sh")).arg(script).args(args);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_with_an_issuer_lets_the_typescript_sdks_oauth_client_sign_in_and_refuses_every_bad_token() {
    const AUDIENCE: &str = "fastn-mcp-test";
    let mock = emulator_with_tools().await;
    // A real OAuth server from npm, issuing tokens for AUDIENCE with the client id as `sub`.
    let mut oauth =
        mcp_ts("oauth_server.mjs", &[AUDIENCE]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(oauth.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    let started: serde_json::Value = serde_json::from_str(&first_line).expect(&first_line);
    let issuer = started["issuer"].as_str().unwrap().to_owned();
    let args = ["mcp", "--http", "127.0.0.1:0", "--issuer", &issuer, "--audience", AUDIENCE];
    let (mut server, addr) = mcp_http(cli(Some(&mock), &args));
    let url = format!("http://{addr}/mcp");

    // No token: 401 naming the metadata, which names the issuer.
    let anonymous = http_exchange(&addr, mcp_list(&addr, "")).await;
    let metadata_url = format!("http://{addr}/.well-known/oauth-protected-resource/mcp");
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    assert!(
        anonymous.contains(&format!(r#"www-authenticate: Bearer resource_metadata="{metadata_url}""#)),
        "{anonymous}"
    );
    let get = format!(
        "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let metadata = http_exchange(&addr, get).await;
    let body: serde_json::Value =
        serde_json::from_str(metadata.split("\r\n\r\n").nth(1).unwrap()).expect(&metadata);
    assert_eq!(
        (body["resource"].as_str(), body["authorization_servers"][0].as_str()),
        (Some(url.as_str()), Some(issuer.as_str()))
    );
    // Tokens the same server made, each wrong in one way: 401, never served.
    for bad in ["other_audience", "expired", "other_key", "alg_none"] {
        let token = started["tokens"][bad].as_str().unwrap();
        let answer =
            http_exchange(&addr, mcp_list(&addr, &format!("Authorization: Bearer {token}\r\n"))).await;
        assert!(
            answer.starts_with("HTTP/1.1 401") && answer.contains(r#"error="invalid_token""#),
            "{bad}: {answer}"
        );
    }
    let token = started["tokens"]["valid"].as_str().unwrap();
    let good = http_exchange(&addr, mcp_list(&addr, &format!("Authorization: Bearer {token}\r\n"))).await;
    assert!(good.starts_with("HTTP/1.1 200") && good.contains("slack_send_message"), "{good}");

    // The official client signs in by itself: discovery, a token, the list, a call. Two
    // users are two tenants: acme's call runs as acme; globex has no connection and gets
    // its own consent link.
    let arguments = r#"{"channel": "C1", "text": "hi"}"#;
    let signed_in = |user: &'static str| {
        let mut command = tokio::process::Command::from(mcp_ts(
            "oauth_client.mjs",
            &[&url, user, "slack_send_message", arguments],
        ));
        async move { command.output().await.unwrap() }
    };
    let (acme, globex) = tokio::join!(signed_in("acme"), signed_in("globex"));
    oauth.kill().unwrap();
    drop(oauth.wait());
    server.kill().unwrap();
    drop(server.wait());
    for output in [&acme, &globex] {
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let acme: serde_json::Value = serde_json::from_slice(&acme.stdout).unwrap();
    let globex: serde_json::Value = serde_json::from_slice(&globex.stdout).unwrap();
    assert!(acme["tools"].as_array().unwrap().iter().any(|name| name == "slack_send_message"), "{acme}");
    assert_eq!(acme["call"]["isError"], false, "{acme}");
    assert!(acme["call"]["text"].as_str().unwrap().contains(r#""tenant":"acme""#), "{acme}");
    assert_eq!(globex["call"]["isError"], true, "{globex}");
    assert!(globex["call"]["text"].as_str().unwrap().contains("http"), "a consent link: {globex}");
    // acme's call ran; globex's was refused by Fastn (no connection of its own), and answered
    // with a flow of globex's.
    assert_eq!(mock.requests_to(fastn_auth::wire::Endpoint::ExecuteTool), 2);
    assert!(!globex["call"]["text"].as_str().unwrap().contains("acme"), "{globex}");
}
