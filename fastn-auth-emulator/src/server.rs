//! The emulator's HTTP face: the accept loop, routes, header checks, fault application,
//! the consent page.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{App, header_text, refuse_cross_site};
use crate::key::ConnectionKey;
use crate::requests::RecordedRequest;
use crate::store::Store;
use fastn_auth::wire::{self, Endpoint};

type Shared = State<Arc<App>>;

/// Serves `router` on `listener` until `shutdown` turns true. A connection that has not sent
/// a complete request head within `header_read_timeout` is closed — a slow client's
/// (slowloris) as well as an idle keep-alive one's, as a load balancer would.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    store: Arc<Store>,
    header_read_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(err) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %err, "emulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => return,
        };
        store.connections_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            // A timeout too long to be a deadline (`Duration::MAX`) is no timeout.
            let timeout =
                std::time::Instant::now().checked_add(header_read_timeout).map(|_| header_read_timeout);
            builder.timer(TokioTimer::new()).header_read_timeout(timeout);
            let connection = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}

/// The API, the consent page and, outside the request log, the control API; every route
/// only for requests addressed to this emulator by name (no DNS rebinding).
pub(crate) fn router(app: Arc<App>) -> Router {
    let control = crate::control::routes()
        .with_state(app.store.clone())
        .layer(middleware::from_fn_with_state(app.clone(), control_guard));
    let api = api(app.clone()).layer(middleware::from_fn_with_state(app.clone(), error_shape));
    api.merge(control).layer(middleware::from_fn_with_state(app, host_guard))
}

/// Fastn's error answers (under `/api/`, not a provider's) in the shape the emulator was
/// built with.
async fn error_shape(State(app): Shared, request: Request, next: Next) -> Response {
    let fastns = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if fastns { crate::json::reshaped(response, app.error_shape).await } else { response }
}

/// Refuses a request whose `Host` is not this emulator's loopback address and port: a page
/// on another site whose name was pointed at 127.0.0.1 (DNS rebinding) sends its own name.
async fn host_guard(State(app): Shared, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).map(|host| host.to_str().unwrap_or("?"));
    match host {
        Some(host) if !app.is_own_host(host) => crate::json::error(
            StatusCode::MISDIRECTED_REQUEST,
            &format!("Host \"{}\" is not this emulator's address ({})", wire::sanitize(host), app.hosts[0]),
        ),
        _ => next.run(request).await,
    }
}

/// What the control API asks of a caller, so that no web page the developer visits can
/// drive it: the emulator's API key (`x-fastn-api-key`) or bearer token, which a
/// cross-site `fetch` cannot send without a preflight the emulator never grants; no
/// `Origin` but the emulator's own and no `Sec-Fetch-Site: cross-site`; and a body, when
/// there is one, sent as `application/json` (a form post cannot be).
async fn control_guard(State(app): Shared, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Some(refused) = refuse_cross_site(&app, headers, "the control API") {
        return refused;
    }
    if !app.authorized(headers) {
        return crate::json::error(
            StatusCode::UNAUTHORIZED,
            "the control API needs the emulator's key: send x-fastn-api-key (or Authorization: Bearer)",
        );
    }
    let content_type = headers.get(header::CONTENT_TYPE).map(|value| value.to_str().unwrap_or("?"));
    let has_body = headers.get(header::TRANSFER_ENCODING).is_some()
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|len| len.to_str().ok().and_then(|len| len.parse::<u64>().ok()) != Some(0));
    let json = content_type.is_some_and(|value| {
        value.split(';').next().is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    });
    if (has_body || content_type.is_some()) && !json {
        return crate::json::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "control API bodies are JSON: send Content-Type: application/json",
        );
    }
    next.run(request).await
}

fn api(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/connect/init/{org}/{connector}", post(init))
        .route("/api/connect/status/{state}", get(status))
        .route("/api/connect/credentials/{org}/{connector}", get(credentials))
        .route("/api/connections/initiate", post(crate::connections::initiate))
        .route("/api/connections/status", post(crate::connections::status))
        .route("/api/ucl/executeTool", post(crate::tools::execute))
        .route("/api/ucl/getTools", post(crate::tools::get_tools))
        .route("/api/graphql", post(crate::tools::graphql))
        .route("/_provider/{connector}", any(crate::provider::provider))
        .route("/_provider/{connector}/{*rest}", any(crate::provider::provider))
        .route(
            "/authorize",
            get(consent_page).post(consent_decision).layer(middleware::map_response(unframeable)),
        )
        .fallback(|| async { crate::json::error(StatusCode::NOT_FOUND, "no such route") })
        .layer(middleware::from_fn_with_state(app.clone(), record))
        .with_state(app)
}

/// Resolves once `shutdown` turns true (or its sender is gone); holds no borrow of it.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

async fn record(State(app): Shared, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let line = app.log_requests.then(|| format!("{} {}", request.method(), request.uri().path()));
    app.store.requests_served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    app.store.record(|| RecordedRequest {
        method: request.method().to_string(),
        path: request.uri().path_and_query().map_or_else(String::new, |p| p.as_str().to_owned()),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect(),
    });
    let response = next.run(request).await;
    if let Some(line) = line {
        eprintln!("{line} {} {:.1?}", response.status().as_u16(), started.elapsed());
    }
    response
}

