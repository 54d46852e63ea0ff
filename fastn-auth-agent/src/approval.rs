//! Approvals bound to the arguments: a tool marked as needing one
//! ([`ToolSet::require_approval`](crate::ToolSet::require_approval)) does not run on a
//! model's say-so. Its call becomes a [`PendingApproval`] — the exact arguments, for the
//! app to show its user — and runs only with a [`Receipt`] the app signs when the user
//! approves ([`Approvals::approve`]): an HMAC-SHA256, with the app's key, over the tenant,
//! the tool's id, the arguments in canonical JSON, an expiry and a nonce. Execution refuses
//! a receipt for other arguments, another tool or tenant, one expired, and one already used
//! (once per nonce, across replicas given a shared store).
//!
//! This is the guard a model cannot talk its way past: the model never holds the key, and
//! no text it writes turns into a receipt.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fastn_auth::store::{CacheStore, hmac_sha256};
use serde_json::Value;

/// How long a receipt is good for unless [`Approvals::ttl`] says otherwise: 10 minutes.
pub const DEFAULT_APPROVAL_TTL: Duration = Duration::from_secs(600);
/// How long marking a receipt used on the shared store may take before it is refused.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The app's approvals: its signing key, how long a receipt lasts, where used receipts are
/// remembered. Give it to [`BoundTools::approvals`](crate::BoundTools::approvals) (the MCP
/// server's `approvals`). Cheap to clone.
#[derive(Clone)]
pub struct Approvals {
    key: Arc<[u8; 32]>,
    ttl: Duration,
    store: Option<Arc<dyn CacheStore>>,
    /// Nonces used in this process, with their expiry (seconds since the epoch).
    used: Arc<Mutex<HashMap<[u8; 16], u64>>>,
}

impl fmt::Debug for Approvals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Approvals")
            .field("key", &"[REDACTED]")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A call waiting for a person: what to show them, and what [`Approvals::approve`] signs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PendingApproval {
    /// The tool, as the model named it.
    pub tool: String,
    /// Fastn's id of the tool.
    pub tool_id: String,
    /// The tenant it would run for (`None`: the space's own connection).
    pub tenant: Option<String>,
    /// The arguments exactly as they would run (a strict-mode model's `null`s dropped).
    pub arguments: Value,
}

impl PendingApproval {
    /// One line for a person: the tool and its arguments as canonical JSON.
    pub fn summary(&self) -> String {
        format!("Run `{}` with {}", fastn_auth_rules::escape(&self.tool, 64), canonical(&self.arguments))
    }
}

/// A person's approval of one call: opaque text to hand back with
/// [`BoundTools::call_approved`](crate::BoundTools::call_approved) (through a web page, a
/// form, an MCP elicitation's state).
#[derive(Clone, PartialEq, Eq)]
pub struct Receipt(String);

impl Receipt {
    /// The receipt as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receipt([REDACTED])")
    }
}

impl From<String> for Receipt {
    fn from(text: String) -> Self {
        Receipt(text)
    }
}

impl Approvals {
    /// Approvals signed with `key`: 32 secret bytes of the app's (from its secret store),
    /// the same on every replica that runs approved calls.
    pub fn new(key: [u8; 32]) -> Self {
        Approvals { key: Arc::new(key), ttl: DEFAULT_APPROVAL_TTL, store: None, used: Arc::default() }
    }

