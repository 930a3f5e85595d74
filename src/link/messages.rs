//! The messages of the link contract: what a link tells its node through its
//! [`LinkPort`](super::LinkPort), and what the node sends the link through its [`LinkAddr`].

use std::fmt;
use std::sync::Arc;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Recipient};
use swarm_protocol::core::handshake::Role;
use swarm_protocol::Message;

use super::gauge::InboundTicket;
use super::id::LinkId;
use super::machinery::recycled::Recycled;
use super::shortcut::{InboundGate, QueuedAtNode};
use crate::support::delivered_message::DeliveredMessage;

/// Which queue a message travels in: control (handshake, heartbeats, announcements) is never
/// queued behind data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Handshake, heartbeat, routing control: sent ahead of any data.
    Control,
    /// Everything else; counted against the link window and acknowledged with [`LinkFlushed`].
    Data,
}

/// How the node reaches a link actor.
#[derive(Clone)]
pub struct LinkAddr {
    /// Where outbound messages go.
    pub outbound: Recipient<LinkOutbound>,
    /// Where a burst of outbound messages goes in one actix message, for links that take
    /// bursts (`None`: one [`LinkOutbound`] each).
    pub outbound_batch: Option<Recipient<LinkOutboundBatch>>,
    /// Where the close order goes.
    pub close: Recipient<LinkClose>,
    /// Where the outcome of the handshake goes, for links that encode (`None`: nothing to
    /// configure, as in one process).
    pub configure: Option<Recipient<LinkConfigure>>,
}

impl LinkAddr {
    /// The handle of a link actor that takes one [`LinkOutbound`] at a time and configures
    /// nothing (add [`with_batches`](Self::with_batches), [`with_configure`](Self::with_configure)).
    pub fn to<A>(addr: &Addr<A>) -> Self
    where
        A: Actor + Handler<LinkOutbound> + Handler<LinkClose>,
        A::Context: ToEnvelope<A, LinkOutbound> + ToEnvelope<A, LinkClose>,
    {
        LinkAddr {
            outbound: addr.clone().recipient(),
            outbound_batch: None,
            close: addr.clone().recipient(),
            configure: None,
        }
    }

    /// Bursts released from the link's queue go to `addr` as one [`LinkOutboundBatch`].
    pub fn with_batches<A>(mut self, addr: &Addr<A>) -> Self
    where
        A: Actor + Handler<LinkOutboundBatch>,
        A::Context: ToEnvelope<A, LinkOutboundBatch>,
    {
        self.outbound_batch = Some(addr.clone().recipient());
        self
    }

    /// The outcome of the handshake goes to `addr` as a [`LinkConfigure`].
    pub fn with_configure<A>(mut self, addr: &Addr<A>) -> Self
    where
        A: Actor + Handler<LinkConfigure>,
        A::Context: ToEnvelope<A, LinkConfigure>,
    {
        self.configure = Some(addr.clone().recipient());
        self
    }
}

impl fmt::Debug for LinkAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkAddr")
    }
}

/// Link → node: the connection is up; the node starts the handshake in `role`.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkOpened {
    /// The link.
    pub link: LinkId,
    /// Transport name for stats and events.
    pub transport: &'static str,
    /// Peer address or description.
    pub peer: String,
    /// `Initiator` sends `Hello`; `Acceptor` waits for it.
    pub role: Role,
    /// How to reach the link actor.
    pub handle: LinkAddr,
    /// The transport already authenticated the peer (or needs no authentication, as in one
    /// process); otherwise an acceptor's `Hello` must pass the node's authenticator.
    pub authenticated: bool,
    /// The link's gate to the node's inbound shortcut, for the node to open while the link
    /// is active.
    pub gate: Arc<InboundGate>,
}

/// Link → node: a message arrived.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkInbound {
    /// The link.
    pub link: LinkId,
    /// The message (owned when it was decoded; in-process links pass theirs on shared,
    /// without copying).
    pub message: DeliveredMessage,
    /// Its size on the wire (estimated where nothing is encoded).
    pub size: usize,
    /// Held until the node has handled the message (see [`InboundGauge`](super::InboundGauge)).
    pub ticket: Option<InboundTicket>,
    /// Keeps later messages of the link off the shortcut until this one is handled.
    pub queued: QueuedAtNode,
}

