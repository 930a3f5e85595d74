//! Where each response goes: the node that sent the request (pure, bounded).
//!
//! A request arrives on an agent's subject with a reply subject naming the requesting node
//! (see [`subjects`](super::subjects)). The link remembers `request id → node` until the
//! response leaves, so the response is one publish to that node's inbox — whatever name the
//! requester used as its source (it need not be a registered agent). The table is bounded:
//! past `capacity` the oldest entries are forgotten, and a response without an entry goes to
//! its destination agent's subject instead.

use std::collections::{HashMap, VecDeque};

use swarm_protocol::MessageId;

/// Requests received and not answered yet, with the node each came from.
#[derive(Debug)]
pub struct ReplyRoutes {
    nodes: HashMap<MessageId, String>,
    order: VecDeque<MessageId>,
    capacity: usize,
}

impl ReplyRoutes {
    /// A table of at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        ReplyRoutes {
            nodes: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Request `id` came from `node`.
    pub fn remember(&mut self, id: MessageId, node: String) {
        if self.nodes.insert(id, node).is_none() {
            self.order.push_back(id);
        }
        while self.nodes.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.nodes.remove(&oldest);
                }
                None => break,
            }
        }
        // Answered ids leave `order` lazily; keep it from growing past twice the live entries.
        if self.order.len() > 2 * self.capacity {
            let nodes = &self.nodes;
            self.order.retain(|id| nodes.contains_key(id));
        }
    }

    /// The node that sent request `id` (forgotten afterwards: one response per request).
    pub fn take(&mut self, id: MessageId) -> Option<String> {
        self.nodes.remove(&id)
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_response_per_request_and_the_oldest_are_forgotten_first() {
        let mut r = ReplyRoutes::new(2);
        r.remember(MessageId(1), "a".into());
        r.remember(MessageId(2), "b".into());
        assert_eq!(r.take(MessageId(1)).as_deref(), Some("a"));
        assert_eq!(r.take(MessageId(1)), None);
        r.remember(MessageId(3), "c".into());
        r.remember(MessageId(4), "d".into());
        assert_eq!(r.len(), 2);
        assert_eq!(r.take(MessageId(2)), None, "oldest forgotten past capacity");
        assert_eq!(r.take(MessageId(4)).as_deref(), Some("d"));
    }

    #[test]
    fn memory_stays_bounded_under_churn() {
        let mut r = ReplyRoutes::new(16);
        for i in 0..100_000u128 {
            r.remember(MessageId(i), "n".into());
            if i % 3 == 0 {
                r.take(MessageId(i));
            }
        }
        assert!(r.len() <= 16);
        assert!(r.order.len() <= 32);
    }
}
