//! Links: the actors that move messages between this node and another.
//!
//! A link is thin. It does IO and framing and talks to its node's
//! [`Supervisor`] through the messages below; routing, retries,
//! handshakes, heartbeats and correlation are the supervisor's. Adding a transport means one new
//! module here with:
//!
//! * an actor that sends [`LinkOpened`] when its connection is up, [`LinkInbound`] for every
//!   message it receives (or [`LinkInboundBatch`] for a burst), [`LinkFlushed`] when it has written data messages (credit back),
//!   and [`LinkClosed`] exactly once when it goes away (then stops);
//! * that handles [`LinkOutbound`] (write one message; `Lane::Control` first) and
//!   [`LinkClose`] (close and stop);
//! * for the connecting side, a [`LinkConnector`] the supervisor calls on every (re)connect.

pub mod arena;
pub mod buffer_pool;
pub mod burst;
pub mod credit;
pub mod in_process;
#[cfg(feature = "nats")]
pub mod nats;
pub mod receive;
pub mod recycled;
#[cfg(all(feature = "shared-memory", target_os = "linux"))]
pub mod shared_memory;
#[cfg(feature = "websocket")]
pub mod websocket;

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use actix::{Addr, Recipient};
use swarm_protocol::core::handshake::Role;
use swarm_protocol::Message;

use crate::config::TransportConfig;
use crate::supervisor::Supervisor;

/// Process-unique identifier of one link (one connection; a reconnect gets a new id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

impl LinkId {
    /// A fresh id, unique within this process.
    pub fn next() -> LinkId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Relaxed: only uniqueness matters; no other memory is published through this counter.
        LinkId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link-{}", self.0)
    }
}

/// Which queue a message travels in: control (handshake, heartbeats, announcements) is never
/// queued behind data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Handshake, heartbeat, routing control: sent ahead of any data.
    Control,
    /// Everything else; counted against the link window and acknowledged with [`LinkFlushed`].
    Data,
}

/// How the supervisor reaches a link actor.
#[derive(Clone)]
pub struct LinkHandle {
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

impl fmt::Debug for LinkHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkHandle")
    }
}

/// Link → supervisor: the connection is up; start the handshake in `role`.
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
    pub handle: LinkHandle,
    /// The transport already authenticated the peer (or needs no authentication, as in one
    /// process); otherwise an acceptor's `Hello` must pass the node's authenticator.
    pub authenticated: bool,
}

/// Bytes a link has handed to the supervisor that the supervisor has not handled yet. Links
/// that read from a socket check it: they stop reading while too much waits (backpressure to
/// the peer, [`InboundGauge::poll_below`]), and drop a peer that still gets past the hard
/// limit, so that a flood cannot grow the supervisor's mailbox without bound.
#[derive(Debug, Default, Clone)]
pub struct InboundGauge(Arc<GaugeShared>);

#[derive(Debug, Default)]
struct GaugeShared {
    bytes: AtomicUsize,
    /// The reader waiting for the gauge to fall below its limit.
    reader: Mutex<Option<Waker>>,
}

impl InboundGauge {
    /// Counts `bytes` as pending until the returned ticket is dropped (by the supervisor, once
    /// it has handled the message that carries it).
    pub fn ticket(&self, bytes: usize) -> InboundTicket {
        // Relaxed: a bound on a count; the message carrying the ticket is the synchronisation.
        self.0.bytes.fetch_add(bytes, Ordering::Relaxed);
        InboundTicket {
            gauge: self.0.clone(),
            bytes,
        }
    }

    /// Bytes pending now.
    pub fn pending(&self) -> usize {
        self.0.bytes.load(Ordering::Relaxed)
    }

