//! The handlers of [`ConnectRouter`](crate::ConnectRouter).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use fastn_auth::health::{EventKind, HealthState};
use fastn_auth::{ErrorCode, FastnAuth};
use futures_util::Stream as _;
use serde_json::json;

use crate::Tenant;
use crate::handles::{FlowRecord, HandleStore};
use crate::quota::{Quotas, Refusal};
use crate::watch::{FlowStatus, Watchers};

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) client: FastnAuth,
    pub(crate) handles: Box<dyn HandleStore>,
    pub(crate) watchers: Arc<Watchers>,
    pub(crate) quotas: Quotas,
    /// The connectors served, when the app said ([`ConnectRouter::only`](crate::ConnectRouter::only)).
    pub(crate) only: Option<std::collections::HashSet<String>>,
    pub(crate) flow_ttl: Duration,
    /// The app's page users come back to, in return mode ([`ConnectRouter::return_to`](crate::ConnectRouter::return_to)).
    pub(crate) return_to: Option<fastn_auth::Url>,
    /// `connect.js`, for this router's mode.
    pub(crate) script: String,
}

impl Shared {
    /// `404` for a connector the app does not serve.
    fn refuse_unknown(&self, connector: &str) -> Option<Response> {
        let served = self.only.as_ref().is_none_or(|only| only.contains(connector));
        (!served).then(|| error(StatusCode::NOT_FOUND, "no such connector"))
    }
}

pub(crate) type App = State<Arc<Shared>>;

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Whether the request's `Accept` names `mime`.
fn accepts(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains(mime))
}

/// Whether the request comes from a page of another site: an `Origin` that is not the
/// request's own host (its `Host` header, or over HTTP/2 the `:authority` that the URI
/// carries), or `Sec-Fetch-Site: cross-site`.
fn cross_site(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    let value = |name: header::HeaderName| headers.get(name).map(|value| value.to_str().unwrap_or("?"));
    if value(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return true;
    }
    let host = value(header::HOST).or_else(|| uri.authority().map(|authority| authority.as_str()));
    match (value(header::ORIGIN), host) {
        (None, _) => false,
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
            !origin_host.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
    }
}

/// The path the router is nested under: the original path of `…/{connector}/connect`
/// without its last two segments (as sent, percent-encoded, whatever the connector id).
fn mount(uri: &axum::http::Uri) -> String {
    uri.path().rsplitn(3, '/').nth(2).unwrap_or("").to_owned()
}

/// What an SDK error becomes: the caller's mistake (400), or Fastn's trouble (502).
fn sdk_error(err: &fastn_auth::Error) -> Response {
    let status = match err.code() {
        ErrorCode::ConfigError => StatusCode::BAD_REQUEST,
        _ if err.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    error(status, &err.to_string())
}

/// `POST /{connector}/connect`: starts a flow for the tenant and keeps its handle.
pub(crate) async fn connect(
    State(app): App,
    tenant: Tenant,
    Path(connector): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = app.refuse_unknown(&connector) {
        return refused;
    }
    if cross_site(&headers, &uri) {
        return error(StatusCode::FORBIDDEN, "a flow cannot be started from another site");
    }
    let admitted = match app.quotas.admit(&tenant.0) {
        Ok(admitted) => admitted,
        Err(refusal) => return too_many(refusal),
    };
    if let Some(return_to) = &app.return_to {
        return connect_back(&app, admitted, tenant, connector, return_to, &headers).await;
    }
    // A broken connection is connected again (its calls then point at this flow's page).
    let health = app.client.health(connector.clone()).tenant_id(tenant.0.clone()).send().await;
    let start = match health.state {
        HealthState::Broken { .. } => app.client.reconnect(connector.clone()),
        _ => app.client.connect(connector.clone()),
    };
    let session = match start.tenant_id(tenant.0.clone()).send().await {
        Ok(session) => session,
        Err(err) => return sdk_error(&err),
    };
    let handle = session.handle().clone();
    let state = handle.state().to_owned();
    let redirect_url = handle.redirect_url().map(|url| url.as_str().to_owned());
    let record = FlowRecord {
        tenant_id: tenant.0,
        handle,
        // `flow_ttl` is at most a day: this cannot overflow.
        expires_at: SystemTime::now() + app.flow_ttl,
    };
    if let Err(err) = app.handles.put(&state, &record, app.flow_ttl).await {
        tracing::warn!(error = %err, "a flow handle could not be stored");
        return error(StatusCode::SERVICE_UNAVAILABLE, "the flow could not be stored; try again");
    }
    app.quotas.started(admitted, &record.tenant_id, &state, record.expires_at);
    let base = mount(&uri);
    let status_url = format!("{base}/flows/{state}");
    if accepts(&headers, "application/json") {
        let events_url = format!("{status_url}/events");
        return axum::Json(json!({ "state": state, "redirect_url": redirect_url, "events_url": events_url }))
            .into_response();
    }
    // Without JavaScript: to the consent page, or the status page when the flow has none.
    Redirect::to(redirect_url.as_deref().unwrap_or(&status_url)).into_response()
}

/// A start in return mode: through Fastn's connections API, the user sent to the consent
/// page and from there back to the app's page, with `connector` in its query.
async fn connect_back(
    app: &Shared,
    admitted: crate::quota::Admitted,
    tenant: Tenant,
    connector: String,
    return_to: &fastn_auth::Url,
    headers: &HeaderMap,
) -> Response {
    let mut back = return_to.clone();
    back.query_pairs_mut().append_pair("connector", &connector);
    let started = app.client.connections().initiate(connector).tenant_id(tenant.0.clone()).redirect_url(back);
    let started = match started.send().await {
        Ok(started) => started,
        Err(err) => return sdk_error(&err),
    };
    // Pending until Fastn's own deadline for the consent, or the router's, whichever is first.
    let ttl = started.expires_in.map_or(app.flow_ttl, |left| left.min(app.flow_ttl));
    app.quotas.started(admitted, &tenant.0, &started.connection_id, SystemTime::now() + ttl);
    if accepts(headers, "application/json") {
        return axum::Json(
            json!({ "connection_id": started.connection_id, "redirect_url": started.auth_url.as_str() }),
        )
        .into_response();
    }
    Redirect::to(started.auth_url.as_str()).into_response()
}

/// `429` with `Retry-After` for a start over the tenant's limits.
fn too_many(refusal: Refusal) -> Response {
    let message = match refusal {
        Refusal::Pending(_) => "too many connection flows pending; finish or wait for one to end",
        Refusal::Rate(_) => "too many connection flows started in the last minute; try again later",
    };
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, message);
    response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(refusal.retry_after()));
    response
}

