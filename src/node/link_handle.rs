//! [`LinkHandle`]: what [`Swarm::connect`](crate::Swarm::connect) returns — the state of one
//! supervised link as it connects, runs, backs off and reconnects, a wait until it is up, its
//! statistics, and a way to close it for good.
//!
//! The supervisor publishes each change of a link's [`LinkStatus`] on a watch channel, so
//! reading the state takes no message to the node and `ready()` wakes on the change itself.
//! Dropping the handle leaves the link running; [`LinkHandle::close`] ends it.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use swarm_protocol::core::lifecycle::LinkState;
use tokio::sync::watch;

use crate::error::TransportError;
use crate::link::LinkConnector;
use crate::link::LinkId;
use crate::node::link_status::{next_spec, LinkStatus, SpecId};
use crate::node::stats::LinkStats;
use crate::node::supervisor::commands::{CloseLink, CloseSupervised, Connect, GetLinkStats};
use crate::node::swarm::Swarm;

impl Swarm {
    /// Closes the connection `link` (an id from [`Swarm::stats`] or [`Swarm::snapshot`]):
    /// the peer is told `Goodbye` with `reason`, and the socket closes with 1001. A supervised
    /// link's connection is restarted with backoff, as after any loss (end it for good with
    /// [`LinkHandle::close`]). Resolves to whether the link was there.
    pub async fn close_link(
        &self,
        link: LinkId,
        reason: impl Into<String>,
    ) -> Result<bool, TransportError> {
        let reason = reason.into();
        self.supervisor()
            .send(CloseLink { link, reason })
            .await
            .map_err(|_| TransportError::NodeStopped)
    }

    /// Adds a supervised link: connected now, and reconnected with backoff whenever it drops
    /// or an attempt fails for a reason that may pass (the server not up yet, a timeout).
    /// A link that can never succeed — an address that does not parse, `wss://` without the
    /// `tls` feature, a server answering 404 (no route at that path) or 401/403 (the token),
    /// a handshake refused for its credential — is not retried: the handle's
    /// [`ready`](LinkHandle::ready) fails with the reason, and the log says it at WARN.
    ///
    /// The returned handle tells the link's state; dropping it leaves the link running.
    pub fn connect(&self, connector: impl LinkConnector + std::marker::Send) -> LinkHandle {
        let spec = next_spec();
        if let Err(error) = connector.check() {
            tracing::warn!(node = %self.node_name(), peer = %connector.peer(), %error, "link not started");
            let (_, status) = watch::channel(LinkStatus::failed(error));
            return LinkHandle::new(spec, status, self.clone());
        }
        let (status, watching) = watch::channel(LinkStatus::connecting());
        self.supervisor().do_send(Connect {
            connector: Box::new(connector),
            spec,
            status,
        });
        LinkHandle::new(spec, watching, self.clone())
    }
}

/// A supervised link (see [`Swarm::connect`]).
#[derive(Debug, Clone)]
pub struct LinkHandle {
    spec: SpecId,
    status: watch::Receiver<LinkStatus>,
    swarm: Swarm,
}

impl LinkHandle {
    fn new(spec: SpecId, status: watch::Receiver<LinkStatus>, swarm: Swarm) -> Self {
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
    /// server, a refused handshake), when it is closed, or when the node stops. On
    /// `Timeout`, [`LinkHandle::status`] has the last error of the attempts meanwhile.
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
