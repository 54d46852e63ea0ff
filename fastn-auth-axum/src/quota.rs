//! What one tenant may start, so that no tenant crowds out another: pending flows per
//! tenant, and flow starts per tenant per minute, counted in this process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// The window flow starts are counted over.
const WINDOW: Duration = Duration::from_secs(60);

/// The per-tenant limits and what each tenant holds now.
pub(crate) struct Quotas {
    max_pending: usize,
    max_starts: usize,
    tenants: Mutex<HashMap<String, Held>>,
}

#[derive(Default)]
struct Held {
    /// The flows started and not seen to end, with their deadlines.
    pending: Vec<(String, SystemTime)>,
    /// When the flows of the last minute started, oldest first.
    starts: VecDeque<Instant>,
}

/// Why a start is refused, and how long until one may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The tenant has as many flows pending as allowed; the first ends by then.
    Pending(Duration),
    /// The tenant started as many flows in the last minute as allowed.
    Rate(Duration),
}

impl Refusal {
    /// How long to wait before trying again, whole seconds, at least one.
    pub(crate) fn retry_after(self) -> u64 {
        let (Refusal::Pending(wait) | Refusal::Rate(wait)) = self;
        (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
    }
}

/// A start admitted by [`Quotas::admit`]: recorded once the flow exists
/// ([`Quotas::started`]).
#[must_use]
#[derive(Debug)]
pub(crate) struct Admitted;

impl Quotas {
    pub(crate) fn new(max_pending: usize, max_starts: usize) -> Self {
        Quotas { max_pending: max_pending.max(1), max_starts: max_starts.max(1), tenants: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `tenant` may start a flow now; a start admitted counts against the rate at
    /// once, so that concurrent requests cannot all pass.
    pub(crate) fn admit(&self, tenant: &str) -> Result<Admitted, Refusal> {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut tenants = self.lock();
        let held = tenants.entry(tenant.to_owned()).or_default();
        held.prune(now, wall);
        if held.pending.len() >= self.max_pending {
            let first_end = held.pending.iter().map(|(_, until)| *until).min().unwrap_or(wall);
            return Err(Refusal::Pending(first_end.duration_since(wall).unwrap_or_default()));
        }
        if held.starts.len() >= self.max_starts {
            let oldest = held.starts.front().copied().unwrap_or(now);
            return Err(Refusal::Rate((oldest + WINDOW).saturating_duration_since(now)));
        }
        held.starts.push_back(now);
        Ok(Admitted)
    }

    /// Records the flow `state` of `tenant`, pending until `until` or until it is seen to end.
    pub(crate) fn started(&self, _: Admitted, tenant: &str, state: &str, until: SystemTime) {
        let mut tenants = self.lock();
        tenants.entry(tenant.to_owned()).or_default().pending.push((state.to_owned(), until));
    }

    /// The flow `state` of `tenant` ended (or could not be stored): no longer pending.
    pub(crate) fn ended(&self, tenant: &str, state: &str) {
        let mut tenants = self.lock();
        if let Some(held) = tenants.get_mut(tenant) {
            held.pending.retain(|(pending, _)| pending != state);
            if held.pending.is_empty() && held.starts.is_empty() {
                tenants.remove(tenant);
            }
        }
    }
}

impl Held {
    /// Drops flows past their deadline and starts older than the window.
    fn prune(&mut self, now: Instant, wall: SystemTime) {
        self.pending.retain(|(_, until)| *until > wall);
        while self.starts.front().is_some_and(|started| now.saturating_duration_since(*started) >= WINDOW) {
            self.starts.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_tenant_is_held_to_its_own_limits_and_no_other() {
        let quotas = Quotas::new(2, 3);
        let until = SystemTime::now() + Duration::from_secs(600);
        for state in ["a", "b"] {
            let admitted = quotas.admit("flood").unwrap();
            quotas.started(admitted, "flood", state, until);
        }
        assert!(matches!(quotas.admit("flood"), Err(Refusal::Pending(_))));
        // Another tenant is not affected.
        assert!(quotas.admit("victim").is_ok());
        // A flow that ends frees its place; the rate still counts it.
        quotas.ended("flood", "a");
        let admitted = quotas.admit("flood").unwrap();
        quotas.started(admitted, "flood", "c", until);
        quotas.ended("flood", "b");
        quotas.ended("flood", "c");
        let refused = quotas.admit("flood").unwrap_err();
        assert_eq!(refused, Refusal::Rate(WINDOW));
        assert_eq!(refused.retry_after(), 60);
        tokio::time::advance(WINDOW).await;
        assert!(quotas.admit("flood").is_ok(), "the window moved on");
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(Refusal::Rate(Duration::from_millis(1500)).retry_after(), 2);
        assert_eq!(Refusal::Pending(Duration::ZERO).retry_after(), 1);
        assert_eq!(Refusal::Pending(Duration::from_secs(3)).retry_after(), 3);
    }
}