/// The flow `state` if it belongs to `tenant`; another tenant's is as absent as none.
async fn flow_of(app: &Shared, tenant: &Tenant, state: &str) -> Result<FlowRecord, Response> {
    match app.handles.get(state).await {
        Ok(Some(record)) if record.tenant_id == tenant.0 => Ok(record),
        Ok(_) => Err(error(StatusCode::NOT_FOUND, "no such flow")),
        Err(err) => {
            tracing::warn!(error = %err, "a flow handle could not be read");
            Err(error(StatusCode::SERVICE_UNAVAILABLE, "flows cannot be read now; try again"))
        }
    }
}

/// `GET /flows/{state}`: the status, as JSON or (for a browser without JavaScript) a page
/// that refreshes itself until the flow ends.
pub(crate) async fn status(
    State(app): App,
    tenant: Tenant,
    Path(state): Path<String>,
    headers: HeaderMap,
) -> Response {
    let record = match flow_of(&app, &tenant, &state).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let status = match app.watchers.latest(&state) {
        Some(status) => status,
        None => match app.client.resume(record.handle).get_status().await {
            Ok(answer) => FlowStatus { status: answer.status, message: answer.error_message },
            Err(err) => return sdk_error(&err),
        },
    };
    if status.is_final() {
        app.quotas.ended(&tenant.0, &state);
    }
    if accepts(&headers, "text/html") && !accepts(&headers, "application/json") {
        return Html(status_page(&status)).into_response();
    }
    axum::Json(status).into_response()
}

fn status_page(status: &FlowStatus) -> String {
    let (refresh, text) = match status.status {
        fastn_auth::AuthStatus::Active => ("", "Connected."),
        fastn_auth::AuthStatus::Failed => ("", "The connection failed."),
        fastn_auth::AuthStatus::Expired => ("", "The connection expired."),
        _ => ("<meta http-equiv=refresh content=2>", "Waiting for you to finish in the other window…"),
    };
    format!("<!doctype html><meta charset=utf-8>{refresh}<title>Connection</title><p>{text}</p>")
}

