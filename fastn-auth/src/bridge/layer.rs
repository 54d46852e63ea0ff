//! [`TokenLayer`]: the token in a tower stack over `http::Request` (hyper clients,
//! octocrab's `with_layer`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use url::Url;

use super::{TokenError, covers, retry_after_401};
use crate::api::ApiClient;
use crate::api::grant::Grant;
use crate::cache::Freshness;
use crate::provider::Placed;

/// An error of the layered service: the inner service's, or a [`TokenError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Makes a body to send again after a refresh, when the body can be (a buffered one).
type Replay<B> = fn(&B) -> Option<B>;

/// A `tower::Layer` that sends the tenant's token with every request under the
/// [`ApiClient`]'s base URL, refreshing it on a 401 (the rules of [`bridge`](super)); any
/// other request goes on untouched.
///
/// A 401 is retried once when [`replay`](Self::replay) can copy the request's body
/// (`TokenLayer::new(api).replay(OctoBody::try_clone)` for octocrab,
/// [`cloned`](Self::cloned) for a body that is plain data); otherwise it is returned, with
/// a `tracing` warning.
pub struct TokenLayer<B> {
    api: Arc<ApiClient>,
    replay: Replay<B>,
}

impl<B> Clone for TokenLayer<B> {
    fn clone(&self) -> Self {
        TokenLayer { api: self.api.clone(), replay: self.replay }
    }
}

impl<B> std::fmt::Debug for TokenLayer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenLayer").field("api", &self.api).finish_non_exhaustive()
    }
}

impl<B> TokenLayer<B> {
    /// The layer of `api`'s connector and tenant; a 401 is not retried until
    /// [`replay`](Self::replay) says how to copy a body.
    pub fn new(api: ApiClient) -> Self {
        TokenLayer { api: Arc::new(api), replay: |_| None }
    }

    /// How to copy a request's body to send it again after a refresh (`None`: it cannot be).
    pub fn replay(mut self, replay: fn(&B) -> Option<B>) -> Self {
        self.replay = replay;
        self
    }
}

impl<B: Clone> TokenLayer<B> {
    /// The layer of `api`, retrying a 401 with a clone of the body: for bodies that are
    /// plain data (`String`, `Bytes`, `http_body_util::Full`), not for a clone that shares a
    /// stream.
    pub fn cloned(api: ApiClient) -> Self {
        TokenLayer::new(api).replay(|body| Some(body.clone()))
    }
}

impl<S, B> tower_layer::Layer<S> for TokenLayer<B> {
    type Service = TokenService<S, B>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenService { inner, api: self.api.clone(), replay: self.replay }
    }
}

/// The service of a [`TokenLayer`].
pub struct TokenService<S, B> {
    inner: S,
    api: Arc<ApiClient>,
    replay: Replay<B>,
}

impl<S: Clone, B> Clone for TokenService<S, B> {
    fn clone(&self) -> Self {
        TokenService { inner: self.inner.clone(), api: self.api.clone(), replay: self.replay }
    }
}

impl<S, B> std::fmt::Debug for TokenService<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("api", &self.api).finish_non_exhaustive()
    }
}

/// `request` with `grant`'s token where the manifest says.
fn attach<B>(api: &ApiClient, grant: &Grant, request: &mut Request<B>) -> Result<(), TokenError> {
    match api.placed(grant).map_err(TokenError)? {
        Placed::Header(name, value) => {
            request.headers_mut().insert(name, value);
        }
        Placed::Query(name, token) => {
            let mut url = Url::parse(&request.uri().to_string())
                .map_err(|_| TokenError(crate::Error::config("the request's URI cannot hold the token")))?;
            url.query_pairs_mut().append_pair(name, token);
            *request.uri_mut() = url
                .as_str()
                .parse()
                .map_err(|_| TokenError(crate::Error::config("the request's URI cannot hold the token")))?;
        }
    }
    Ok(())
}

/// A copy of `request` (before its token is set) to send again, when its body can be.
fn copy<B>(request: &Request<B>, replay: Replay<B>) -> Option<Request<B>> {
    let mut copy = Request::new(replay(request.body())?);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

impl<S, B, R> tower_service::Service<Request<B>> for TokenService<S, B>
where
    S: tower_service::Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service made ready is the one to call; a clone takes its place for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let api = self.api.clone();
        let replay = self.replay;
        Box::pin(async move {
            let url = Url::parse(&request.uri().to_string()).ok();
            let known = api.known_base().map_err(TokenError)?;
            let outside = |base: &Url| url.as_ref().is_none_or(|url| !covers(base, url));
            if known.is_some_and(outside) {
                return inner.call(request).await.map_err(Into::into);
            }
            let grant = api.grant(Freshness::Any).await.map_err(TokenError)?;
            if outside(&grant.base) {
                return inner.call(request).await.map_err(Into::into);
            }
            let again = copy(&request, replay);
            attach(&api, &grant, &mut request)?;
            let response = inner.call(request).await.map_err(Into::into)?;
            if response.status() != StatusCode::UNAUTHORIZED {
                api.accepted();
                return Ok(response);
            }
            let retry = retry_after_401(&api, &grant, again).await.map_err(TokenError)?;
            let Some((mut again, fresh)) = retry else { return Ok(response) };
            drop(response);
            attach(&api, &fresh, &mut again)?;
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await.map_err(Into::into)?;
            let response = inner.call(again).await.map_err(Into::into)?;
            if response.status() == StatusCode::UNAUTHORIZED {
                api.refused_again(&fresh);
            }
            Ok(response)
        })
    }
}