impl App {
    /// The connection a request names, or a 400 answer for an id the SDK would refuse to
    /// send (so a client that sends one anyway learns it here, not in production).
    fn key(
        space_id: &str,
        org: String,
        connector: String,
        headers: &HeaderMap,
    ) -> Result<ConnectionKey, Box<Response>> {
        let refuse = |name: &str, problem: String| {
            Box::new(crate::json::error(
                StatusCode::BAD_REQUEST,
                &format!("{name} is not a usable id: {problem}"),
            ))
        };
        for (name, value) in [("org_id", &org), ("connector_id", &connector)] {
            if let Some(problem) = fastn_auth_rules::id_problem(value, true) {
                return Err(refuse(name, problem));
            }
        }
        for name in [wire::TENANT_ID, wire::CONNECTION_ID] {
            if headers.get(name).is_some_and(|v| std::str::from_utf8(v.as_bytes()).is_err()) {
                return Err(refuse(name, "it is not UTF-8".to_owned()));
            }
        }
        let [tenant_id, connection_id] =
            [wire::TENANT_ID, wire::CONNECTION_ID].map(|name| header_text(headers, name));
        for (name, value) in [(wire::TENANT_ID, tenant_id), (wire::CONNECTION_ID, connection_id)] {
            // Empty is "none", as the protocol sends it.
            let problem =
                Some(value).filter(|v| !v.is_empty()).and_then(|v| fastn_auth_rules::id_problem(v, false));
            if let Some(problem) = problem {
                return Err(refuse(name, problem));
            }
        }
        Ok(ConnectionKey {
            space_id: space_id.to_owned(),
            org_id: org,
            connector_id: connector,
            tenant_id: tenant_id.to_owned(),
            connection_id: connection_id.to_owned(),
        })
    }
}

async fn init(
    State(app): Shared,
    Path((org, connector)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    app.serve(Endpoint::Init, &headers, |space_id| {
        let key = match App::key(space_id, org, connector, &headers) {
            Ok(key) => key,
            Err(refused) => return *refused,
        };
        let state = app.store.start(key);
        let redirect_url = format!("{}/authorize?state={state}", app.origin);
        axum::Json(json!({
            "type": "oauth",
            "success": true,
            "state": state,
            "redirectUrl": redirect_url,
            "message": "redirect the user to redirectUrl to authorize",
        }))
        .into_response()
    })
    .await
}

async fn status(State(app): Shared, Path(state): Path<String>, request: Request) -> Response {
    app.serve(Endpoint::Status, request.headers(), |space_id| match app.store.poll(space_id, &state) {
        Some((status, None)) => {
            let body = format!(r#"{{"status":"{}"}}"#, status.as_str());
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Some((status, Some(message))) => {
            axum::Json(json!({ "status": status, "errorMessage": message })).into_response()
        }
        None => crate::json::error(StatusCode::NOT_FOUND, "unknown state"),
    })
    .await
}

async fn credentials(
    State(app): Shared,
    Path((org, connector)): Path<(String, String)>,
    request: Request,
) -> Response {
    let headers = request.headers();
    app.serve(Endpoint::Credentials, headers, |space_id| {
        let key = match App::key(space_id, org, connector, headers) {
            Ok(key) => key,
            Err(refused) => return *refused,
        };
        match app.store.credentials_body(&key) {
            Some(Ok(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Some(Err(())) => crate::json::coded(
                StatusCode::UNAUTHORIZED,
                "CONN-REFRESH-FAILED",
                "the connection's refresh failed: reconnect it, this will not recover on its own",
            ),
            None => crate::json::error(
                StatusCode::NOT_FOUND,
                "no completed connection for this connector and tenant",
            ),
        }
    })
    .await
}

#[derive(Deserialize)]
struct StateQuery {
    state: String,
}

/// The consent page's headers: never inside a frame (no clickjacking of Approve), no
/// script, styles only its own, forms only to itself.
async fn unframeable(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

async fn consent_page(State(app): Shared, Query(query): Query<StateQuery>) -> Response {
    match app.store.pending_view(&query.state) {
        Some(view) => Html(crate::consent::page(&view)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(crate::consent::outcome(
                "Unknown flow",
                "This flow does not exist or has already completed.",
            )),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct Decision {
    state: String,
    decision: String,
    /// The flow's anti-forgery token from the consent page; a cross-site form has none.
    #[serde(default)]
    csrf: String,
}

async fn consent_decision(State(app): Shared, Form(form): Form<Decision>) -> Response {
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Html(crate::consent::outcome("Bad request", "decision must be approve or deny")),
            )
                .into_response();
        }
    };
    if !app.store.decide(&form.state, Some(&form.csrf), approve, crate::DENIED_MESSAGE) {
        return (
            StatusCode::FORBIDDEN,
            Html(crate::consent::outcome(
                "Not accepted",
                "This flow does not exist, has already completed, or the form did not come from its consent page.",
            )),
        )
            .into_response();
    }
    if let Some(back) = app.store.return_to(&form.state) {
        // The connections API's flow: the user goes back to the app's page.
        if let Ok(mut url) = fastn_auth::Url::parse(&back) {
            let status = if approve { "authorized" } else { "failed" };
            url.query_pairs_mut().append_pair("connection_id", &form.state).append_pair("status", status);
            return (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response();
        }
    }
    let (title, text) = if approve {
        ("Connected", "Access granted. You can close this window and return to the app.")
    } else {
        ("Access denied", "You denied access. You can close this window.")
    };
    ([(header::CACHE_CONTROL, "no-store")], Html(crate::consent::outcome(title, text))).into_response()
}
