//! The inbound gauge: bytes a link has handed to its node that the node has not handled yet,
//! and the tickets that keep them counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// Bytes a link has handed to its port that the node has not handled yet. Links
/// that read from a socket check it: they stop reading while too much waits (backpressure to
/// the peer, [`InboundGauge::poll_below`]), and drop a peer that still gets past the hard
/// limit, so that a flood cannot grow the node's mailbox without bound.
#[derive(Debug, Default, Clone)]
pub struct InboundGauge(Arc<GaugeShared>);

#[derive(Debug, Default)]
struct GaugeShared {
    bytes: AtomicUsize,
    /// The reader waiting for the gauge to fall below its limit.
    reader: Mutex<Option<Waker>>,
}

impl InboundGauge {
    /// Counts `bytes` as pending until the returned ticket is dropped (by the node, once
    /// it has handled the message that carries it).
    pub fn ticket(&self, bytes: usize) -> InboundTicket {
        // Relaxed: a bound on a count; the message carrying the ticket is the synchronisation.
        self.0.bytes.fetch_add(bytes, Ordering::Relaxed);
        InboundTicket {
            gauge: self.0.clone(),
            bytes,
        }
    }

    /// Bytes pending now.
    pub fn pending(&self) -> usize {
        self.0.bytes.load(Ordering::Relaxed)
    }

    /// Ready when fewer than `limit` bytes are pending; otherwise the task of `cx` is woken
    /// when the node next drops a ticket.
    pub fn poll_below(&self, limit: usize, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.pending() < limit {
            return Poll::Ready(());
        }
        *self.0.lock_reader() = Some(cx.waker().clone());
        // A ticket dropped between the first look and the registration found no waker: look
        // again now that it is registered. The lock orders the two: a drop that took the lock
        // before us made its count visible to this load.
        if self.pending() < limit {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl GaugeShared {
    fn lock_reader(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        // Only an `Option<Waker>` is behind the lock: a panic cannot leave it inconsistent.
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keeps bytes counted in an [`InboundGauge`] until dropped.
#[derive(Debug)]
pub struct InboundTicket {
    gauge: Arc<GaugeShared>,
    bytes: usize,
}

impl Drop for InboundTicket {
    fn drop(&mut self) {
        self.gauge.bytes.fetch_sub(self.bytes, Ordering::Relaxed);
        // One lock per handled burst (not per message); wakes a reader paused on the limit.
        let waiting = self.gauge.lock_reader().take();
        if let Some(waker) = waiting {
            waker.wake();
        }
    }
}
