//! A bounded priority queue for one link's outbound data: higher priority first, FIFO within
//! a priority, bounded in messages and in bytes. A push past either bound is refused and hands
//! the item back, so memory never grows without limit and nothing is dropped silently.

use std::collections::VecDeque;

/// Priorities a queue distinguishes (all of `u8`).
const PRIORITIES: usize = 256;

/// Bounded outbound queue: one FIFO per priority and a bitmap of the non-empty ones, so push
/// and pop are O(1) however deep the queue (a binary heap paid O(log n) with cache misses
/// per message on long queues).
pub struct OutboundQueue<T> {
    lanes: Vec<VecDeque<(usize, T)>>,
    occupied: [u64; PRIORITIES / 64],
    len: usize,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
}

impl<T> OutboundQueue<T> {
    /// A queue holding at most `max_messages` items and `max_bytes` bytes.
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        OutboundQueue {
            // Empty deques do not allocate.
            lanes: (0..PRIORITIES).map(|_| VecDeque::new()).collect(),
            occupied: [0; PRIORITIES / 64],
            len: 0,
            bytes: 0,
            max_messages,
            max_bytes,
        }
    }

    /// Queues `item` of `size` bytes, or hands it back when a bound would be exceeded. A single
    /// item larger than `max_bytes` is accepted into an empty queue, so it is not stuck forever.
    pub fn push(&mut self, priority: u8, size: usize, item: T) -> Result<(), T> {
        let over_bytes = self.len > 0 && self.bytes + size > self.max_bytes;
        if self.len >= self.max_messages || over_bytes {
            return Err(item);
        }
        let p = priority as usize;
        self.lanes[p].push_back((size, item));
        self.occupied[p / 64] |= 1 << (p % 64);
        self.len += 1;
        self.bytes += size;
        Ok(())
    }

    /// The next item to send (highest priority, oldest first), with its size.
    pub fn pop(&mut self) -> Option<(T, usize)> {
        let word = (0..self.occupied.len())
            .rev()
            .find(|&w| self.occupied[w] != 0)?;
        let p = word * 64 + (63 - self.occupied[word].leading_zeros() as usize);
        let (size, item) = self.lanes[p].pop_front()?;
        if self.lanes[p].is_empty() {
            self.occupied[word] &= !(1 << (p % 64));
        }
        self.len -= 1;
        self.bytes -= size;
        Some((item, size))
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes queued.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Removes everything, in send order.
    pub fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
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
    fn order_is_a_stable_sort_by_priority_across_all_priorities() {
        let mut q = OutboundQueue::new(10_000, usize::MAX);
        let mut expected = Vec::new();
        let mut x: u32 = 12345;
        for i in 0..5000u32 {
            // A small LCG: every priority from 0 to 255 appears, interleaved.
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let p = (x >> 16) as u8;
            q.push(p, 1, (p, i)).unwrap();
            expected.push((p, i));
            if i % 7 == 0 {
                // Interleave pops with pushes.
                expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                assert_eq!(q.pop().map(|(v, _)| v), Some(expected.remove(0)));
            }
        }
        expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        assert_eq!(q.drain(), expected);
        assert!(q.is_empty() && q.bytes() == 0);
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
