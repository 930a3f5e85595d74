//! The link port: everything a link may tell its node, and the acceptor that hands ports to
//! links the node accepts.
//!
//! A link never names the node's actors. The node gives each link a [`LinkPort`] (through
//! [`LinkContext`](super::LinkContext) for links it connects, through its [`LinkAcceptor`] for
//! links it accepts); the port carries the link's id and sends the contract's messages to the
//! node's [`LinkSinks`]. A test can build sinks of its own and drive a link against a fake
//! node; a new transport needs nothing else.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::Recipient;
use swarm_protocol::codec::{CodecError, Envelope};
use swarm_protocol::core::handshake::Role;
use swarm_protocol::Message;

use super::gauge::InboundTicket;
use super::id::LinkId;
use super::machinery::recycled::Recycled;
use super::messages::{
    BusNodeChange, LinkAddr, LinkBusNode, LinkClosed, LinkDropped, LinkFlushed, LinkInbound,
    LinkInboundBatch, LinkInboundRefused, LinkOpened, LinkRefused,
};
use super::shortcut::{InboundGate, InboundShortcut};
use crate::config::TransportConfig;
use crate::support::delivered_message::DeliveredMessage;
use crate::support::slots::{Reserved, Slots};

/// Where a node receives what its links report: one recipient per message of the contract.
/// The node builds one set and shares it between all its links' ports.
pub struct LinkSinks {
    /// [`LinkOpened`]: the connection is up.
    pub opened: Recipient<LinkOpened>,
    /// [`LinkInbound`]: one message arrived.
    pub inbound: Recipient<LinkInbound>,
    /// [`LinkInboundBatch`]: a burst arrived.
    pub inbound_batch: Recipient<LinkInboundBatch>,
    /// [`LinkFlushed`]: data was written; window is free.
    pub flushed: Recipient<LinkFlushed>,
    /// [`LinkClosed`]: the link is gone.
    pub closed: Recipient<LinkClosed>,
    /// [`LinkBusNode`]: a node joined or left the link's bus.
    pub bus_node: Recipient<LinkBusNode>,
    /// [`LinkDropped`]: the link dropped messages.
    pub dropped: Recipient<LinkDropped>,
    /// [`LinkRefused`]: the link could not send a message.
    pub refused: Recipient<LinkRefused>,
    /// [`LinkInboundRefused`]: a received message was refused by the codec.
    pub inbound_refused: Recipient<LinkInboundRefused>,
    /// Where data messages go straight to their destination while a link's gate is open
    /// (`None`: everything goes to `inbound`).
    pub shortcut: Option<Arc<dyn InboundShortcut>>,
}

impl fmt::Debug for LinkSinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSinks")
    }
}

/// One link's way to its node. Cheap to clone (the halves of a link that runs on two threads
/// share one); every clone reports for the same [`LinkId`].
#[derive(Clone)]
pub struct LinkPort(Arc<PortShared>);

struct PortShared {
    link: LinkId,
    sinks: Arc<LinkSinks>,
    /// Set by the first `closed` report of any clone.
    closed: AtomicBool,
    /// Opened by the node while the link is active: see [`shortcut`](super::shortcut).
    gate: Arc<InboundGate>,
}

impl fmt::Debug for LinkPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkPort({})", self.0.link)
    }
}

impl LinkPort {
    /// A port for link `link` reporting to `sinks`.
    pub fn new(link: LinkId, sinks: Arc<LinkSinks>) -> Self {
        LinkPort(Arc::new(PortShared {
            link,
            sinks,
            closed: AtomicBool::new(false),
            gate: Arc::default(),
        }))
    }

    /// The link this port reports for.
    pub fn link(&self) -> LinkId {
        self.0.link
    }

    /// Whether the node still listens (a link whose node has stopped should stop too).
    pub fn is_open(&self) -> bool {
        self.0.sinks.closed.connected()
    }

    /// The connection is up: the node starts the handshake in `role` and reaches the link
    /// through `handle`. `authenticated`: the transport already authenticated the peer (or
    /// needs no authentication); otherwise an acceptor's `Hello` must pass the node's
    /// authenticator.
    pub fn opened(
        &self,
        transport: &'static str,
        peer: String,
        role: Role,
        handle: LinkAddr,
        authenticated: bool,
    ) {
        self.0.sinks.opened.do_send(LinkOpened {
            link: self.0.link,
            transport,
            peer,
            role,
            handle,
            authenticated,
            gate: self.0.gate.clone(),
        });
    }

    /// One message arrived; `size` is its size on the wire (estimated where nothing is
    /// encoded); `ticket` keeps it counted in the link's gauge until the node handled it.
    pub fn inbound(
        &self,
        message: impl Into<DeliveredMessage>,
        size: usize,
        ticket: Option<InboundTicket>,
    ) {
        let Some(message) = self.try_shortcut(message.into(), size) else {
            return;
        };
        self.0.sinks.inbound.do_send(LinkInbound {
            link: self.0.link,
            message,
            size,
            ticket,
            queued: self.0.gate.queue(),
        });
    }

