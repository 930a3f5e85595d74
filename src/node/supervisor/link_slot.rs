//! The supervisor's record of one link (one connection), and of a supervised link spec that
//! outlives its connections and is restarted with backoff.

use std::collections::VecDeque;
use std::sync::Arc;

use swarm_protocol::core::backoff::Backoff;
use swarm_protocol::core::consumption::ConsumptionTracker;
use swarm_protocol::core::handshake::Handshake;
use swarm_protocol::core::heartbeat::HeartbeatTracker;
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::Message;

use super::outbound::OutboundQueue;
use crate::link::{InboundGate, LinkAddr, LinkConnector, LinkId};
use crate::node::stats::{Counters, LinkStats, RateMeter};
use crate::support::clock::Instant;

use crate::node::link_status::LinkStatus;
pub(crate) use crate::node::link_status::SpecId;

/// Where a link is in its life, with what only that phase has.
pub enum Phase {
    /// Waiting for the link to report itself open, until `deadline` (`None`: as long as it
    /// takes, a shared-memory creator waiting for its peer process).
    Connecting { deadline: Option<Instant> },
    /// Exchanging `Hello` and its answer.
    Handshaking(Handshake<Instant>),
    /// Up: data flows, and heartbeats probe the peer.
    Active(HeartbeatTracker<Instant>),
    /// Gone (a slot leaves the table when its link closes; this is what it reports meanwhile).
    Closed,
}

impl Phase {
    /// The state users see in statistics and events.
    pub fn state(&self) -> LinkState {
        match self {
            Phase::Connecting { .. } => LinkState::Connecting,
            Phase::Handshaking(_) => LinkState::Handshaking,
            Phase::Active(_) => LinkState::Active,
            Phase::Closed => LinkState::Closed,
        }
    }

    /// Whether data may be handed to the link.
    pub fn can_send(&self) -> bool {
        self.is_active()
    }

    /// Whether the link has not reported itself open yet.
    pub fn is_connecting(&self) -> bool {
        matches!(self, Phase::Connecting { .. })
    }

    /// Whether the handshake is done (the state users see as `Active`).
    pub fn is_active(&self) -> bool {
        matches!(self, Phase::Active(_))
    }

    /// The heartbeat tracker of an active link.
    pub fn heartbeat_mut(&mut self) -> Option<&mut HeartbeatTracker<Instant>> {
        match self {
            Phase::Active(heartbeat) => Some(heartbeat),
            _ => None,
        }
    }

    /// The handshake of a handshaking link.
    pub fn handshake_mut(&mut self) -> Option<&mut Handshake<Instant>> {
        match self {
            Phase::Handshaking(handshake) => Some(handshake),
            _ => None,
        }
    }
}

