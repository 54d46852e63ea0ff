//! Each tenant's share of the client's request slots: the calls one tenant runs at once are
//! bounded, so that however many it starts (or abandons), the others' calls still find
//! slots of the client free.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The calls in flight, per tenant and in all.
#[derive(Debug)]
pub(crate) struct Shares {
    per_tenant: usize,
    /// A tenant with a call running or waiting for its turn has an entry; the others none.
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
    running: AtomicUsize,
}

/// One call's turn: held while the call runs.
#[derive(Debug)]
pub(crate) struct Turn<'s> {
    shares: &'s Shares,
    tenant: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl Shares {
    pub(crate) fn new(per_tenant: usize) -> Self {
        Shares {
            per_tenant: per_tenant.max(1),
            tenants: Mutex::new(HashMap::new()),
            running: AtomicUsize::new(0),
        }
    }

    /// Waits for a turn of `tenant`'s (first come, first served).
    pub(crate) async fn turn(&self, tenant: &str) -> Turn<'_> {
        let semaphore = {
            let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            tenants
                .entry(tenant.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
                .clone()
        };
        // Never closed: the semaphore lives in the map or in this call.
        let permit = semaphore.acquire_owned().await.ok();
        self.running.fetch_add(1, Ordering::Relaxed);
        Turn { shares: self, tenant: tenant.to_owned(), permit }
    }

    /// How many calls run now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.shares.running.fetch_sub(1, Ordering::Relaxed);
        drop(self.permit.take());
        let mut tenants = self.shares.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        // Only the map holds it: no call of the tenant runs or waits.
        if tenants.get(&self.tenant).is_some_and(|semaphore| Arc::strong_count(semaphore) == 1) {
            tenants.remove(&self.tenant);
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    #[tokio::test]
    async fn a_tenant_at_its_share_waits_while_others_run_and_nothing_is_kept_after() {
        let shares = Shares::new(2);
        let a1 = shares.turn("acme").await;
        let _a2 = shares.turn("acme").await;
        let third = shares.turn("acme");
        tokio::pin!(third);
        assert!(third.as_mut().now_or_never().is_none(), "acme is at its share");
        let g = shares.turn("globex").await;
        assert_eq!(shares.running(), 3);
        drop(a1);
        let _a3 = third.await;
        drop(g);
        assert!(
            !shares.tenants.lock().unwrap().contains_key("globex"),
            "a tenant with nothing running is not kept"
        );
    }
}