    /// Several messages arrived, in order, with their sizes on the wire.
    pub fn inbound_batch(
        &self,
        mut messages: Recycled<(DeliveredMessage, usize)>,
        ticket: Option<InboundTicket>,
    ) {
        // The messages before the first one the shortcut cannot take are delivered; that one
        // and every later one go to the node, in order. Reversed, the next message is the
        // last element, so each is moved out (and a refused one put back) without a copy.
        if self.0.sinks.shortcut.is_some() && self.0.gate.admits() {
            messages.reverse();
            while let Some((message, size)) = messages.pop() {
                if let Some(refused) = self.try_shortcut(message, size) {
                    messages.push((refused, size));
                    break;
                }
            }
            if messages.is_empty() {
                return;
            }
            messages.reverse();
        }
        self.0.sinks.inbound_batch.do_send(LinkInboundBatch {
            link: self.0.link,
            messages,
            ticket,
            queued: self.0.gate.queue(),
        });
    }

    /// Delivers `message` through the node's shortcut if the gate admits it and the node
    /// takes it (`None`); otherwise gives it back for the supervisor.
    fn try_shortcut(&self, message: DeliveredMessage, size: usize) -> Option<DeliveredMessage> {
        let Some(shortcut) = &self.0.sinks.shortcut else {
            return Some(message);
        };
        if !self.0.gate.admits() {
            return Some(message);
        }
        match shortcut.deliver(self.0.link, message) {
            Ok(()) => {
                self.0.gate.count(size);
                None
            }
            Err(message) => Some(message),
        }
    }

    /// `count` data messages of `bytes` (encoded) were written.
    pub fn flushed(&self, count: usize, bytes: usize) {
        self.0.sinks.flushed.do_send(LinkFlushed {
            link: self.0.link,
            count,
            bytes,
        });
    }

    /// The link is gone. Only the first report of this port and its clones reaches the node;
    /// returns whether this one did.
    pub fn closed(&self, reason: impl Into<String>) -> bool {
        self.report_closed(reason.into(), None)
    }

    /// The link could not open and never will as it is configured (`error` says why and what
    /// to change): reported as [`LinkPort::closed`], and the node does not reconnect it.
    pub fn failed(&self, error: crate::error::TransportError) -> bool {
        self.report_closed(error.to_string(), Some(error))
    }

    fn report_closed(
        &self,
        reason: String,
        permanent: Option<crate::error::TransportError>,
    ) -> bool {
        // Relaxed: a flag alone, publishing no other memory; the swap makes exactly one
        // caller win, whatever the ordering.
        if self.0.closed.swap(true, Ordering::Relaxed) {
            return false;
        }
        self.0.sinks.closed.do_send(LinkClosed {
            link: self.0.link,
            reason,
            permanent,
        });
        true
    }

    /// Whether the link has reported itself closed.
    pub fn is_closed(&self) -> bool {
        // Relaxed: see `closed`; nothing is read on the strength of it.
        self.0.closed.load(Ordering::Relaxed)
    }

    /// A node joined or left the bus this link rides on.
    pub fn bus_node(&self, node: String, change: BusNodeChange) {
        self.0.sinks.bus_node.do_send(LinkBusNode {
            link: self.0.link,
            node,
            change,
        });
    }

    /// The link dropped `messages` it received or was handed (each also logged by the link).
    pub fn dropped(&self, messages: u64) {
        self.0.sinks.dropped.do_send(LinkDropped {
            link: self.0.link,
            messages,
        });
    }

    /// The link could not send `message`.
    pub fn refused(&self, message: Arc<Message>, error: CodecError) {
        self.0.sinks.refused.do_send(LinkRefused {
            link: self.0.link,
            message,
            error,
        });
    }

    /// A whole message arrived that the codec refused; the link stays up.
    pub fn inbound_refused(&self, envelope: Envelope, reason: String) {
        self.0.sinks.inbound_refused.do_send(LinkInboundRefused {
            link: self.0.link,
            envelope,
            reason,
        });
    }
}

/// What a node gives the transports that accept links for it (a WebSocket route, the far end
/// of an in-process link): a port for each new link, the node's configuration, and the bound
/// on the sessions its endpoints serve. Get one with `Swarm::acceptor`.
#[derive(Clone)]
pub struct LinkAcceptor {
    sinks: Arc<LinkSinks>,
    config: Arc<TransportConfig>,
    node: Arc<str>,
    sessions: Arc<Slots>,
}

impl fmt::Debug for LinkAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkAcceptor")
            .field("node", &self.node)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl LinkAcceptor {
    /// An acceptor for node `node` whose links report to `sinks`; at most
    /// `config.max_sessions` admissions at a time.
    pub fn new(sinks: Arc<LinkSinks>, config: Arc<TransportConfig>, node: Arc<str>) -> Self {
        let sessions = Arc::new(Slots::new(config.max_sessions));
        LinkAcceptor {
            sinks,
            config,
            node,
            sessions,
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The node's configuration.
    pub fn config(&self) -> &Arc<TransportConfig> {
        &self.config
    }

    /// A port for a new accepted link (with a fresh id).
    pub fn accept(&self) -> LinkPort {
        LinkPort::new(LinkId::next(), self.sinks.clone())
    }

    /// One of `max_sessions` session slots, held until the admission is dropped; `None` when
    /// all are taken.
    pub fn admit(&self) -> Option<Admission> {
        match self.sessions.try_reserve() {
            Some(slot) => Some(Admission(self.sessions.clone(), Some(slot))),
            None => {
                self.sessions.count_rejected();
                None
            }
        }
    }

    /// Sessions admitted and not yet dropped.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }
}

/// One session slot of a [`LinkAcceptor`], given back when dropped.
#[derive(Debug)]
pub struct Admission(Arc<Slots>, Option<Reserved>);

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(slot) = self.1.take() {
            self.0.release(slot);
        }
    }
}
