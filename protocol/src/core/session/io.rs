//! What a [`ClientSession`](super::ClientSession) is configured with and what it asks its
//! caller to do.

use std::time::Duration;

use crate::core::backoff::BackoffPolicy;
use crate::core::handshake::HandshakeConfig;
use crate::core::lifecycle::LinkState;
use crate::message::Message;

/// How a client session behaves.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// What the `Hello` offers (version, capabilities, metadata such as `node` and `token`).
    pub handshake: HandshakeConfig,
    /// How long the socket may take to open and the handshake to finish.
    pub connect_timeout: Duration,
    /// How often to probe the peer.
    pub heartbeat_interval: Duration,
    /// Silence after which the peer is declared dead.
    pub heartbeat_timeout: Duration,
    /// Delays between attempts.
    pub backoff: BackoffPolicy,
    /// Most messages kept while the link is not up.
    pub send_buffer: usize,
}

/// Something for the caller to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a socket to the node; report `on_open` or `on_closed`.
    Open,
    /// Write this message on the socket.
    Send(Message),
    /// Close the socket (the session has already moved on).
    Close {
        /// Why, for the close frame and the logs.
        reason: String,
    },
    /// A message from the node for the application.
    Deliver(Message),
    /// The link changed state.
    State {
        /// The new state.
        state: LinkState,
        /// Why (a failure, a close), when there is one.
        reason: Option<String>,
    },
}
