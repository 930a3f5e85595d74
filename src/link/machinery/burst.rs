//! Inbound bursts: the messages a link actor decodes in one go travel to the node in one
//! [`LinkInboundBatch`](crate::link::LinkInboundBatch) (one [`LinkInbound`](crate::link::LinkInbound) for a lone message).
//!
//! The actor notifies itself with [`FlushInbound`] on the first message of a burst; that
//! notice is handled after everything already in its mailbox and streams, so a burst is as
//! long as what arrived together. Bytes handed over but not yet handled by the node are
//! counted in an [`InboundGauge`]; a push that would put the node more than the inbound limit
//! behind is refused, and the transport decides what that means (a socket closes the peer).

use super::recycled::Spares;
use crate::config::TransportConfig;
use crate::link::{InboundGauge, LinkPort};
use crate::support::delivered_message::DeliveredMessage;

/// A push refused because the node is too far behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flooded {
    /// Bytes that would wait for the node.
    pub waiting: usize,
    /// The limit (`link_inbound_bytes`, at least `max_message_size`).
    pub limit: usize,
}

impl std::fmt::Display for Flooded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "inbound flood: {} bytes wait for the node, limit {}",
            self.waiting, self.limit
        )
    }
}

/// Hands decoded messages to the port: one message alone, several as one batch (in a reused
/// vector). Every transport's reader uses it.
#[derive(Debug)]
pub struct Handover {
    port: LinkPort,
    gauge: InboundGauge,
    spares: Spares<(DeliveredMessage, usize)>,
}

impl Handover {
    /// Hands messages to `port`.
    pub fn new(port: LinkPort) -> Self {
        Handover {
            port,
            gauge: InboundGauge::default(),
            spares: Spares::default(),
        }
    }

    /// Bytes handed over and not yet handled by the node.
    pub fn pending(&self) -> usize {
        self.gauge.pending()
    }

    /// The gauge counting them (a reader that stops reading while it is full waits on it).
    pub fn gauge(&self) -> &InboundGauge {
        &self.gauge
    }

    /// Hands over `messages` (`bytes` on the wire), leaving the vector empty: a lone message
    /// keeps the vector, a batch takes it (a spare one is put in its place, and the batch's
    /// comes back to the spares when the node is done with it).
    pub fn hand_over(&self, messages: &mut Vec<(DeliveredMessage, usize)>, bytes: usize) {
        match messages.len() {
            0 => {}
            1 => {
                if let Some((message, size)) = messages.pop() {
                    self.port
                        .inbound(message, size, Some(self.gauge.ticket(bytes)));
                }
            }
            _ => {
                let mut batch = self.spares.take();
                std::mem::swap(&mut *batch, messages);
                self.port
                    .inbound_batch(batch, Some(self.gauge.ticket(bytes)));
            }
        }
    }
}

/// The inbound burst of one link.
#[derive(Debug)]
pub struct InboundBurst {
    handover: Handover,
    messages: Vec<(DeliveredMessage, usize)>,
    bytes: usize,
    limit: usize,
}

impl InboundBurst {
    /// The burst of the link of `port`, with the inbound limit of `config`.
    pub fn new(port: LinkPort, config: &TransportConfig) -> Self {
        InboundBurst {
            handover: Handover::new(port),
            messages: Vec::new(),
            bytes: 0,
            limit: config.link_inbound_bytes.max(config.max_message_size),
        }
    }

    /// Adds a decoded message; `Ok(true)` when it starts a burst (the actor must notify itself
    /// with [`FlushInbound`] and then call [`InboundBurst::flush`]).
    pub fn push(&mut self, message: DeliveredMessage, size: usize) -> Result<bool, Flooded> {
        let waiting = self.handover.pending() + self.bytes + size;
        if waiting > self.limit {
            return Err(Flooded {
                waiting,
                limit: self.limit,
            });
        }
        self.messages.push((message, size));
        self.bytes += size;
        Ok(self.messages.len() == 1)
    }

    /// The gauge of bytes handed over and not yet handled.
    pub fn gauge(&self) -> &InboundGauge {
        self.handover.gauge()
    }

    /// Hands the burst to the node.
    pub fn flush(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        self.handover.hand_over(&mut self.messages, bytes);
    }
}

/// A link actor's notice to itself: hand over the burst of inbound messages.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct FlushInbound;