/// Link → node: several messages arrived, in order (one wake-up of the node for a
/// burst of frames).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkInboundBatch {
    /// The link.
    pub link: LinkId,
    /// The messages with their sizes on the wire (the vector goes back to the link when
    /// dropped).
    pub messages: Recycled<(DeliveredMessage, usize)>,
    /// Held until the node has handled the batch (see [`InboundGauge`](super::InboundGauge)).
    pub ticket: Option<InboundTicket>,
    /// Keeps later messages of the link off the shortcut until these are handled.
    pub queued: QueuedAtNode,
}

/// Link → node: `count` data messages of `bytes` were written; that much window is free.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkFlushed {
    /// The link.
    pub link: LinkId,
    /// Data messages written.
    pub count: usize,
    /// Their wire size.
    pub bytes: usize,
}

/// Link → node: the link is gone (sent exactly once; the actor stops after it).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkClosed {
    /// The link.
    pub link: LinkId,
    /// Why.
    pub reason: String,
    /// Set when the failure is one a retry cannot fix (the server has no route there, the
    /// credential is refused): the node stops reconnecting and reports it to the link's handles.
    pub permanent: Option<crate::error::TransportError>,
}

/// Link → node: a node joined or left the bus this link rides on (NATS). The node pairs them
/// (a repeat is not news) and publishes `NodeUp` / `NodeDown` events.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkBusNode {
    /// The link.
    pub link: LinkId,
    /// The node's name on the bus.
    pub node: String,
    /// What happened to it.
    pub change: BusNodeChange,
}

/// What happened to a node on a bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusNodeChange {
    /// It joined (its first presence was heard).
    Up,
    /// It left or fell silent.
    Down {
        /// Why.
        reason: String,
    },
}

/// Link → node: the link dropped `messages` it received or was handed (undecodable,
/// over a limit, or lost by the transport itself); counted in the link's and the node's `drops`
/// (each drop is also logged by the link).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkDropped {
    /// The link.
    pub link: LinkId,
    /// How many messages.
    pub messages: u64,
}

/// Link → node: the link could not send `message` (it encodes past the size limit, or
/// not at all). The node fails the request it belongs to, answers a forwarded one with
/// an error, or reports the message undeliverable — never leaves a requester to time out.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkRefused {
    /// The link.
    pub link: LinkId,
    /// The message not sent.
    pub message: Arc<Message>,
    /// Why.
    pub error: swarm_protocol::codec::CodecError,
}

/// Link → node: a whole message arrived whose payload the codec refused (nested deeper
/// than the protocol allows); the link stays up. The node answers a request with error
/// `-32004` and counts the rest as dropped.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkInboundRefused {
    /// The link.
    pub link: LinkId,
    /// Who sent it and what it was.
    pub envelope: swarm_protocol::codec::Envelope,
    /// Why it was refused.
    pub reason: String,
}

/// Node → link: write this message.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkOutbound {
    /// The message.
    pub message: Arc<Message>,
    /// Its lane.
    pub lane: Lane,
}

/// Node → link: write these data messages, in order (one actix message for a burst the
/// node releases from the link's queue).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkOutboundBatch(pub Recycled<LinkOutbound>);

/// Why a link is closed, for transports with close codes (WebSocket: the code in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// Orderly close (1000).
    Normal,
    /// This node is shutting down or gave up on a silent peer (1001).
    GoingAway,
    /// The peer broke the protocol: bad handshake, wrong version, no `Hello` in time (1002).
    Protocol,
    /// The peer failed authentication or broke a policy (1008).
    Policy,
    /// The peer exceeded a size limit (1009).
    TooBig,
}

impl CloseKind {
    /// The kind of close that follows a `Reject` with `code`.
    pub fn for_reject(code: swarm_protocol::RejectCode) -> Self {
        use swarm_protocol::RejectCode;
        match code {
            RejectCode::Version | RejectCode::Protocol | RejectCode::Timeout => CloseKind::Protocol,
            RejectCode::Auth => CloseKind::Policy,
            RejectCode::Limits => CloseKind::TooBig,
        }
    }
}

/// Node → link: what the handshake agreed that changes how the link encodes.
#[derive(Debug, Clone, Copy, actix::Message)]
#[rtype(result = "()")]
pub struct LinkConfigure {
    /// Both sides announced `gzip`: compress bodies above the threshold.
    pub compression: bool,
}

/// Node → link: close (say goodbye if the transport can) and stop.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkClose {
    /// Why.
    pub reason: String,
    /// What kind of close.
    pub kind: CloseKind,
}