    /// Ready when fewer than `limit` bytes are pending; otherwise the task of `cx` is woken
    /// when the supervisor next drops a ticket.
    pub fn poll_below(&self, limit: usize, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.pending() < limit {
            return Poll::Ready(());
        }
        *self.0.lock_reader() = Some(cx.waker().clone());
        // A ticket dropped between the first look and the registration found no waker: look
        // again now that it is registered. The lock orders the two: a drop that took the lock
        // before us made its count visible to this load.
        if self.pending() < limit {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl GaugeShared {
    fn lock_reader(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        // Only an `Option<Waker>` is behind the lock: a panic cannot leave it inconsistent.
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keeps bytes counted in an [`InboundGauge`] until dropped.
#[derive(Debug)]
pub struct InboundTicket {
    gauge: Arc<GaugeShared>,
    bytes: usize,
}

impl Drop for InboundTicket {
    fn drop(&mut self) {
        self.gauge.bytes.fetch_sub(self.bytes, Ordering::Relaxed);
        // One lock per handled burst (not per message); wakes a reader paused on the limit.
        let waiting = self.gauge.lock_reader().take();
        if let Some(waker) = waiting {
            waker.wake();
        }
    }
}

/// Link → supervisor: a message arrived.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkInbound {
    /// The link.
    pub link: LinkId,
    /// The message (shared; in-process links pass it through without copying).
    pub message: Arc<Message>,
    /// Its size on the wire (estimated where nothing is encoded).
    pub size: usize,
    /// Held until the supervisor has handled the message (see [`InboundGauge`]).
    pub ticket: Option<InboundTicket>,
}

/// Link → supervisor: several messages arrived, in order (one wake-up of the supervisor for a
/// burst of frames).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkInboundBatch {
    /// The link.
    pub link: LinkId,
    /// The messages with their sizes on the wire (the vector goes back to the link when
    /// dropped).
    pub messages: recycled::Recycled<(Arc<Message>, usize)>,
    /// Held until the supervisor has handled the batch (see [`InboundGauge`]).
    pub ticket: Option<InboundTicket>,
}

/// Link → supervisor: `count` data messages of `bytes` were written; that much window is free.
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

/// Link → supervisor: the link is gone (sent exactly once; the actor stops after it).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkClosed {
    /// The link.
    pub link: LinkId,
    /// Why.
    pub reason: String,
}

/// Link → supervisor: publish `event` to the node's event subscribers (bus links report the
/// nodes they hear of this way).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkReport {
    /// The link.
    pub link: LinkId,
    /// The event.
    pub event: crate::events::SwarmEvent,
}

/// Link → supervisor: the link dropped `messages` it received or was handed (undecodable,
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

/// Link → supervisor: the link could not send `message` (it encodes past the size limit, or
/// not at all). The supervisor fails the request it belongs to, answers a forwarded one with
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

/// Link → supervisor: a whole message arrived whose payload the codec refused (nested deeper
/// than the protocol allows); the link stays up. The supervisor answers a request with error
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

/// Supervisor → link: write this message.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkOutbound {
    /// The message.
    pub message: Arc<Message>,
    /// Its lane.
    pub lane: Lane,
}

/// Supervisor → link: write these data messages, in order (one actix message for a burst the
/// supervisor releases from the link's queue).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkOutboundBatch(pub recycled::Recycled<LinkOutbound>);

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

/// Supervisor → link: what the handshake agreed that changes how the link encodes.
#[derive(Debug, Clone, Copy, actix::Message)]
#[rtype(result = "()")]
pub struct LinkConfigure {
    /// Both sides announced `gzip`: compress bodies above the threshold.
    pub compression: bool,
}

/// Supervisor → link: close (say goodbye if the transport can) and stop.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct LinkClose {
    /// Why.
    pub reason: String,
    /// What kind of close.
    pub kind: CloseKind,
}

/// What a connector needs to start one link.
#[derive(Debug, Clone)]
pub struct LinkContext {
    /// Id the new link must use in every message to the supervisor.
    pub link: LinkId,
    /// The node's supervisor.
    pub supervisor: Addr<Supervisor>,
    /// The node's configuration (limits, timeouts).
    pub config: Arc<TransportConfig>,
    /// The node's name (bus links announce the node under it).
    pub node: String,
}

/// Starts outbound links; the supervisor calls it on the first connect and on every
/// reconnect (after the backoff delay). One connector per supervised link.
pub trait LinkConnector: 'static {
    /// Transport name for stats and events (`"in_process"`, `"websocket"`...).
    fn transport(&self) -> &'static str;

    /// The peer's address or description, for logs and events (no credentials).
    fn peer(&self) -> String;

    /// How long the link may take to open (send [`LinkOpened`]) before the supervisor gives up
    /// and reconnects; `None` waits as long as it takes (a shared-memory creator waiting for
    /// its peer process). Default: the node's connection timeout.
    fn connect_timeout(&self, config: &TransportConfig) -> Option<std::time::Duration> {
        Some(config.connection_timeout())
    }

    /// Starts a link actor for `ctx.link`. The actor must eventually send either
    /// [`LinkOpened`] (role `Initiator`) or [`LinkClosed`]; the supervisor closes it if neither
    /// happens (and the handshake does not finish) within the connection timeout.
    fn connect(&mut self, ctx: LinkContext);
}
