//! Node configuration: every limit and timer of the transport, with safe documented defaults.
//!
//! Keeps the fields of ruv-swarm-transport's `TransportConfig` (`max_message_size`,
//! `connection_timeout_ms`, `retry_attempts`, `enable_compression`, `compression_threshold`)
//! and adds heartbeat, request-timeout, backoff and queue bounds.

use std::time::Duration;

use swarm_protocol::codec::{CodecConfig, DEFAULT_COMPRESSION_THRESHOLD, DEFAULT_MAX_MESSAGE_SIZE};
use swarm_protocol::core::backoff::BackoffPolicy;

use crate::auth::{AuthHook, Authenticator};

/// Configuration of one node (one supervisor).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Name of this node in handshakes and events. Default: `node-<random hex>`.
    pub node_name: Option<String>,
    /// Largest message accepted or sent, encoded or decompressed. Default 10 MiB.
    pub max_message_size: usize,
    /// Time for a link to connect and complete its handshake. Default 5000 ms.
    pub connection_timeout_ms: u64,
    /// Consecutive failed connection attempts after which a link gives up; `0` = never give
    /// up (the default: swarm links should heal).
    pub retry_attempts: u32,
    /// Offer gzip compression to peers (used only when both sides announce it). Default on.
    pub enable_compression: bool,
    /// Bodies above this many bytes are compressed when compression is agreed. Default 1 KiB.
    pub compression_threshold: usize,
    /// How often an idle link is probed. Default 1 s.
    pub heartbeat_interval: Duration,
    /// A link silent this long is declared dead and restarted. Default 5 s.
    pub heartbeat_timeout: Duration,
    /// Deadline of a request unless the caller sets one. Default 30 s.
    pub request_timeout: Duration,
    /// Reconnect backoff: first delay bound 100 ms, ×2 per attempt, cap 30 s, full jitter.
    /// Its attempt limit is taken from `retry_attempts`.
    pub backoff: BackoffPolicy,
    /// Most data messages queued per link before `Full`. Default 4096.
    pub link_queue_messages: usize,
    /// Most bytes (estimated) queued per link before `Full`. Default 64 MiB.
    pub link_queue_bytes: usize,
    /// Data messages handed to a link actor before it reports them written. Default 256.
    pub link_window: usize,
    /// Most data bytes handed to a link and not yet proven read by the peer (a heartbeat echo
    /// proves everything sent before its probe). Past it, data waits in the link's queue.
    /// Default 64 MiB.
    pub link_unread_bytes: usize,
    /// Hard bound on the bytes a socket link may have received that the supervisor has not
    /// handled yet; a peer past it is disconnected (WebSocket 1008). Reading stops long before
    /// (`link_read_ahead_bytes`), so only what one socket read brings can get here. At least
    /// `max_message_size`. Default 64 MiB.
    pub link_inbound_bytes: usize,
    /// A socket link stops reading from its socket while this many received bytes wait for
    /// the node (TCP backpressure on the sender: its writes block instead of the node's memory
    /// growing), and reads on as the node catches up. Also what keeps one busy peer from
    /// queueing more than this ahead of another peer's heartbeats. Default 1 MiB.
    pub link_read_ahead_bytes: usize,
    /// How long a closing link waits for its peer to take the close frame and answer it; past
    /// it the connection is shut down (reset), whether or not the peer reads. Default 2 s.
    pub close_timeout: Duration,
    /// How long [`Swarm::shutdown`](crate::Swarm::shutdown) waits for the links to hand out
    /// what is queued on them before it says goodbye anyway (what is left is dropped and
    /// counted). Default 5 s.
    pub drain_timeout: Duration,
    /// A link that stays at `link_unread_bytes` this long is closed as a slow consumer.
    /// Default 10 s.
    pub slow_consumer_timeout: Duration,
    /// Most requests pending on this node. Default 65 536.
    pub max_pending_requests: usize,
    /// Broadcast/event ids remembered for de-duplication. Default 16 384.
    pub dedup_window: usize,
    /// Most messages from this node's handles waiting in the supervisor's mailbox; past it
    /// sends report `Full`. Default 65 536.
    pub max_backlog: usize,
    /// Most deliveries one local agent's mailbox holds (queued and not yet dropped by the
    /// agent); past it local senders get `Full` and requests from links an error response.
    /// Default 65 536.
    pub agent_mailbox: usize,
    /// Most WebSocket sessions this node serves at once; past it the upgrade is refused with
    /// HTTP 503. Default 10 000.
    pub max_sessions: usize,
    /// Checks peers that connect to this node (WebSocket upgrade and `Hello`). Default: none
    /// (every peer is accepted).
    pub authenticator: Option<AuthHook>,
    /// Links hand responses to this node's requests, and requests and events for its local
    /// agents, straight to their destination instead of through the supervisor (one actor
    /// hop less per message; order per link is kept either way). Default on; off only to
    /// measure what it saves.
    pub inbound_shortcut: bool,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            node_name: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            connection_timeout_ms: 5000,
            retry_attempts: 0,
            enable_compression: true,
            compression_threshold: DEFAULT_COMPRESSION_THRESHOLD,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            backoff: BackoffPolicy::default(),
            link_queue_messages: 4096,
            link_queue_bytes: 64 * 1024 * 1024,
            link_window: 256,
            link_unread_bytes: 64 * 1024 * 1024,
            slow_consumer_timeout: Duration::from_secs(10),
            link_inbound_bytes: 64 * 1024 * 1024,
            link_read_ahead_bytes: 1024 * 1024,
            close_timeout: Duration::from_secs(2),
            drain_timeout: Duration::from_secs(5),
            max_pending_requests: 65_536,
            dedup_window: 16_384,
            max_backlog: 65_536,
            agent_mailbox: 65_536,
            authenticator: None,
            max_sessions: 10_000,
            inbound_shortcut: true,
        }
    }
}

