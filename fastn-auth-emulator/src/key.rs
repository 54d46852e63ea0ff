//! [`ConnectionKey`]: which connection a set of credentials belongs to; [`ConnectionBreak`]: how one breaks.

/// Which connection credentials belong to: the emulator keeps one set per key, so a tenant
/// only ever reads its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ConnectionKey {
    /// The space (`x-fastn-space-id`).
    pub space_id: String,
    /// The org (path).
    pub org_id: String,
    /// The connector (path).
    pub connector_id: String,
    /// The tenant (`x-fastn-space-tenantid`, empty when none).
    pub tenant_id: String,
    /// The connection (`x-fastn-space-connection-id`, empty when none).
    pub connection_id: String,
}

impl ConnectionKey {
    /// The key of `connector_id` in `space_id`, org `community`, no tenant, no connection id.
    pub fn new(space_id: impl Into<String>, connector_id: impl Into<String>) -> Self {
        ConnectionKey {
            space_id: space_id.into(),
            org_id: fastn_auth::wire::DEFAULT_ORG_ID.to_owned(),
            connector_id: connector_id.into(),
            tenant_id: String::new(),
            connection_id: String::new(),
        }
    }

    /// With this org.
    #[must_use]
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = org_id.into();
        self
    }

    /// With this tenant.
    #[must_use]
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = tenant_id.into();
        self
    }

    /// With this connection id.
    #[must_use]
    pub fn connection_id(mut self, connection_id: impl Into<String>) -> Self {
        self.connection_id = connection_id.into();
        self
    }
}

/// How [`MockServer::break_connection`](crate::MockServer::break_connection) breaks a
/// connection, as Fastn and the provider then answer for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionBreak {
    /// Expired: the flows that made it answer `EXPIRED`, the connections API `expired`, its
    /// credentials `401` with `CONN-REFRESH-FAILED`.
    Expired,
    /// Its refresh failed for good: credentials `401` with `CONN-REFRESH-FAILED`; statuses
    /// still say it is active.
    RefreshFailed,
    /// Revoked at the provider: Fastn still hands out its token, the provider's API answers
    /// it `401`.
    Revoked,
    /// Deleted: Fastn no longer has it (credentials `404`), and its token is refused.
    Deleted,
}
