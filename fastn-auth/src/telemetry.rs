//! Numbers an operator can graph, through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`), so any exporter works. Without the feature each function here is
//! empty and compiles away. Labels are the endpoint and the outcome only: never a tenant, a
//! connection, an id or a token.
//!
//! | metric | kind | labels | counts |
//! |---|---|---|---|
//! | `fastn_auth_cache_hits_total` | counter | | calls answered from the cache |
//! | `fastn_auth_cache_misses_total` | counter | | calls that fetched themselves |
//! | `fastn_auth_cache_coalesced_total` | counter | | calls that waited for another's fetch |
//! | `fastn_auth_upstream_requests_total` | counter | `endpoint`, `outcome` | HTTP requests to Fastn (`init`, `status`, `credentials`) and to connected apps (`api`) |
//! | `fastn_auth_upstream_request_seconds` | histogram | `endpoint` | their duration |
//! | `fastn_auth_refresh_failures_total` | counter | | refreshes ahead of expiry that failed (the valid token was served) |
//! | `fastn_auth_store_errors_total` | counter | | shared-store operations that failed or timed out |
//! | `fastn_auth_polls_total` | counter | | flow status polls |

use std::time::Duration;

use crate::wire::Endpoint;

/// How an upstream request ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 2xx (Fastn) or any answer (a connected app's API, whose statuses are its own).
    Ok,
    /// A 4xx from Fastn.
    ClientError,
    /// A 5xx from Fastn.
    ServerError,
    /// No complete answer in time.
    Timeout,
    /// No answer: no connection, a reset, a redirect refused.
    Network,
}

impl Outcome {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::Timeout => "timeout",
            Outcome::Network => "network",
        }
    }

    /// The outcome of a request that ended in `error`.
    pub(crate) fn of(error: &crate::error::Error) -> Outcome {
        match error.status_code() {
            Some(400..=499) => Outcome::ClientError,
            Some(_) => Outcome::ServerError,
            None if error.is_timeout() => Outcome::Timeout,
            None => Outcome::Network,
        }
    }
}

macro_rules! counter {
    ($(#[$doc:meta] $name:ident => $metric:literal;)*) => {$(
        #[$doc]
        #[inline]
        pub(crate) fn $name() {
            #[cfg(feature = "metrics")]
            ::metrics::counter!($metric).increment(1);
        }
    )*};
}

counter! {
    /// A call answered from the cache.
    cache_hit => "fastn_auth_cache_hits_total";
    /// A call that fetched itself.
    cache_miss => "fastn_auth_cache_misses_total";
    /// A call that waited for another caller's fetch.
    cache_coalesced => "fastn_auth_cache_coalesced_total";
    /// A refresh ahead of expiry that failed while the token was still valid.
    refresh_failure => "fastn_auth_refresh_failures_total";
    /// A shared-store operation that failed or timed out.
    store_error => "fastn_auth_store_errors_total";
    /// A flow status poll.
    poll => "fastn_auth_polls_total";
    /// A provider 401 returned without a refresh (the connection is backing off).
    unauthorized_returned => "fastn_auth_unauthorized_returned_total";
    /// A request that waited for the key's rate limit to reset (`X-RateLimit-Remaining: 0`).
    rate_limit_wait => "fastn_auth_rate_limit_waits_total";
}

/// A change of a connection's health (`kind`: `connected`, `broken`, …).
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn health_event(kind: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("fastn_auth_connection_events_total", "kind" => kind).increment(1);
}

/// One HTTP request to `endpoint` that ended with `outcome` after `took`.
#[inline]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn upstream(endpoint: Endpoint, outcome: Outcome, took: Duration) {
    #[cfg(feature = "metrics")]
    {
        let endpoint = endpoint.verb();
        ::metrics::counter!("fastn_auth_upstream_requests_total", "endpoint" => endpoint, "outcome" => outcome.label())
            .increment(1);
        ::metrics::histogram!("fastn_auth_upstream_request_seconds", "endpoint" => endpoint)
            .record(took.as_secs_f64());
    }
}
