//! What the two ends of a WebSocket link share: the link id, the supervisor, frame handling,
//! and the bookkeeping that turns bursts of frames into few supervisor messages.
//!
//! Inbound messages of one burst travel to the supervisor together ([`InboundBurst`]).
//! Pending inbound messages are always handed over before the link reports itself closed, so
//! nothing received is lost to ordering.
//! Written data messages are acknowledged through [`WriteCredit`].

use bytes::Bytes;
use std::sync::Arc;

use actix::{Addr, Recipient};
use swarm_protocol::core::handshake::Role;
use swarm_protocol::Message;

use super::frames::{Fault, Frames};
use super::reassembly::Kind;
use crate::config::TransportConfig;
pub use crate::link::burst::FlushInbound;
use crate::link::burst::InboundBurst;
use crate::link::credit::WriteCredit;
use crate::link::{
    Lane, LinkClose, LinkClosed, LinkConfigure, LinkHandle, LinkId, LinkInboundRefused, LinkOpened,
    LinkOutbound, LinkOutboundBatch, LinkRefused,
};
use crate::supervisor::Supervisor;

/// Transport name of WebSocket links.
pub const TRANSPORT: &str = "websocket";

/// One end of a WebSocket link.
#[derive(Debug)]
pub struct LinkEnd {
    /// The link.
    pub link: LinkId,
    /// The node's supervisor.
    pub supervisor: Addr<Supervisor>,
    /// Frame decoding and encoding.
    pub frames: Frames,
    /// Peer address, for logs.
    pub peer: String,
    inbound: InboundBurst,
    credit: WriteCredit,
    closed_reported: bool,
}

impl LinkEnd {
    /// The end of `link` toward `peer`, with the limits of `config`.
    pub fn new(
        link: LinkId,
        supervisor: Addr<Supervisor>,
        frames: Frames,
        peer: String,
        config: &TransportConfig,
    ) -> Self {
        LinkEnd {
            link,
            frames,
            peer,
            inbound: InboundBurst::new(link, supervisor.clone(), config),
            credit: WriteCredit::new(config),
            closed_reported: false,
            supervisor,
        }
    }

    /// Tells the supervisor the connection is up; close orders go to `close`.
    pub fn opened<A>(
        &self,
        role: Role,
        me: Addr<A>,
        close: Recipient<LinkClose>,
        authenticated: bool,
    ) where
        A: actix::Handler<LinkOutbound>
            + actix::Handler<LinkOutboundBatch>
            + actix::Handler<LinkConfigure>,
        A::Context: actix::dev::ToEnvelope<A, LinkOutbound>
            + actix::dev::ToEnvelope<A, LinkOutboundBatch>
            + actix::dev::ToEnvelope<A, LinkConfigure>,
    {
        self.supervisor.do_send(LinkOpened {
            link: self.link,
            transport: TRANSPORT,
            peer: self.peer.clone(),
            role,
            handle: LinkHandle {
                outbound: me.clone().recipient(),
                outbound_batch: Some(me.clone().recipient()),
                close,
                configure: Some(me.recipient()),
            },
            authenticated,
        });
    }

    /// Decodes a complete data frame into the inbound burst; `Ok(true)` when it starts a burst
    /// (the actor must notify itself to [`LinkEnd::flush_inbound`]).
    pub fn received(&mut self, kind: Kind, bytes: &Bytes) -> Result<bool, Fault> {
        match self.frames.on_data(kind, bytes) {
            Ok(message) => self.push_inbound(message, bytes.len()),
            Err(fault) => self.refuse_or_fail(fault),
        }
    }

    /// A continuation frame arrived: as [`LinkEnd::received`] once the message is complete.
    pub fn fragment(&mut self, item: actix_http::ws::Item) -> Result<bool, Fault> {
        match self.frames.on_fragment(item) {
            Ok(Some((message, size))) => self.push_inbound(message, size),
            Ok(None) => Ok(false),
            Err(fault) => self.refuse_or_fail(fault),
        }
    }

    /// A message refused for its payload alone goes to the supervisor (which answers a
    /// request with an error) and the link reads on; any other fault closes the link.
    fn refuse_or_fail(&mut self, fault: Fault) -> Result<bool, Fault> {
        let Some(envelope) = fault.refused else {
            return Err(fault);
        };
        tracing::debug!(link = %self.link, peer = %self.peer, id = %envelope.id, reason = %fault.reason, "inbound message refused");
        self.flush_inbound();
        self.supervisor.do_send(LinkInboundRefused {
            link: self.link,
            envelope,
            reason: fault.reason,
        });
        Ok(false)
    }

    /// Adds a decoded message to the inbound burst; `Ok(true)` when it starts one. Fails when
    /// the peer is ahead of the supervisor by more than the inbound limit.
    pub fn push_inbound(&mut self, message: Arc<Message>, size: usize) -> Result<bool, Fault> {
        self.inbound.push(message, size).map_err(|flooded| Fault {
            code: actix_http::ws::CloseCode::Policy,
            reason: flooded.to_string(),
            refused: None,
        })
    }

    /// The gauge of received bytes the supervisor has not handled yet.
    pub fn inbound_gauge(&self) -> &crate::link::InboundGauge {
        self.inbound.gauge()
    }

    /// Hands the inbound burst to the supervisor.
    pub fn flush_inbound(&mut self) {
        self.inbound.flush();
    }

    /// Encodes an outbound message into a frame with its size; a message that cannot be
    /// encoded (e.g. over `max_message_size`) is handed back to the supervisor, which fails
    /// or answers it.
    pub fn encode(&mut self, out: &LinkOutbound) -> Option<(actix_http::ws::Message, usize)> {
        match self.frames.encode(&out.message) {
            Ok(encoded) => Some(encoded),
            Err(error) => {
                tracing::debug!(link = %self.link, id = %out.message.id, %error, "message not sent: cannot encode");
                self.supervisor.do_send(LinkRefused {
                    link: self.link,
                    message: out.message.clone(),
                    error,
                });
                None
            }
        }
    }

    /// Records a written message of `lane` (credit back to the supervisor).
    pub fn written(&mut self, lane: Lane, bytes: usize) {
        self.credit
            .written(lane, bytes, self.link, &self.supervisor);
    }

    /// Reports the link closed (once), after handing over what was received.
    pub fn closed(&mut self, reason: String) {
        if !self.closed_reported {
            self.flush_inbound();
            self.closed_reported = true;
            self.supervisor.do_send(LinkClosed {
                link: self.link,
                reason,
            });
        }
    }

    /// Logs a fault that closes the connection.
    pub fn log_fault(&self, fault: &Fault) {
        tracing::warn!(link = %self.link, peer = %self.peer, code = ?fault.code, reason = %fault.reason, "closing websocket connection");
    }
}