    /// Approvals signed with a random key of this process's own: for a server that both
    /// asks and runs (the MCP server's default), where a receipt never has to be checked by
    /// another replica.
    ///
    /// # Errors
    /// [`fastn_auth::ErrorKind::Config`] when the system has no randomness.
    pub fn ephemeral() -> fastn_auth::Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|err| fastn_auth::Error::config(format!("no randomness for an approval key: {err}")))?;
        Ok(Approvals::new(key))
    }

    /// How long a receipt is good for; default [`DEFAULT_APPROVAL_TTL`].
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Remembers used receipts on `store`, so that one receipt runs once across replicas.
    pub fn shared(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The receipt of the user's approval of `pending`, good for [`ttl`](Self::ttl).
    ///
    /// # Errors
    /// [`fastn_auth::ErrorKind::Config`] when the system has no randomness for its nonce.
    pub fn approve(&self, pending: &PendingApproval) -> fastn_auth::Result<Receipt> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|err| fastn_auth::Error::config(format!("no randomness for an approval: {err}")))?;
        let expires = now() + self.ttl.as_secs().max(1);
        let mac = self.mac(pending.tenant.as_deref(), &pending.tool_id, &pending.arguments, expires, &nonce);
        Ok(Receipt(format!("{expires}.{}.{}", hex(&nonce), hex(&mac))))
    }

    /// Checks `receipt` against the call about to run and marks it used: `Err` with what a
    /// model (or the log) may read when it is not this call's, expired, or used.
    pub(crate) async fn redeem(
        &self,
        receipt: &Receipt,
        tenant: Option<&str>,
        tool_id: &str,
        arguments: &Value,
    ) -> Result<(), &'static str> {
        let mut parts = receipt.0.split('.');
        let (Some(expires), Some(nonce), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the approval is not a receipt");
        };
        let (Ok(expires), Some(nonce), Some(mac)) =
            (expires.parse::<u64>(), unhex::<16>(nonce), unhex::<32>(mac))
        else {
            return Err("the approval is not a receipt");
        };
        let expected = self.mac(tenant, tool_id, arguments, expires, &nonce);
        // Compared in constant time.
        if expected.iter().zip(&mac).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
            return Err("the approval is for another call (other arguments, tool or user)");
        }
        let now = now();
        if expires <= now {
            return Err("the approval has expired");
        }
        if !self.first_use(&nonce, expires, now).await {
            return Err("the approval was used already");
        }
        Ok(())
    }

    /// Whether this is the first use of `nonce` (marking it used).
    async fn first_use(&self, nonce: &[u8; 16], expires: u64, now: u64) -> bool {
        if let Some(store) = &self.store {
            let lease = Duration::from_secs(expires - now + 1);
            let key = format!("approval:{}", hex(nonce));
            // A store that cannot say refuses the call: an approval runs at most once.
            return matches!(
                tokio::time::timeout(STORE_TIMEOUT, store.try_lock(&key, lease)).await,
                Ok(Ok(Some(_)))
            );
        }
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.retain(|_, expiry| *expiry > now);
        used.insert(*nonce, expires).is_none()
    }

    fn mac(
        &self,
        tenant: Option<&str>,
        tool_id: &str,
        arguments: &Value,
        expires: u64,
        nonce: &[u8; 16],
    ) -> [u8; 32] {
        let tenant = tenant.map_or_else(|| "\0no-tenant".to_owned(), str::to_owned);
        hmac_sha256(
            &self.key,
            &[
                b"fastn-auth approval v1\0",
                tenant.as_bytes(),
                b"\0",
                tool_id.as_bytes(),
                b"\0",
                canonical(arguments).as_bytes(),
                b"\0",
                &expires.to_be_bytes(),
                nonce,
            ],
        )
    }
}

/// `value` as canonical JSON: object keys sorted, no spaces, whatever order it came in.
pub(crate) fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|key| format!("{}:{}", Value::String(key.clone()), canonical(&map[key])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pending(arguments: Value) -> PendingApproval {
        PendingApproval {
            tool: "slack_send_message".into(),
            tool_id: "t1".into(),
            tenant: Some("acme".into()),
            arguments,
        }
    }

    #[tokio::test]
    async fn a_receipt_runs_its_own_call_once_and_nothing_else() {
        let approvals = Approvals::new([7; 32]);
        let arguments = json!({"text": "hi", "channel": "C1"});
        let receipt = approvals.approve(&pending(arguments.clone())).unwrap();
        let reordered = json!({"channel": "C1", "text": "hi"});
        let redeem = |tenant, tool, args: Value| {
            let (approvals, receipt) = (approvals.clone(), receipt.clone());
            async move { approvals.redeem(&receipt, tenant, tool, &args).await }
        };
        assert_eq!(
            redeem(Some("acme"), "t1", json!({"channel": "C2", "text": "hi"})).await,
            Err("the approval is for another call (other arguments, tool or user)")
        );
        assert!(redeem(Some("globex"), "t1", reordered.clone()).await.is_err(), "another tenant");
        assert!(redeem(Some("acme"), "t2", reordered.clone()).await.is_err(), "another tool");
        assert_eq!(redeem(Some("acme"), "t1", reordered.clone()).await, Ok(()), "key order does not matter");
        assert_eq!(redeem(Some("acme"), "t1", reordered).await, Err("the approval was used already"));
        let expired = Approvals::new([7; 32]).ttl(Duration::ZERO);
        let receipt = expired.approve(&pending(arguments.clone())).unwrap();
        // A zero ttl still lasts until the next second; one made to end now has ended.
        let (expires, rest) = receipt.as_str().split_once('.').unwrap();
        let ended = Receipt(format!("{}.{rest}", expires.parse::<u64>().unwrap() - 1));
        assert!(
            expired.redeem(&ended, Some("acme"), "t1", &arguments).await.is_err(),
            "the expiry is signed"
        );
        let forged = Approvals::new([8; 32]).approve(&pending(arguments.clone())).unwrap();
        assert!(approvals.redeem(&forged, Some("acme"), "t1", &arguments).await.is_err(), "another key");
        assert!(approvals.redeem(&Receipt("yes".into()), Some("acme"), "t1", &arguments).await.is_err());
        assert!(!format!("{receipt:?}{approvals:?}").contains("07"), "nothing secret in Debug");
    }
}
