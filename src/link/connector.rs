//! Connectors: how a node starts the outbound side of a link, on the first connect and on
//! every reconnect.

use std::sync::Arc;

use super::port::LinkPort;
use crate::config::TransportConfig;

/// What a connector needs to start one link.
#[derive(Debug, Clone)]
pub struct LinkContext {
    /// Where the new link reports (it carries the link's id: [`LinkPort::link`]).
    pub port: LinkPort,
    /// The node's configuration (limits, timeouts).
    pub config: Arc<TransportConfig>,
    /// The node's name (bus links announce the node under it).
    pub node: String,
}

/// Starts outbound links; the node calls it on the first connect and on every reconnect (after
/// the backoff delay). One connector per supervised link.
pub trait LinkConnector: 'static {
    /// Transport name for stats and events (`"in_process"`, `"websocket"`...).
    fn transport(&self) -> &'static str;

    /// The peer's address or description, for logs and events (no credentials).
    fn peer(&self) -> String;

    /// How long the link may take to open ([`LinkPort::opened`]) before the node gives up and
    /// reconnects; `None` waits as long as it takes (a shared-memory creator waiting for its
    /// peer process). Default: the node's connection timeout.
    fn connect_timeout(&self, config: &TransportConfig) -> Option<std::time::Duration> {
        Some(config.connection_timeout())
    }

    /// Checks, before the first attempt, what no retry can fix (an address that does not parse,
    /// a transport feature not compiled in); the error says what to change. Default: nothing
    /// to check.
    fn check(&self) -> Result<(), crate::error::TransportError> {
        Ok(())
    }

    /// Starts a link actor reporting to `ctx.port`. The actor must eventually report either
    /// [`LinkPort::opened`] (role `Initiator`) or [`LinkPort::closed`]; the node closes it if
    /// neither happens (and the handshake does not finish) within the connection timeout.
    fn connect(&mut self, ctx: LinkContext);
}
