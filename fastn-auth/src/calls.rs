//! The client's shared core: the three Fastn calls with their budgets, on one transport.
//! Sessions and requests reach the transport through here, never through the client.

use serde::{Deserialize, Deserializer, Serialize};
use tokio::time::Instant;

use crate::credentials::{Credentials, Extra};
use crate::error::Result;
use crate::transport::{Budget, Scope, Transport};
use crate::wire::{self, InitAnswer, Route, StatusAnswer};

/// Which connection a call is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Target {
    pub(crate) connector_id: String,
    pub(crate) org_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub(crate) tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub(crate) connection_id: Option<String>,
}

/// Handles of earlier versions wrote `""` for "none".
fn empty_as_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|text| !text.is_empty()))
}

impl Target {
    pub(crate) fn scope(&self) -> Scope<'_> {
        Scope { tenant_id: self.tenant_id.as_deref(), connection_id: self.connection_id.as_deref() }
    }
}

/// What every clone of a client shares.
#[derive(Debug)]
pub(crate) struct Calls {
    pub(crate) transport: Transport,
}

impl Calls {
    fn budget(&self, deadline: Option<Instant>) -> Budget {
        Budget { retries: self.transport.retry.max_retries, deadline }
    }

    /// `POST /connect/init/{org}/{connector}`, retried like any call: a duplicate flow is
    /// harmless, the user only ever sees the last redirect URL.
    pub(crate) async fn init(&self, target: &Target) -> Result<InitAnswer> {
        let route = Route::Init { org: &target.org_id, connector: &target.connector_id };
        self.transport.call(route, target.scope(), self.budget(None), wire::decode_init).await
    }

    /// One status poll: no retries beyond the fresh-connection one, since the poll loop
    /// has its own pauses; ends by `deadline`.
    pub(crate) async fn status(
        &self,
        state: &str,
        scope: Scope<'_>,
        deadline: Option<Instant>,
    ) -> Result<StatusAnswer> {
        let budget = Budget { retries: 0, deadline };
        self.transport.call(Route::Status { state }, scope, budget, wire::decode_status).await
    }

    /// `GET /connect/credentials/{org}/{connector}`.
    pub(crate) async fn credentials<E: Extra>(
        &self,
        target: &Target,
        deadline: Option<Instant>,
    ) -> Result<Credentials<E>> {
        let route = Route::Credentials { org: &target.org_id, connector: &target.connector_id };
        let connector = &target.connector_id;
        let decode = |body: &[u8]| Credentials::from_answer(connector, body);
        self.transport.call(route, target.scope(), self.budget(deadline), decode).await
    }
}
