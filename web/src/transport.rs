//! The ruv-swarm-transport `Transport` trait (from `swarm-protocol`, the same one the node's
//! `SwarmClient` implements) for [`WebSwarm`], so code written against it moves to the
//! browser unchanged.

use swarm_protocol::message::MessageType;
use swarm_protocol::transport::TransportStats;
use swarm_protocol::Message;

pub use swarm_protocol::transport::Transport;

use crate::{WebError, WebSwarm};

impl Transport for WebSwarm {
    type Message = Message;
    type Error = WebError;

    async fn send(&self, to: &str, msg: Message) -> Result<(), WebError> {
        WebSwarm::send(self, msg.to(to))
    }

    async fn receive(&mut self) -> Result<(String, Message), WebError> {
        let message = WebSwarm::receive(self)
            .await
            .ok_or_else(|| WebError::ConnectionLost("the swarm was dropped".into()))?;
        Ok((message.source.to_string(), message))
    }

    async fn broadcast(&self, msg: Message) -> Result<(), WebError> {
        let broadcastable = match &msg.payload {
            MessageType::Broadcast { .. } => true,
            MessageType::Event { .. } => msg.destination.is_none(),
            _ => false,
        };
        if !broadcastable {
            return Err(WebError::Invalid {
                what: "message",
                why: "broadcast needs a Broadcast message or an Event without destination".into(),
            });
        }
        WebSwarm::send(self, msg)
    }

    fn local_address(&self) -> Result<String, WebError> {
        Ok(self.name())
    }

    fn is_connected(&self) -> bool {
        WebSwarm::is_connected(self)
    }

    async fn close(&mut self) -> Result<(), WebError> {
        WebSwarm::close(self);
        Ok(())
    }

    fn stats(&self) -> TransportStats {
        let s = WebSwarm::stats(self);
        let mut stats = TransportStats::default();
        stats.messages_sent = s.messages_out;
        stats.messages_received = s.messages_in;
        stats.bytes_sent = s.bytes_out;
        stats.bytes_received = s.bytes_in;
        stats.errors = s.refused + s.bad_frames + s.inbox_dropped;
        stats.reconnections = s.connects.saturating_sub(1);
        stats
    }
}