impl TransportConfig {
    /// Sets the node name.
    pub fn with_node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = Some(name.into());
        self
    }

    /// Sets the heartbeat interval and the silence after which a link is dead.
    pub fn with_heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
        self
    }

    /// Sets the default request deadline.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the connect + handshake timeout.
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets the reconnect backoff (its attempt limit is ignored; see `retry_attempts`).
    pub fn with_backoff(mut self, backoff: BackoffPolicy) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets how many consecutive failed attempts a link makes before giving up (0 = never).
    pub fn with_retry_attempts(mut self, attempts: u32) -> Self {
        self.retry_attempts = attempts;
        self
    }

    /// Sets the per-link queue bounds.
    pub fn with_link_queue(mut self, messages: usize, bytes: usize) -> Self {
        self.link_queue_messages = messages.max(1);
        self.link_queue_bytes = bytes.max(1);
        self
    }

    /// Sets how many unread bytes a link may hold and how long it may stay full.
    pub fn with_slow_consumer(mut self, unread_bytes: usize, timeout: Duration) -> Self {
        self.link_unread_bytes = unread_bytes.max(1);
        self.slow_consumer_timeout = timeout;
        self
    }

    /// Sets how many received bytes may wait for the supervisor per socket link.
    pub fn with_link_inbound_bytes(mut self, bytes: usize) -> Self {
        self.link_inbound_bytes = bytes.max(1);
        self
    }

    /// Sets how many received bytes a socket link lets wait for the node before it stops
    /// reading its socket.
    pub fn with_link_read_ahead_bytes(mut self, bytes: usize) -> Self {
        self.link_read_ahead_bytes = bytes.max(1);
        self
    }

    /// Sets how long a closing link waits for its peer before the connection is shut down.
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets how long a shutdown waits for queued messages to be handed to the links.
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Sets the number of data messages in flight to a link actor.
    pub fn with_link_window(mut self, window: usize) -> Self {
        self.link_window = window.max(1);
        self
    }

    /// Sets how many messages may wait in the supervisor's mailbox.
    pub fn with_max_backlog(mut self, max: usize) -> Self {
        self.max_backlog = max.max(1);
        self
    }

    /// Sets how many deliveries each local agent's mailbox holds.
    pub fn with_agent_mailbox(mut self, deliveries: usize) -> Self {
        self.agent_mailbox = deliveries.max(1);
        self
    }

    /// Sets how many WebSocket sessions this node serves at once.
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// Requires peers that connect to this node to pass `auth`.
    pub fn with_authenticator(mut self, auth: impl Authenticator) -> Self {
        self.authenticator = Some(AuthHook::new(auth));
        self
    }

    /// Sets the message size limit.
    pub fn with_max_message_size(mut self, max: usize) -> Self {
        self.max_message_size = max;
        self
    }

    /// Sets compression on/off and its threshold.
    pub fn with_compression(mut self, enabled: bool, threshold: usize) -> Self {
        self.enable_compression = enabled;
        self.compression_threshold = threshold;
        self
    }

    /// Sets whether links deliver through the inbound shortcut (see
    /// [`TransportConfig::inbound_shortcut`]).
    pub fn with_inbound_shortcut(mut self, enabled: bool) -> Self {
        self.inbound_shortcut = enabled;
        self
    }

    /// The connect + handshake timeout as a `Duration`.
    pub fn connection_timeout(&self) -> Duration {
        Duration::from_millis(self.connection_timeout_ms)
    }

    /// The backoff policy with the attempt limit from `retry_attempts`.
    pub fn effective_backoff(&self) -> BackoffPolicy {
        let mut policy = self.backoff;
        policy.max_attempts = (self.retry_attempts > 0).then_some(self.retry_attempts);
        policy
    }

    /// The codec settings links start from (compression is switched on per link once agreed).
    pub fn codec_config(&self) -> CodecConfig {
        CodecConfig::default()
            .with_max_message_size(self.max_message_size)
            .with_compression(false, self.compression_threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_attempts_become_the_backoff_limit() {
        let c = TransportConfig::default();
        assert_eq!(c.effective_backoff().max_attempts, None);
        assert_eq!(
            c.with_retry_attempts(3).effective_backoff().max_attempts,
            Some(3)
        );
    }
}
