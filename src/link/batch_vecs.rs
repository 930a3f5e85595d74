//! Reused burst vectors: a link hands a burst of decoded messages to the supervisor in one
//! vector ([`LinkInboundBatch`](super::LinkInboundBatch)), and the supervisor gives the emptied
//! vector back, so a busy link allocates no vector per burst.
//!
//! Why it matters: a burst of a thousand messages grew a fresh vector to 16 KiB. A request that
//! large makes glibc's malloc consolidate its fast bins first, and every small allocation after
//! it took the slow path: a tenth of a receiving node's time in the shared-memory bench (perf).

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use swarm_protocol::Message;

/// Decoded messages with their sizes on the wire, in arrival order.
pub type InboundMessages = Vec<(Arc<Message>, usize)>;

/// Spare vectors kept per link (a burst in flight, one being filled, and slack).
const SPARES: usize = 4;

/// Vectors that grew beyond this many entries are not kept (bounded memory after a flood).
const MAX_KEPT_CAPACITY: usize = 4096;

/// The spare burst vectors of one link; clones share them.
#[derive(Clone, Debug)]
pub struct BatchVecs(Arc<ArrayQueue<InboundMessages>>);

impl Default for BatchVecs {
    fn default() -> Self {
        BatchVecs(Arc::new(ArrayQueue::new(SPARES)))
    }
}

impl BatchVecs {
    /// An empty vector: a spare one if there is one.
    pub fn take(&self) -> InboundMessages {
        self.0.pop().unwrap_or_default()
    }

    /// Keeps `messages` (emptied) for a later burst, unless enough are kept or it is too big.
    pub fn give_back(&self, mut messages: InboundMessages) {
        if messages.capacity() == 0 || messages.capacity() > MAX_KEPT_CAPACITY {
            return;
        }
        messages.clear();
        // A full queue drops the vector: enough spares are kept.
        let _ = self.0.push(messages);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_vector_is_taken_again_empty() {
        let vecs = BatchVecs::default();
        let mut v = vecs.take();
        v.push((Arc::new(Message::event("a", "t", ())), 1));
        let ptr = v.as_ptr();
        vecs.give_back(v);
        let again = vecs.take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr, "the same allocation comes back");
    }

    #[test]
    fn spares_are_bounded_in_number_and_size() {
        let vecs = BatchVecs::default();
        for _ in 0..SPARES * 3 {
            vecs.give_back(Vec::with_capacity(8));
        }
        vecs.give_back(Vec::with_capacity(MAX_KEPT_CAPACITY + 1));
        let kept: Vec<_> = std::iter::from_fn(|| vecs.0.pop()).collect();
        assert_eq!(kept.len(), SPARES);
        assert!(kept.iter().all(|v| v.capacity() == 8));
        // An unused (capacity 0) vector is not worth keeping.
        vecs.give_back(Vec::new());
        assert!(vecs.0.pop().is_none());
    }
}
