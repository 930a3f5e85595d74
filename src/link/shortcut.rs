//! The inbound shortcut: a link hands a data message straight to its destination (a local
//! agent's mailbox, a request's waiter) instead of through its node's supervisor, saving an
//! actor hop — often a thread hop — per message received.
//!
//! The node decides what may take the shortcut ([`InboundShortcut`]); each link's
//! [`InboundGate`] says when. The gate is open only while the link is active, and a message
//! takes the shortcut only while nothing the link reported earlier waits in the supervisor's
//! mailbox ([`QueuedAtNode`] counts those), so the messages of one link reach their
//! destinations in the order they arrived, whichever way each went.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::delivered_message::DeliveredMessage;

use super::id::LinkId;

/// What a node lets its links deliver without it. Implemented by the node; a link reaches it
/// through its [`LinkPort`](super::LinkPort).
pub trait InboundShortcut: Send + Sync {
    /// Delivers `message`, which arrived on `link`, if it can be without the supervisor (its
    /// destination is at hand and nothing but delivery is to be done); otherwise hands it
    /// back, untouched, for the supervisor.
    fn deliver(&self, link: LinkId, message: DeliveredMessage) -> Result<(), DeliveredMessage>;
}

/// One link's gate to the shortcut, shared by its port and its node.
#[derive(Debug, Default)]
pub struct InboundGate {
    /// Set by the node while the link is active.
    open: AtomicBool,
    /// Reports of this link sent to the node and not yet handled.
    queued: AtomicUsize,
    /// Messages and bytes delivered by the shortcut, not yet taken into the node's counters.
    messages: AtomicU64,
    bytes: AtomicU64,
}

impl InboundGate {
    /// Opens (the link became active) or closes the gate.
    pub fn set_open(&self, open: bool) {
        // Release, paired with the Acquire in `admits`: a port that sees the gate open also
        // sees what the node did before opening it (the link's routes, its return paths).
        self.open.store(open, Ordering::Release);
    }

    /// Whether a message arriving now may take the shortcut: the gate is open and every
    /// earlier report of the link has been handled.
    pub fn admits(&self) -> bool {
        // Acquire, paired with the Release in `QueuedAtNode::drop`: once the count is seen at
        // zero, the deliveries the node made for earlier messages happened before, so a
        // message delivered now lands behind them.
        self.open.load(Ordering::Acquire) && self.queued.load(Ordering::Acquire) == 0
    }

    /// Counts one report sent to the node until the returned guard is dropped.
    pub fn queue(self: &Arc<Self>) -> QueuedAtNode {
        // Relaxed: the increment is made by the only thread that reads the count to decide
        // (the link's), before it sends the report; the decrement's Release orders the rest.
        self.queued.fetch_add(1, Ordering::Relaxed);
        QueuedAtNode(self.clone())
    }

    /// Counts one message of `bytes` delivered by the shortcut.
    pub fn count(&self, bytes: usize) {
        // Relaxed: statistics, read by `take_counts`; nothing is published through them.
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Messages and bytes delivered by the shortcut since the last call.
    pub fn take_counts(&self) -> (u64, u64) {
        // Relaxed: see `count`.
        (
            self.messages.swap(0, Ordering::Relaxed),
            self.bytes.swap(0, Ordering::Relaxed),
        )
    }
}

/// Held by a report on its way to the node; dropped once the node has handled it.
#[derive(Debug)]
pub struct QueuedAtNode(Arc<InboundGate>);

impl Drop for QueuedAtNode {
    fn drop(&mut self) {
        // Release, paired with the Acquire in `InboundGate::admits`.
        self.0.queued.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_only_while_open_and_nothing_is_queued() {
        let gate = Arc::new(InboundGate::default());
        assert!(!gate.admits(), "a new gate is closed");
        gate.set_open(true);
        assert!(gate.admits());
        let first = gate.queue();
        let second = gate.queue();
        assert!(!gate.admits());
        drop(first);
        assert!(!gate.admits(), "one report still waits");
        drop(second);
        assert!(gate.admits());
        gate.set_open(false);
        assert!(!gate.admits());
    }

    #[test]
    fn counts_are_taken_once() {
        let gate = InboundGate::default();
        gate.count(10);
        gate.count(5);
        assert_eq!(gate.take_counts(), (2, 15));
        assert_eq!(gate.take_counts(), (0, 0));
    }
}
