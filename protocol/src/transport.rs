//! The `Transport` trait of ruv-swarm-transport, so its users can migrate: the same shape is
//! implemented by the node's `SwarmClient` (swarm-transport) and by the browser's `WebSwarm`
//! (swarm-web), so code written against it moves between them unchanged.

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
    /// Reconnections (the node counts them per link in its own stats).
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
