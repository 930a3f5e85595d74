//! [`Swarm::wait_for`]: resolves when this node can reach an agent — registered here, or
//! announced by a link — so code need not poll `locate` in a sleep loop.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::TransportError;
use crate::node::location::AgentLocation;
use crate::node::supervisor::commands::WaitRoute;
use crate::node::swarm::Swarm;

impl Swarm {
    /// Waits until a route to `agent` exists and resolves to where it is; `.timeout(d)` bounds
    /// the wait (default: the node's `request_timeout`), after which it fails with
    /// [`TransportError::Timeout`].
    ///
    /// ```no_run
    /// # async fn run(swarm: swarm_transport::Swarm) -> Result<(), swarm_transport::TransportError> {
    /// swarm.wait_for("trainer").timeout(std::time::Duration::from_secs(5)).await?;
    /// # Ok(()) }
    /// ```
    pub fn wait_for(&self, agent: impl Into<String>) -> WaitFor<'_> {
        WaitFor {
            swarm: self,
            agent: agent.into(),
            timeout: None,
        }
    }
}

/// A wait for a route (see [`Swarm::wait_for`]); `.await` it.
#[must_use = "a wait does nothing until awaited"]
#[derive(Debug)]
pub struct WaitFor<'a> {
    swarm: &'a Swarm,
    agent: String,
    timeout: Option<Duration>,
}

impl WaitFor<'_> {
    /// Gives up after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<'a> IntoFuture for WaitFor<'a> {
    type Output = Result<AgentLocation, TransportError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let limit = self.timeout.unwrap_or(self.swarm.config().request_timeout);
            let (reply, location) = oneshot::channel();
            self.swarm.supervisor().do_send(WaitRoute {
                agent: self.agent,
                reply,
            });
            match actix::clock::timeout(limit, location).await {
                Ok(Ok(location)) => Ok(location),
                Ok(Err(_)) => Err(TransportError::NodeStopped),
                Err(_) => Err(TransportError::Timeout),
            }
        })
    }
}