/// One connection as the supervisor sees it.
pub struct LinkSlot {
    pub id: LinkId,
    pub transport: &'static str,
    /// Address until the handshake names the peer node.
    pub peer: String,
    pub phase: Phase,
    pub handle: Option<LinkAddr>,
    pub queue: OutboundQueue<Arc<Message>>,
    /// Estimated sizes of the data messages handed to the link and not yet reported written,
    /// oldest first (links write in order); its length is the in-flight window in use.
    pub in_flight: VecDeque<usize>,
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
    /// The peer is a bus (NATS): every broadcast goes to it, and it finds the listeners.
    pub bus: bool,
    /// Largest message sent on this link: this node's limit, lowered to the peer's once the
    /// handshake told it.
    pub max_message_size: usize,
    /// Deepest value sent on this link: the protocol's limit, or less if the peer said so.
    pub max_depth: usize,
    /// When the link entered its current phase.
    pub since: Instant,
    /// Its message rates, measured at snapshots.
    pub rates: RateMeter,
    /// The rates of the last snapshot.
    pub last_rates: (f64, f64),
    /// The link's gate to the inbound shortcut (from `LinkOpened`), open while active.
    pub gate: Option<Arc<InboundGate>>,
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
            phase: Phase::Connecting { deadline: None },
            handle: None,
            queue,
            in_flight: VecDeque::new(),
            consumption: ConsumptionTracker::new(unread_limit as u64),
            counters: Counters::default(),
            spec: None,
            authenticated: false,
            bus_nodes: std::collections::BTreeSet::new(),
            bus: false,
            max_message_size: usize::MAX,
            max_depth: swarm_protocol::value::MAX_DEPTH,
            since: Instant::now(),
            rates: RateMeter::default(),
            last_rates: (0.0, 0.0),
            gate: None,
        }
    }

    /// Moves the link to `phase`, from now; the inbound shortcut is open only while active.
    pub fn enter(&mut self, phase: Phase) {
        if let Some(gate) = &self.gate {
            gate.set_open(phase.is_active());
        }
        self.phase = phase;
        self.since = Instant::now();
    }

    /// Adds what the shortcut delivered since the last call to the link's counters and to
    /// the node's (`node`).
    pub fn fold_shortcut_counts(&mut self, node: &mut Counters) {
        let Some(gate) = &self.gate else {
            return;
        };
        let (messages, bytes) = gate.take_counts();
        for counters in [&mut self.counters, node] {
            counters.messages_in += messages;
            counters.bytes_in += bytes;
        }
    }

    /// Ends a rate window at `now` if it is long enough (see [`RateMeter`]).
    pub fn sample_rates(&mut self, now: Instant) {
        let c = &self.counters;
        self.last_rates = self.rates.sample(now, c.messages_in, c.messages_out);
    }

    /// The earliest instant at which this link needs attention.
    pub fn next_deadline(&self, slow_consumer_timeout: std::time::Duration) -> Option<Instant> {
        match &self.phase {
            Phase::Connecting { deadline } => *deadline,
            Phase::Handshaking(handshake) => handshake.next_deadline(),
            Phase::Active(heartbeat) => swarm_protocol::core::earliest(
                Some(heartbeat.next_deadline()),
                self.consumption.deadline(slow_consumer_timeout),
            ),
            Phase::Closed => None,
        }
    }

    /// A data message of estimated `size` was handed to the link.
    pub fn handed(&mut self, size: usize) {
        self.consumption.on_handed(size as u64);
        self.in_flight.push_back(size);
        self.counters.record_out(size);
    }

    /// The link reported `count` data messages of `written` bytes written: frees that much of
    /// the window and puts the encoded size in place of the estimate; returns the estimate.
    pub fn written(&mut self, count: usize, written: usize) -> u64 {
        let take = count.min(self.in_flight.len());
        let estimated: u64 = self.in_flight.drain(..take).map(|s| s as u64).sum();
        self.counters.correct_out(estimated, written as u64);
        estimated
    }

    pub fn stats(&self, reconnects: u64, last_error: Option<String>) -> LinkStats {
        LinkStats {
            last_error,
            interests: 0,
            link: self.id,
            transport: self.transport,
            peer: self.peer.clone(),
            state: self.phase.state(),
            counters: self.counters,
            reconnects,
            queue_depth: self.queue.len(),
            rtt: match &self.phase {
                Phase::Active(heartbeat) => heartbeat.rtt().map(|r| r.srtt),
                _ => None,
            },
            in_state_for: self.since.elapsed(),
            messages_in_per_sec: self.last_rates.0,
            messages_out_per_sec: self.last_rates.1,
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
    /// The last connection's id, for the stats of the link between connections.
    pub last_link: Option<LinkId>,
    /// What the link's handles see.
    pub status: tokio::sync::watch::Sender<LinkStatus>,
    /// Since when the link has no connection (meaningful while `current` is `None`).
    pub down_since: Instant,
}

impl SupervisedLink {
    /// Publishes a change of the link's status to its handles.
    pub fn publish(&self, change: impl FnOnce(&mut LinkStatus)) {
        self.status.send_modify(change);
    }

    /// The statistics of the link between two connections.
    pub fn backing_off_stats(&self) -> LinkStats {
        LinkStats {
            link: self.last_link.unwrap_or(LinkId(0)),
            transport: self.connector.transport(),
            peer: self.connector.peer(),
            state: swarm_protocol::core::lifecycle::LinkState::BackingOff,
            counters: Counters::default(),
            reconnects: self.reconnects,
            queue_depth: 0,
            rtt: None,
            last_error: self.last_failure.clone(),
            interests: 0,
            in_state_for: self.down_since.elapsed(),
            messages_in_per_sec: 0.0,
            messages_out_per_sec: 0.0,
        }
    }
}
