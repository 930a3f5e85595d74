//! Stamping outgoing messages with an id and a timestamp, shared by every handle of a node and
//! its supervisor (the pure protocol never reads a clock or an RNG; this is where they enter).

use std::sync::atomic::{AtomicU64, Ordering};

use swarm_protocol::{Message, MessageId};

use crate::support::clock::wall_clock_ms;

/// Hands out ids `<random node prefix>:<sequence>` from any thread.
#[derive(Debug)]
pub struct Stamper {
    prefix: u64,
    next: AtomicU64,
}

impl Stamper {
    /// A stamper whose ids start with `node_prefix` (64 random bits per node).
    pub fn new(node_prefix: u64) -> Self {
        Stamper {
            prefix: node_prefix,
            next: AtomicU64::new(1),
        }
    }

    /// A fresh id, never [`MessageId::UNSET`].
    pub fn next_id(&self) -> MessageId {
        // Relaxed: only uniqueness matters; no other memory is published through the counter.
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        MessageId::from_parts(self.prefix, seq.max(1))
    }

    /// Gives `msg` an id and a timestamp unless it has them already.
    pub fn stamp(&self, msg: &mut Message) {
        if msg.id.is_unset() {
            msg.id = self.next_id();
        }
        if msg.timestamp == 0 {
            msg.timestamp = wall_clock_ms();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_once_with_unique_ids() {
        let s = Stamper::new(7);
        let mut a = Message::event("a", "e", ());
        let mut b = Message::event("a", "e", ());
        s.stamp(&mut a);
        s.stamp(&mut b);
        assert_ne!(a.id, b.id);
        assert!(a.timestamp > 0);
        let id = a.id;
        s.stamp(&mut a);
        assert_eq!(a.id, id, "an existing id is kept");
    }
}
