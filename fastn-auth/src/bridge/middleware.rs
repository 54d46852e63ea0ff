//! [`TokenMiddleware`]: the token in a `reqwest-middleware` stack (progenitor clients, and
//! any `ClientWithMiddleware`).

use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use super::{TokenError, covers, retry_after_401};
use crate::api::ApiClient;
use crate::cache::Freshness;

/// A `reqwest_middleware::Middleware` that sends the tenant's token with every request
/// under the [`ApiClient`]'s base URL, refreshing it on a 401 (the rules of
/// [`bridge`](super)). Any other request goes on untouched.
///
/// A request whose body is a stream cannot be sent twice: its 401 is returned as it is, and
/// the next request carries the refreshed token. Redirects are the inner
/// `reqwest::Client`'s to follow, with the token the first request carried: build that
/// client with [`redirect_policy`](Self::redirect_policy), which follows only redirects
/// that stay under the base URL (reqwest itself drops `Authorization` only on a redirect to
/// another origin, so a same-origin redirect out of the base would carry it).
#[derive(Debug, Clone)]
pub struct TokenMiddleware {
    api: Arc<ApiClient>,
}

impl TokenMiddleware {
    /// The middleware of `api`'s connector and tenant.
    pub fn new(api: ApiClient) -> Self {
        TokenMiddleware { api: Arc::new(api) }
    }

    /// The redirect policy for the `reqwest::Client` under this middleware: a redirect is
    /// followed (ten at most) only to a URL under the API's base URL, when that base is
    /// known without the credentials (no `{field}` in it); any other is returned as it
    /// came, never followed with the token.
    ///
    /// ```
    /// # fn build(api: fastn_auth::ApiClient) -> reqwest_middleware::ClientWithMiddleware {
    /// let middleware = fastn_auth::bridge::TokenMiddleware::new(api);
    /// let http = reqwest::Client::builder().redirect(middleware.redirect_policy()).build().unwrap();
    /// reqwest_middleware::ClientBuilder::new(http).with(middleware).build()
    /// # }
    /// ```
    pub fn redirect_policy(&self) -> reqwest::redirect::Policy {
        let base = self.api.known_base().ok().flatten().cloned();
        reqwest::redirect::Policy::custom(move |attempt| match &base {
            Some(base) if attempt.previous().len() < 10 && covers(base, attempt.url()) => attempt.follow(),
            _ => attempt.stop(),
        })
    }
}

fn failed(err: crate::Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(TokenError(err))
}

#[async_trait::async_trait]
impl Middleware for TokenMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let api = &self.api;
        // Outside a base known without credentials: nothing to fetch, nothing to add.
        if api.known_base().map_err(failed)?.is_some_and(|base| !covers(base, request.url())) {
            return next.run(request, extensions).await;
        }
        let grant = api.grant(Freshness::Any).await.map_err(failed)?;
        if !covers(&grant.base, request.url()) {
            return next.run(request, extensions).await;
        }
        let again = request.try_clone();
        api.attach(&grant, &mut request).map_err(failed)?;
        let response = next.clone().run(request, extensions).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            api.accepted();
            return Ok(response);
        }
        let Some((mut again, fresh)) = retry_after_401(api, &grant, again).await.map_err(failed)? else {
            return Ok(response);
        };
        drop(response);
        api.attach(&fresh, &mut again).map_err(failed)?;
        let response = next.run(again, extensions).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            api.refused_again(&fresh);
        }
        Ok(response)
    }
}
