//! The supervisor's record of one link (one connection), and of a supervised link spec that
//! outlives its connections and is restarted with backoff.

use std::sync::Arc;

use swarm_protocol::core::backoff::Backoff;
use swarm_protocol::core::consumption::ConsumptionTracker;
use swarm_protocol::core::handshake::{Handshake, Negotiated};
use swarm_protocol::core::heartbeat::HeartbeatTracker;
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::Message;

use super::outbound::OutboundQueue;
use crate::link::{LinkConnector, LinkHandle, LinkId};
use crate::node::stats::{Counters, LinkStats};
use crate::support::clock::Instant;

/// Identifies a supervised (restartable) link across its connections.
pub type SpecId = u64;

/// One connection as the supervisor sees it.
pub struct LinkSlot {
    pub id: LinkId,
    pub transport: &'static str,
    /// Address until the handshake names the peer node.
    pub peer: String,
    pub state: LinkState,
    pub handle: Option<LinkHandle>,
    /// Deadline of the `Connecting` state.
    pub connect_deadline: Option<Instant>,
    pub handshake: Option<Handshake<Instant>>,
    pub negotiated: Option<Negotiated>,
    pub heartbeat: Option<HeartbeatTracker<Instant>>,
    pub queue: OutboundQueue<Arc<Message>>,
    pub in_flight: usize,
    /// How far the peer has read; bounds the unread bytes on the link.
    pub consumption: ConsumptionTracker<Instant>,
    pub counters: Counters,
    pub spec: Option<SpecId>,
    /// The transport authenticated the peer; otherwise its `Hello` must pass the authenticator.
    pub authenticated: bool,
    /// Entered while the supervisor handles this link's traffic, so every event logged about
    /// it carries node, link, transport and peer.
    pub span: tracing::Span,
    /// Nodes a bus link reported up and not down: each gets its `NodeDown` when the link is
    /// lost, so that up and down events always pair.
    pub bus_nodes: std::collections::BTreeSet<String>,
    /// Largest message sent on this link: this node's limit, lowered to the peer's once the
    /// handshake told it.
    pub max_message_size: usize,
    /// Deepest value sent on this link: the protocol's limit, or less if the peer said so.
    pub max_depth: usize,
}

impl LinkSlot {
    pub fn new(
        node: &str,
        id: LinkId,
        transport: &'static str,
        peer: String,
        queue: OutboundQueue<Arc<Message>>,
        unread_limit: usize,
    ) -> Self {
        let span = tracing::info_span!("link", node, link = %id, transport, peer = %peer);
        LinkSlot {
            span,
            id,
            transport,
            peer,
            state: LinkState::Connecting,
            handle: None,
            connect_deadline: None,
            handshake: None,
            negotiated: None,
            heartbeat: None,
            queue,
            in_flight: 0,
            consumption: ConsumptionTracker::new(unread_limit as u64),
            counters: Counters::default(),
            spec: None,
            authenticated: false,
            bus_nodes: std::collections::BTreeSet::new(),
            max_message_size: usize::MAX,
            max_depth: swarm_protocol::value::MAX_DEPTH,
        }
    }

    /// The earliest instant at which this link needs attention.
    pub fn next_deadline(&self, slow_consumer_timeout: std::time::Duration) -> Option<Instant> {
        match self.state {
            LinkState::Connecting => self.connect_deadline,
            LinkState::Handshaking => self.handshake.as_ref().and_then(Handshake::next_deadline),
            LinkState::Active | LinkState::Draining => swarm_protocol::core::earliest(
                self.heartbeat.as_ref().map(HeartbeatTracker::next_deadline),
                self.consumption.deadline(slow_consumer_timeout),
            ),
            LinkState::Closed => None,
        }
    }

    pub fn stats(&self, reconnects: u64) -> LinkStats {
        LinkStats {
            link: self.id,
            transport: self.transport,
            peer: self.peer.clone(),
            state: self.state,
            counters: self.counters,
            reconnects,
            queue_depth: self.queue.len(),
            rtt: self
                .heartbeat
                .as_ref()
                .and_then(HeartbeatTracker::rtt)
                .map(|r| r.srtt),
        }
    }
}

/// A link the supervisor keeps alive: its connector, backoff and current connection.
pub struct SupervisedLink {
    pub connector: Box<dyn LinkConnector + Send>,
    pub backoff: Backoff,
    pub current: Option<LinkId>,
    pub retry_at: Option<Instant>,
    pub reconnects: u64,
    pub ever_up: bool,
    /// Why the last connection attempt failed: a new reason is logged at WARN once, the same
    /// reason again only at DEBUG (a link that retries every 100 ms must not flood the log).
    pub last_failure: Option<String>,
}
