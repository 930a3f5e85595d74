//! [`LinkHandle`]: what [`Swarm::connect`](crate::Swarm::connect) returns — the state of one
//! supervised link as it connects, runs, backs off and reconnects, a wait until it is up, its
//! statistics, and a way to close it for good.
//!
//! The supervisor publishes each change of a link's [`LinkStatus`] on a watch channel, so
//! reading the state takes no message to the node and `ready()` wakes on the change itself.
//! Dropping the handle leaves the link running; [`LinkHandle::close`] ends it.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use swarm_protocol::core::lifecycle::LinkState;
use tokio::sync::watch;

use crate::error::TransportError;
use crate::link::LinkId;
use crate::node::stats::LinkStats;
use crate::node::supervisor::commands::{CloseSupervised, GetLinkStats};
use crate::node::swarm::Swarm;

/// Identifies a supervised (restartable) link across its connections.
pub(crate) type SpecId = u64;

/// A new spec id, unique in the process.
pub(crate) fn next_spec() -> SpecId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // Relaxed: a counter handing out distinct numbers; nothing is published through it.
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Where a supervised link is, as its handle sees it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct LinkStatus {
    /// Connecting, handshaking, active, backing off between attempts, or closed for good.
    pub state: LinkState,
    /// The current (or last) connection of the link.
    pub link: Option<LinkId>,
    /// Why the last attempt failed or the last connection dropped; cleared when it is up.
    pub last_error: Option<String>,
    /// Set when the link is closed for good because it can never succeed (a bad address, a
    /// route not mounted there, a refused credential) or gave up reconnecting; `None` once
    /// closed means it was closed on purpose (by its handle or the node's shutdown).
    pub failure: Option<TransportError>,
}

impl LinkStatus {
    /// A link about to make its first attempt.
    pub(crate) fn connecting() -> Self {
        LinkStatus {
            state: LinkState::Connecting,
            link: None,
            last_error: None,
            failure: None,
        }
    }

    /// A link that will never connect, because of `failure`.
    pub(crate) fn failed(failure: TransportError) -> Self {
        LinkStatus {
            state: LinkState::Closed,
            link: None,
            last_error: Some(failure.to_string()),
            failure: Some(failure),
        }
    }
}

/// A supervised link (see [`Swarm::connect`](crate::Swarm::connect)).
#[derive(Debug, Clone)]
pub struct LinkHandle {
    spec: SpecId,
    status: watch::Receiver<LinkStatus>,
    swarm: Swarm,
}

impl LinkHandle {
    pub(crate) fn new(spec: SpecId, status: watch::Receiver<LinkStatus>, swarm: Swarm) -> Self {
        LinkHandle {
            spec,
            status,
            swarm,
        }
    }

    /// The link's state now.
    pub fn state(&self) -> LinkState {
        self.status.borrow().state
    }

    /// The link's state now, with its last error and, once closed, why.
    pub fn status(&self) -> LinkStatus {
        self.status.borrow().clone()
    }

    /// Waits until the link is active; `.timeout(d)` bounds the wait (default: the node's
    /// `request_timeout`). Transient failures (a server not up yet, a dropped connection) are
    /// retried with backoff meanwhile; the wait fails at once when the link can never succeed
    /// (the error says why: a bad URL, a missing feature, HTTP 404 or 401/403 from the
    /// server, a refused handshake), when it is closed, or when the node stops.
    pub fn ready(&self) -> Ready<'_> {
        Ready {
            handle: self,
            timeout: None,
        }
    }

    /// The statistics of the link's current connection, or of the link between connections
    /// (state `BackingOff`, with its last error); `None` once it is closed.
    pub async fn stats(&self) -> Result<Option<LinkStats>, TransportError> {
        self.swarm
            .supervisor()
            .send(GetLinkStats(self.spec))
            .await
            .map_err(|_| TransportError::NodeStopped)
    }

    /// Closes the link for good: the peer is told `Goodbye`, and it is not reconnected.
    pub fn close(&self) {
        self.swarm.supervisor().do_send(CloseSupervised(self.spec));
    }
}

/// A wait for a link to be up (see [`LinkHandle::ready`]); `.await` it.
#[must_use = "a wait does nothing until awaited"]
#[derive(Debug)]
pub struct Ready<'a> {
    handle: &'a LinkHandle,
    timeout: Option<Duration>,
}

impl Ready<'_> {
    /// Gives up after `timeout` with [`TransportError::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<'a> IntoFuture for Ready<'a> {
    type Output = Result<(), TransportError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let limit = self
                .timeout
                .unwrap_or(self.handle.swarm.config().request_timeout);
            let mut status = self.handle.status.clone();
            let settled = status.wait_for(|s| s.state == LinkState::Active || s.state.is_closed());
            let outcome = match actix::clock::timeout(limit, settled).await {
                Err(_) => return Err(TransportError::Timeout),
                Ok(Err(_)) => return Err(TransportError::NodeStopped),
                Ok(Ok(status)) => status.clone(),
            };
            match outcome {
                LinkStatus {
                    state: LinkState::Active,
                    ..
                } => Ok(()),
                LinkStatus {
                    failure: Some(failure),
                    ..
                } => Err(failure),
                _ => Err(TransportError::ConnectionError(
                    "the link was closed before it came up".into(),
                )),
            }
        })
    }
}
