//! What the two ends of a WebSocket link share: the port, frame handling, and the bookkeeping
//! that turns bursts of frames into few messages to the node.
//!
//! Inbound messages of one burst travel to the node together ([`InboundBurst`]).
//! Pending inbound messages are always handed over before the link reports itself closed, so
//! nothing received is lost to ordering.
//! Written data messages are acknowledged through [`WriteCredit`].

use actix::{Addr, Recipient};
use bytes::Bytes;
use swarm_protocol::core::handshake::Role;
use swarm_protocol::core::reassembly::Kind;

use super::frames::{Fault, Frames};
use crate::config::TransportConfig;
use crate::link::machinery::burst::InboundBurst;
use crate::link::machinery::credit::WriteCredit;
use crate::link::{
    Lane, LinkAddr, LinkClose, LinkConfigure, LinkId, LinkOutbound, LinkOutboundBatch, LinkPort,
};
use crate::support::delivered_message::DeliveredMessage;

/// Transport name of WebSocket links.
pub const TRANSPORT: &str = "websocket";

/// One end of a WebSocket link.
#[derive(Debug)]
pub struct LinkEnd {
    /// The link's way to its node.
    pub port: LinkPort,
    /// The link (the port's).
    pub link: LinkId,
    /// Frame decoding and encoding.
    pub frames: Frames,
    /// Peer address, for logs.
    pub peer: String,
    inbound: InboundBurst,
    credit: WriteCredit,
}

impl LinkEnd {
    /// The end of the link of `port` toward `peer`, with the limits of `config`.
    pub fn new(port: LinkPort, frames: Frames, peer: String, config: &TransportConfig) -> Self {
        LinkEnd {
            link: port.link(),
            frames,
            peer,
            inbound: InboundBurst::new(port.clone(), config),
            credit: WriteCredit::new(config),
            port,
        }
    }

    /// Tells the node the connection is up; close orders go to `close`.
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
        let handle = LinkAddr {
            outbound: me.clone().recipient(),
            outbound_batch: Some(me.clone().recipient()),
            close,
            configure: Some(me.recipient()),
        };
        self.port
            .opened(TRANSPORT, self.peer.clone(), role, handle, authenticated);
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

    /// A message refused for its payload alone goes to the node (which answers a
    /// request with an error) and the link reads on; any other fault closes the link.
    fn refuse_or_fail(&mut self, fault: Fault) -> Result<bool, Fault> {
        let Some(envelope) = fault.refused else {
            return Err(fault);
        };
        tracing::debug!(link = %self.link, peer = %self.peer, id = %envelope.id, reason = %fault.reason, "inbound message refused");
        self.flush_inbound();
        self.port.inbound_refused(envelope, fault.reason);
        Ok(false)
    }

    /// Adds a decoded message to the inbound burst; `Ok(true)` when it starts one. Fails when
    /// the peer is ahead of the node by more than the inbound limit.
    pub fn push_inbound(&mut self, message: DeliveredMessage, size: usize) -> Result<bool, Fault> {
        self.inbound.push(message, size).map_err(|flooded| Fault {
            code: actix_http::ws::CloseCode::Policy,
            reason: flooded.to_string(),
            refused: None,
        })
    }

    /// The gauge of received bytes the node has not handled yet.
    pub fn inbound_gauge(&self) -> &crate::link::InboundGauge {
        self.inbound.gauge()
    }

    /// Hands the inbound burst to the node.
    pub fn flush_inbound(&mut self) {
        self.inbound.flush();
    }

    /// Encodes an outbound message into a frame with its size; a message that cannot be
    /// encoded (e.g. over `max_message_size`) is handed back to the node, which fails
    /// or answers it.
    pub fn encode(&mut self, out: &LinkOutbound) -> Option<(actix_http::ws::Message, usize)> {
        match self.frames.encode(&out.message) {
            Ok(encoded) => Some(encoded),
            Err(error) => {
                tracing::debug!(link = %self.link, id = %out.message.id, %error, "message not sent: cannot encode");
                self.port.refused(out.message.clone(), error);
                None
            }
        }
    }

