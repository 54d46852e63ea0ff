//! [`GoogleToken`]: google-apis-rs's `GetToken` (the hubs of `google-sheets4`,
//! `google-drive3`, …) for one tenant's connection, and [`GoogleRefresh`], the delegate
//! that turns a 401 into one shared refresh.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use google_apis_common::{Delegate, GetToken, Retry};
use http::StatusCode;

use crate::api::ApiClient;
use crate::cache::Freshness;

thread_local! {
    /// The cache generation of the token `get_token` handed out last on this thread. A hub
    /// calls `get_token`, then, with no await in between (so on the same thread, in the
    /// same poll of its task), the delegate's `pre_request`: which reads it here.
    static HANDED: Cell<u64> = const { Cell::new(0) };
}

/// The tenant's token for a google-apis-rs hub: `Sheets::new(client, GoogleToken::new(api))`.
///
/// Each call of the hub takes the current token from the client's credentials cache
/// (refreshed ahead of expiry, one fetch for every concurrent caller); a connected tenant
/// always has one (`Some`). A missing connection is the hub's
/// `google_apis_common::Error::MissingToken(e)`, `e` being the SDK's
/// [`Error`](crate::Error) (`e.downcast_ref::<fastn_auth::Error>()`, then
/// [`is_not_found`](crate::Error::is_not_found)): that crate's error gives no `source()`
/// for it.
///
/// A hub does not tell its token provider about a 401: give the calls a
/// [`GoogleRefresh`] delegate ([`delegate`](Self::delegate)) and a 401 is one refresh
/// shared with every other call refused the same token, then the hub's own retry.
///
/// The token goes where the hub puts it (`Authorization: Bearer`), to the hub's base URL.
#[derive(Debug, Clone)]
pub struct GoogleToken {
    api: Arc<ApiClient>,
    /// One more than the newest generation a provider refused (0: none).
    refused: Arc<AtomicU64>,
}

impl GoogleToken {
    /// The token of `api`'s connector and tenant.
    pub fn new(api: ApiClient) -> Self {
        GoogleToken { api: Arc::new(api), refused: Arc::new(AtomicU64::new(0)) }
    }

    /// A delegate for one call of the hub (`.delegate(&mut token.delegate())`): a 401 is
    /// one refresh, then one retry of the call.
    pub fn delegate(&self) -> GoogleRefresh {
        GoogleRefresh { token: self.clone(), used: None, retried: false }
    }

    async fn token(&self) -> crate::Result<String> {
        let freshness = match self.refused.load(Ordering::Acquire) {
            0 => Freshness::Any,
            refused => Freshness::NewerThan(refused - 1),
        };
        let grant = self.api.grant(freshness).await?;
        let token = self.api.token_of(&grant)?.to_owned();
        HANDED.set(grant.generation);
        Ok(token)
    }
}

impl GetToken for GoogleToken {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&str],
    ) -> Pin<
        Box<
            dyn Future<Output = Result<Option<String>, Box<dyn std::error::Error + Send + Sync>>> + Send + 'a,
        >,
    > {
        Box::pin(async move { self.token().await.map(Some).map_err(Into::into) })
    }
}

/// The `google_apis_common::Delegate` of one hub call through a [`GoogleToken`]: on a 401,
/// the token it was sent with is refreshed (once for every call refused it) and the call
/// is retried once; a second 401 ends it, and keeps the connection from being refreshed
/// again for a while. Made by [`GoogleToken::delegate`].
#[derive(Debug)]
pub struct GoogleRefresh {
    token: GoogleToken,
    /// The generation of the token this call was sent with.
    used: Option<u64>,
    retried: bool,
}

impl Delegate for GoogleRefresh {
    fn pre_request(&mut self) {
        self.used = Some(HANDED.get());
    }

    fn http_failure(
        &mut self,
        response: &google_apis_common::Response,
        _: Option<&serde_json::Value>,
    ) -> Retry {
        let Some(used) = self.used else { return Retry::Abort };
        if response.status() != StatusCode::UNAUTHORIZED {
            return Retry::Abort;
        }
        let api = &self.token.api;
        if self.retried {
            api.refused_generation(used);
            return Retry::Abort;
        }
        if api.unauthorized_is_final(used) {
            return Retry::Abort;
        }
        self.retried = true;
        tracing::debug!(connector = api.connector_id(), "the provider refused the token; refreshing it");
        self.token.refused.fetch_max(used + 1, Ordering::AcqRel);
        Retry::After(Duration::ZERO)
    }
}
