//! Reused burst vectors. A link hands a burst of decoded messages to the node in one
//! vector ([`LinkInboundBatch`](crate::link::LinkInboundBatch)), and the node hands a burst of
//! outbound messages to a link the same way ([`LinkOutboundBatch`](crate::link::LinkOutboundBatch)).
//! The vector travels as a [`Recycled`], which goes back to its [`Spares`] when the receiver
//! drops it, so a busy link allocates no vector per burst. (The large receive buffers of
//! [`BufferPool`](super::buffer_pool::BufferPool) come back the same way, through their own
//! [`VecHome`].)
//!
//! Why it matters: a burst of a thousand messages grew a fresh vector to 16 KiB or more. A
//! request that large makes glibc's malloc consolidate its fast bins first, and the small
//! allocations after it took the slow path: a tenth of a receiving node's time in the
//! shared-memory bench (perf).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

/// Spare vectors kept per owner (a burst in flight, one being filled, and slack).
const SPARES: usize = 4;

/// Vectors that grew beyond this many entries are not kept (bounded memory after a flood).
const MAX_KEPT_CAPACITY: usize = 4096;

/// Empty vectors kept for reuse; clones share them.
#[derive(Debug)]
pub struct Spares<T>(Arc<ArrayQueue<Vec<T>>>);

impl<T> Clone for Spares<T> {
    fn clone(&self) -> Self {
        Spares(self.0.clone())
    }
}

impl<T> Default for Spares<T> {
    fn default() -> Self {
        Spares(Arc::new(ArrayQueue::new(SPARES)))
    }
}

impl<T> Spares<T> {
    /// An empty vector that comes back here when dropped (a spare one if there is one).
    pub fn take(&self) -> Recycled<T> {
        Recycled::returning_to(self.0.pop().unwrap_or_default(), self.clone())
    }
}

/// Where a [`Recycled`] vector goes when it is dropped.
pub trait VecHome<T> {
    /// Takes `items` back (to keep for reuse, or to free).
    fn give_back(&self, items: Vec<T>);
}

impl<T> VecHome<T> for Spares<T> {
    /// Keeps `items` (emptied) for a later burst, unless enough are kept or it is too big.
    fn give_back(&self, mut items: Vec<T>) {
        if items.capacity() == 0 || items.capacity() > MAX_KEPT_CAPACITY {
            return;
        }
        items.clear();
        // A full queue drops the vector: enough spares are kept.
        let _ = self.0.push(items);
    }
}

/// A vector that returns to its home (by default its [`Spares`]) when dropped; derefs to
/// `Vec<T>`.
#[derive(Debug)]
pub struct Recycled<T, H: VecHome<T> = Spares<T>> {
    items: Vec<T>,
    home: Option<H>,
}

impl<T, H: VecHome<T>> Recycled<T, H> {
    /// `items`, given back to `home` when dropped.
    pub fn returning_to(items: Vec<T>, home: H) -> Self {
        Recycled {
            items,
            home: Some(home),
        }
    }
}

/// A vector that is not recycled (freed when dropped): how a link of one's own builds a batch.
impl<T> From<Vec<T>> for Recycled<T> {
    fn from(items: Vec<T>) -> Self {
        Recycled { items, home: None }
    }
}

impl<T, H: VecHome<T>> Deref for Recycled<T, H> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.items
    }
}

impl<T, H: VecHome<T>> DerefMut for Recycled<T, H> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.items
    }
}

impl<H: VecHome<u8>> AsRef<[u8]> for Recycled<u8, H> {
    fn as_ref(&self) -> &[u8] {
        &self.items
    }
}

impl<T, H: VecHome<T>> Drop for Recycled<T, H> {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            home.give_back(std::mem::take(&mut self.items));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_vector_is_taken_again_empty() {
        let spares = Spares::default();
        let mut v = spares.take();
        v.push(String::from("a"));
        v.push(String::from("b"));
        let ptr = v.as_ptr();
        drop(v);
        let again = spares.take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr, "the same allocation comes back");
    }

    #[test]
    fn spares_are_bounded_in_number_and_size() {
        let spares: Spares<u8> = Spares::default();
        for _ in 0..SPARES * 3 {
            spares.give_back(Vec::with_capacity(8));
        }
        spares.give_back(Vec::with_capacity(MAX_KEPT_CAPACITY + 1));
        let kept: Vec<_> = std::iter::from_fn(|| spares.0.pop()).collect();
        assert_eq!(kept.len(), SPARES);
        assert!(kept.iter().all(|v| v.capacity() == 8));
        // An unused (capacity 0) vector is not worth keeping.
        spares.give_back(Vec::new());
        assert!(spares.0.pop().is_none());
    }
}
