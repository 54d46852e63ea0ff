//! The stream of [`ConnectionEvent`]s a subscriber reads: a broadcast channel's receiver,
//! so a slow subscriber never holds a call up, and learns how many events it missed.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::broadcast;

use super::ConnectionEvent;

/// How many events a subscriber may be behind before it misses the oldest.
pub(crate) const CAPACITY: usize = 1024;

/// A subscriber fell more than the channel's capacity (1,024 events) behind: `missed`
/// events were dropped for it, the newest are next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventsLagged {
    /// How many events this subscriber did not receive.
    pub missed: u64,
}

impl fmt::Display for EventsLagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} connection events were missed: the subscriber fell behind", self.missed)
    }
}

impl std::error::Error for EventsLagged {}

type Next = Pin<Box<dyn Future<Output = (Option<Result<ConnectionEvent, EventsLagged>>, Receiver)> + Send>>;
type Receiver = broadcast::Receiver<ConnectionEvent>;

/// The events of a client's connections from when it was made
/// ([`FastnAuth::events`](crate::FastnAuth::events)): a [`Stream`] of each change, or
/// [`EventsLagged`] when this subscriber fell behind. Ends when every clone of the client
/// is dropped.
pub struct ConnectionEvents {
    next: Next,
}

impl fmt::Debug for ConnectionEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionEvents").finish_non_exhaustive()
    }
}

impl ConnectionEvents {
    pub(crate) fn new(receiver: Receiver) -> Self {
        ConnectionEvents { next: Box::pin(receive(receiver)) }
    }
}

async fn receive(mut receiver: Receiver) -> (Option<Result<ConnectionEvent, EventsLagged>>, Receiver) {
    let item = match receiver.recv().await {
        Ok(event) => Some(Ok(event)),
        Err(broadcast::error::RecvError::Lagged(missed)) => Some(Err(EventsLagged { missed })),
        Err(broadcast::error::RecvError::Closed) => None,
    };
    (item, receiver)
}

impl Stream for ConnectionEvents {
    type Item = Result<ConnectionEvent, EventsLagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (item, receiver) = std::task::ready!(self.next.as_mut().poll(cx));
        self.next = Box::pin(receive(receiver));
        Poll::Ready(item)
    }
}
