//! How a page or worker connects: format, credentials, timers and bounds.

use std::time::Duration;

use swarm_protocol::core::backoff::BackoffPolicy;
use swarm_protocol::WireFormat;

/// The body format of the WebSocket (its subprotocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// MessagePack in binary frames (`swarm.v1.msgpack`): compact, bytes stay bytes.
    #[default]
    MessagePack,
    /// JSON text frames (`swarm.v1.json`): readable in the browser's network tab.
    Json,
}

impl Format {
    pub(crate) fn wire(self) -> WireFormat {
        match self {
            Format::MessagePack => WireFormat::MessagePack,
            Format::Json => WireFormat::Json,
        }
    }
}

/// Options of [`WebSwarm::connect`](crate::WebSwarm::connect).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// This page's node name; a random `page-…` name when `None`.
    pub name: Option<String>,
    /// Body format.
    pub format: Format,
    /// Shared token, sent in the `Hello` metadata (`token`).
    pub token: Option<String>,
    /// Deadline of a request unless its call says otherwise.
    pub request_timeout: Duration,
    /// Socket open plus handshake.
    pub connect_timeout: Duration,
    /// How often the node is probed.
    pub heartbeat_interval: Duration,
    /// Silence (while the page's timers run) after which the node counts as dead.
    pub heartbeat_timeout: Duration,
    /// Delays between reconnect attempts (jittered); `max_attempts: None` retries for ever.
    pub backoff: BackoffPolicy,
    /// Messages kept while disconnected; past it sends are refused and counted.
    pub send_buffer: usize,
    /// Requests awaiting an answer at once; past it requests are refused.
    pub max_pending: usize,
    /// Largest frame accepted from the node.
    pub max_message_size: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            name: None,
            format: Format::MessagePack,
            token: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(20),
            backoff: BackoffPolicy::new(
                Duration::from_millis(100),
                Duration::from_secs(10),
                2,
                None,
            ),
            send_buffer: 1024,
            max_pending: 4096,
            max_message_size: swarm_protocol::codec::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

impl ConnectOptions {
    /// Sets the node name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the body format.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Sets the token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}