    /// Records a written message of `lane` (credit back to the node).
    pub fn written(&mut self, lane: Lane, bytes: usize) {
        self.credit.written(lane, bytes, &self.port);
    }

    /// Reports the link closed (once), after handing over what was received.
    pub fn closed(&mut self, reason: String) {
        if !self.port.is_closed() {
            self.flush_inbound();
            self.port.closed(reason);
        }
    }

    /// Logs a fault that closes the connection.
    pub fn log_fault(&self, fault: &Fault) {
        tracing::warn!(link = %self.link, peer = %self.peer, code = ?fault.code, reason = %fault.reason, "closing websocket connection");
    }
}

/// The code both ends of a WebSocket link share, for `$actor` (context `$ctx`), which has an
/// `end: LinkEnd`, a `write_frame(&mut self, frame, ctx)` and a `fail(&mut self, fault, ctx)`:
/// writing outbound messages (one or a batch, with write credit), handing received data and
/// continuation frames to the link end, the handshake's configuration and the inbound-burst
/// flush. (A macro: actix handlers cannot be implemented generically over foreign actors.)
macro_rules! shared_ws_handlers {
    ($actor:ty, $ctx:ty) => {
        impl $actor {
            /// Encodes and writes one outbound message; credit goes back to the node.
            fn write(&mut self, out: $crate::link::LinkOutbound, ctx: &mut $ctx) {
                let size = match self.end.encode(&out) {
                    Some((frame, size)) => {
                        self.write_frame(frame, ctx);
                        size
                    }
                    None => 0,
                };
                self.end.written(out.lane, size);
            }

            /// A complete data frame of `kind`.
            fn data(
                &mut self,
                kind: $crate::protocol::core::reassembly::Kind,
                bytes: &bytes::Bytes,
                ctx: &mut $ctx,
            ) {
                let received = self.end.received(kind, bytes);
                self.after_receive(received, ctx);
            }

            /// A continuation frame.
            fn continuation(&mut self, item: actix_http::ws::Item, ctx: &mut $ctx) {
                let received = self.end.fragment(item);
                self.after_receive(received, ctx);
            }

            /// Starts a burst's flush, or fails the connection on a fault.
            fn after_receive(
                &mut self,
                received: Result<bool, $crate::link::websocket::frames::Fault>,
                ctx: &mut $ctx,
            ) {
                match received {
                    Ok(true) => actix::AsyncContext::notify(
                        ctx,
                        $crate::link::machinery::burst::FlushInbound,
                    ),
                    Ok(false) => {}
                    Err(fault) => self.fail(fault, ctx),
                }
            }
        }

        impl actix::Handler<$crate::link::LinkOutbound> for $actor {
            type Result = ();

            fn handle(&mut self, out: $crate::link::LinkOutbound, ctx: &mut $ctx) {
                self.write(out, ctx);
            }
        }

        impl actix::Handler<$crate::link::LinkOutboundBatch> for $actor {
            type Result = ();

            fn handle(&mut self, mut batch: $crate::link::LinkOutboundBatch, ctx: &mut $ctx) {
                batch.0.drain(..).for_each(|out| self.write(out, ctx));
            }
        }

        impl actix::Handler<$crate::link::LinkConfigure> for $actor {
            type Result = ();

            fn handle(&mut self, configure: $crate::link::LinkConfigure, _: &mut $ctx) {
                self.end.frames.set_compression(configure.compression);
            }
        }

        impl actix::Handler<$crate::link::machinery::burst::FlushInbound> for $actor {
            type Result = ();

            fn handle(&mut self, _: $crate::link::machinery::burst::FlushInbound, _: &mut $ctx) {
                self.end.flush_inbound();
            }
        }
    };
}
pub(super) use shared_ws_handlers;
