//! The `Transport` trait of ruv-swarm-transport, so its users can migrate: implemented by
//! [`SwarmClient`], which rides on the supervised swarm (every link, reconnects, heartbeats)
//! instead of one bare connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use swarm_protocol::transport::{Transport, TransportStats};
use swarm_protocol::Message;

use crate::error::TransportError;
use crate::node::client::SwarmClient;

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
        let mut stats = TransportStats::default();
        stats.messages_sent = c.sent.load(Ordering::Relaxed);
        stats.messages_received = c.received.load(Ordering::Relaxed);
        stats.bytes_sent = c.bytes_sent.load(Ordering::Relaxed);
        stats.bytes_received = c.bytes_received.load(Ordering::Relaxed);
        stats.errors = c.errors.load(Ordering::Relaxed) + c.dropped.load(Ordering::Relaxed);
        stats
    }
}
