//! A bounded priority queue for one link's outbound data: higher priority first, FIFO within
//! a priority, bounded in messages and in bytes. A push past either bound is refused and hands
//! the item back, so memory never grows without limit and nothing is dropped silently.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

struct Entry<T> {
    priority: u8,
    seq: Reverse<u64>,
    size: usize,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.priority == other.priority && self.seq == other.seq
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap: higher priority first, then the lower sequence number (older) first.
        (self.priority, self.seq).cmp(&(other.priority, other.seq))
    }
}

/// Bounded outbound queue.
pub struct OutboundQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
}

impl<T> OutboundQueue<T> {
    /// A queue holding at most `max_messages` items and `max_bytes` bytes.
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        OutboundQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            bytes: 0,
            max_messages,
            max_bytes,
        }
    }

    /// Queues `item` of `size` bytes, or hands it back when a bound would be exceeded. A single
    /// item larger than `max_bytes` is accepted into an empty queue, so it is not stuck forever.
    pub fn push(&mut self, priority: u8, size: usize, item: T) -> Result<(), T> {
        let over_bytes = !self.heap.is_empty() && self.bytes + size > self.max_bytes;
        if self.heap.len() >= self.max_messages || over_bytes {
            return Err(item);
        }
        self.bytes += size;
        let seq = Reverse(self.next_seq);
        self.next_seq += 1;
        self.heap.push(Entry {
            priority,
            seq,
            size,
            item,
        });
        Ok(())
    }

    /// The next item to send, with its size.
    pub fn pop(&mut self) -> Option<(T, usize)> {
        let e = self.heap.pop()?;
        self.bytes -= e.size;
        Some((e.item, e.size))
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Removes everything, in send order.
    pub fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.heap.len());
        while let Some((item, _)) = self.pop() {
            out.push(item);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_first_fifo_within() {
        let mut q = OutboundQueue::new(100, 1000);
        for (p, x) in [(1, 'a'), (9, 'b'), (1, 'c'), (9, 'd'), (5, 'e')] {
            q.push(p, 1, x).unwrap();
        }
        assert_eq!(q.drain(), vec!['b', 'd', 'e', 'a', 'c']);
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let mut q = OutboundQueue::new(2, 100);
        q.push(0, 10, 1).unwrap();
        q.push(0, 10, 2).unwrap();
        assert_eq!(q.push(0, 10, 3), Err(3));
        let mut q = OutboundQueue::new(10, 100);
        q.push(0, 60, 1).unwrap();
        assert_eq!(q.push(0, 60, 2), Err(2));
        assert_eq!(q.bytes(), 60);
        assert_eq!(q.pop(), Some((1, 60)));
        // An oversized item still fits an empty queue.
        q.push(0, 500, 3).unwrap();
        assert_eq!(q.len(), 1);
    }
}
