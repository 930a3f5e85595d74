//! Large receive buffers, reused: a message of a megabyte that lands in a fresh allocation
//! costs more in page faults than in copying, so a link copies large frames into buffers
//! taken from a [`BufferPool`] and hands them on as [`Bytes`] that return the buffer to the
//! pool when the last slice of it is dropped (wherever that happens: an agent on another
//! thread, a broadcast's last subscriber).
//!
//! The pool is bounded: it keeps at most `max_bytes` of spare capacity, and never a buffer
//! larger than that. A buffer dropped after its pool is gone is simply freed.

use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

use super::recycled::{Recycled, VecHome};

/// Spare large buffers of one link.
#[derive(Debug)]
pub struct BufferPool {
    spare: Mutex<Spare>,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Spare {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl BufferPool {
    /// A pool keeping at most `max_bytes` of spare capacity.
    pub fn new(max_bytes: usize) -> Arc<Self> {
        Arc::new(BufferPool {
            spare: Mutex::new(Spare::default()),
            max_bytes,
        })
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Spare> {
        // Every critical section is a single push or pop: a panic cannot leave it torn.
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An empty buffer: a spare one (the most recently returned, whose pages are warm), or a
    /// new one.
    pub fn take(&self) -> Vec<u8> {
        let mut spare = self.spare();
        match spare.buffers.pop() {
            Some(buf) => {
                spare.bytes -= buf.capacity();
                buf
            }
            None => Vec::new(),
        }
    }

    /// `buf` as `Bytes`; the buffer comes back to this pool when the last slice is dropped.
    pub fn share(self: &Arc<Self>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Recycled::returning_to(buf, PoolHome(Arc::downgrade(self))))
    }

    /// `data` copied into a pooled buffer.
    pub fn copy(self: &Arc<Self>, data: &[u8]) -> Bytes {
        let mut buf = self.take();
        buf.extend_from_slice(data);
        self.share(buf)
    }

    /// Keeps `buf` for reuse if there is room.
    pub fn give_back(&self, mut buf: Vec<u8>) {
        let capacity = buf.capacity();
        if capacity == 0 || capacity > self.max_bytes {
            return;
        }
        buf.clear();
        let mut spare = self.spare();
        if spare.bytes + capacity <= self.max_bytes {
            spare.bytes += capacity;
            spare.buffers.push(buf);
        }
    }

    /// Spare capacity held now.
    #[cfg(test)]
    pub fn spare_bytes(&self) -> usize {
        self.spare().bytes
    }
}

/// Where a buffer behind a `Bytes` goes back to: its pool, if the pool is still there.
struct PoolHome(Weak<BufferPool>);

impl VecHome<u8> for PoolHome {
    fn give_back(&self, buf: Vec<u8>) {
        if let Some(pool) = self.0.upgrade() {
            pool.give_back(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_the_last_slice_is_dropped() {
        let pool = BufferPool::new(1 << 20);
        let data = vec![5u8; 100_000];
        let bytes = pool.copy(&data);
        assert_eq!(&bytes[..], &data[..]);
        let at = bytes.as_ptr();
        let slice = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(pool.spare_bytes(), 0, "a slice still holds it");
        // The slice lives on another thread and is dropped there.
        std::thread::spawn(move || assert_eq!(&slice[..], &[5u8; 10]))
            .join()
            .unwrap();
        assert!(pool.spare_bytes() >= 100_000);
        let again = pool.copy(&data[..50]);
        assert_eq!(again.as_ptr(), at, "the warm buffer is reused");
        assert_eq!(pool.spare_bytes(), 0);
    }

    #[test]
    fn the_pool_is_bounded() {
        let pool = BufferPool::new(250_000);
        let held: Vec<Bytes> = (0..4).map(|_| pool.copy(&[1u8; 100_000])).collect();
        drop(held);
        assert!(pool.spare_bytes() <= 250_000);
        assert!(pool.spare_bytes() >= 200_000);
        // Larger than the whole pool: never kept.
        drop(pool.copy(&vec![0u8; 300_000]));
        assert!(pool.spare_bytes() <= 250_000);
        // The pool gone, buffers are just freed.
        let orphan = pool.copy(&[1u8; 10]);
        drop(pool);
        drop(orphan);
    }
}