/// `GET /flows/{state}/events`: Server-Sent Events, an `event: status` per change, closed
/// after `ACTIVE` or `FAILED` or at the flow's deadline.
pub(crate) async fn events(State(app): App, tenant: Tenant, Path(state): Path<String>) -> Response {
    let record = match flow_of(&app, &tenant, &state).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let Some(slot) = app.watchers.open_stream(&tenant.0) else {
        return error(StatusCode::TOO_MANY_REQUESTS, "too many open event streams; close one and retry");
    };
    let receiver = app.watchers.subscribe(&record.handle, record.expires_at);
    let deadline =
        tokio::time::Instant::now() + record.expires_at.duration_since(SystemTime::now()).unwrap_or_default();
    // Each step: the next status to send (the current one first), or the end.
    let ended = (app.clone(), tenant.0, state);
    let stream = futures_util::stream::unfold(
        (receiver, slot, true, false),
        move |(mut receiver, slot, first, done)| {
            let ended = ended.clone();
            async move {
                if done {
                    let (app, tenant, state) = ended;
                    app.quotas.ended(&tenant, &state);
                    return None;
                }
                // The status held now (first step only), else the next change.
                let mut wait = !(first && receiver.borrow().is_some());
                let status = loop {
                    if wait {
                        match tokio::time::timeout_at(deadline, receiver.changed()).await {
                            Ok(Ok(())) => {}
                            // The poller ended (the flow's time is up, or its final status was
                            // sent already), or the deadline passed.
                            Ok(Err(_)) | Err(_) => return None,
                        }
                    }
                    wait = true;
                    if let Some(status) = receiver.borrow_and_update().clone() {
                        break status;
                    }
                };
                let done = status.is_final();
                let event = Event::default().event("status").json_data(&status).unwrap_or_default();
                Some((Ok::<_, Infallible>(event), (receiver, slot, false, done)))
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// `GET /{connector}`: whether the tenant has a working connection of it (through the
/// client's credentials cache, when it has one), and when it is broken, why and where to
/// connect it again.
pub(crate) async fn connected(
    State(app): App,
    tenant: Tenant,
    Path(connector): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    if let Some(refused) = app.refuse_unknown(&connector) {
        return refused;
    }
    match app.client.credentials(connector.clone()).tenant_id(tenant.0.clone()).send().await {
        Ok(_) => axum::Json(json!({ "connected": true, "state": "healthy" })).into_response(),
        Err(err) if err.needs_reconnect() => {
            let health = app.client.health(connector).tenant_id(tenant.0).send().await;
            let reason = match &health.state {
                HealthState::Broken { reason, .. } => Some(reason.as_str()),
                _ => None,
            };
            let reconnect = format!("{}/connect", uri.path());
            axum::Json(
                json!({ "connected": false, "state": "broken", "reason": reason, "reconnect": reconnect }),
            )
            .into_response()
        }
        Err(err) if err.is_not_found() => {
            let health = app.client.health(connector).tenant_id(tenant.0).send().await;
            axum::Json(json!({ "connected": false, "state": health.state.as_str() })).into_response()
        }
        Err(err) => sdk_error(&err),
    }
}

/// `GET /events`: Server-Sent Events, an `event: health` for each change of one of the
/// tenant's connections (`{"connector", "kind", "reason"?}`), as this process (and, with a
/// shared store, the fleet) sees them; ends at the flow deadline, counted with the flows'
/// streams.
pub(crate) async fn health_events(State(app): App, tenant: Tenant) -> Response {
    let Some(slot) = app.watchers.open_stream(&tenant.0) else {
        return error(StatusCode::TOO_MANY_REQUESTS, "too many open event streams; close one and retry");
    };
    let deadline = tokio::time::Instant::now() + app.flow_ttl;
    let events = app.client.events();
    let stream = futures_util::stream::unfold((events, slot), move |(mut events, slot)| {
        let tenant = tenant.0.clone();
        async move {
            loop {
                let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut events).poll_next(cx));
                let event = match tokio::time::timeout_at(deadline, next).await {
                    Ok(Some(Ok(event))) => event,
                    // Behind: the missed changes are gone; the page asks `GET /{connector}`.
                    Ok(Some(Err(_))) => continue,
                    Ok(None) | Err(_) => return None,
                };
                if event.tenant_id.as_deref() != Some(tenant.as_str()) {
                    continue;
                }
                let reason = match &event.kind {
                    EventKind::Broken { reason, .. } => Some(reason.as_str()),
                    _ => None,
                };
                let data =
                    json!({ "connector": event.connector_id, "kind": event.kind.as_str(), "reason": reason });
                let sent = Event::default().event("health").json_data(&data).unwrap_or_default();
                return Some((Ok::<_, Infallible>(sent), (events, slot)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// `connect.js` for a router in return mode or not: the script reads its mode from one
/// constant.
pub(crate) fn script_for(return_mode: bool) -> String {
    if return_mode {
        crate::CONNECT_JS.replacen("const RETURN_MODE = false;", "const RETURN_MODE = true;", 1)
    } else {
        crate::CONNECT_JS.to_owned()
    }
}

/// `GET /connect.js`.
pub(crate) async fn script(State(app): App) -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=300")],
        app.script.clone(),
    )
        .into_response()
}
