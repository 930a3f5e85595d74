//! The `Transport` trait of ruv-swarm-transport, so its users can migrate: implemented by
//! [`SwarmClient`], which rides on the supervised swarm (every link, reconnects, heartbeats)
//! instead of one bare connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use swarm_protocol::Message;

use crate::error::TransportError;
use crate::node::client::SwarmClient;

/// Transport statistics, as in ruv-swarm-transport.
#[non_exhaustive]
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TransportStats {
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Bytes sent (estimated encoded size).
    pub bytes_sent: u64,
    /// Bytes received (estimated encoded size).
    pub bytes_received: u64,
    /// Failed sends and inbox overflows.
    pub errors: u64,
    /// Reconnections (per node; see [`Swarm::stats`](crate::Swarm::stats)).
    pub reconnections: u64,
}

/// A message transport endpoint, shaped like ruv-swarm-transport's trait.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// The message type.
    type Message;
    /// The error type.
    type Error: std::error::Error + 'static;

    /// Sends `msg` to agent `to`.
    async fn send(&self, to: &str, msg: Self::Message) -> Result<(), Self::Error>;
    /// Receives the next message with its sender.
    async fn receive(&mut self) -> Result<(String, Self::Message), Self::Error>;
    /// Publishes to every subscriber (a `Broadcast`, or an `Event` without destination).
    async fn broadcast(&self, msg: Self::Message) -> Result<(), Self::Error>;
    /// This endpoint's address (its agent name).
    fn local_address(&self) -> Result<String, Self::Error>;
    /// Whether the endpoint can still send and receive.
    fn is_connected(&self) -> bool;
    /// Closes the endpoint.
    async fn close(&mut self) -> Result<(), Self::Error>;
    /// Statistics.
    fn stats(&self) -> TransportStats;
}

impl Transport for SwarmClient {
    type Message = Message;
    type Error = TransportError;

    async fn send(&self, to: &str, msg: Message) -> Result<(), TransportError> {
        Ok(SwarmClient::send(self, msg.to(to)).await?)
    }

    async fn receive(&mut self) -> Result<(String, Message), TransportError> {
        let msg = self.recv().await.ok_or(TransportError::ConnectionLost)?;
        let msg = Arc::unwrap_or_clone(msg);
        Ok((msg.source.to_string(), msg))
    }

    async fn broadcast(&self, msg: Message) -> Result<(), TransportError> {
        if !SwarmClient::is_broadcastable(&msg) {
            return Err(TransportError::InvalidAddress(
                "broadcast needs a Broadcast message or an Event without destination".into(),
            ));
        }
        Ok(SwarmClient::send(self, msg).await?)
    }

    fn local_address(&self) -> Result<String, TransportError> {
        Ok(self.name().to_owned())
    }

    fn is_connected(&self) -> bool {
        self.is_open()
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        SwarmClient::close(self);
        Ok(())
    }

    fn stats(&self) -> TransportStats {
        let c = self.counters();
        TransportStats {
            messages_sent: c.sent.load(Ordering::Relaxed),
            messages_received: c.received.load(Ordering::Relaxed),
            bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
            bytes_received: c.bytes_received.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed) + c.dropped.load(Ordering::Relaxed),
            reconnections: 0,
        }
    }
}
