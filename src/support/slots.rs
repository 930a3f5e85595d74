//! A count with a limit: the bound on messages waiting in a supervisor's mailbox, and on the
//! sessions a node's endpoints serve.
//!
//! Handles hand the supervisor everything that is not for a local agent (remote destinations,
//! broadcasts, requests). actix mailboxes accept `do_send` past their capacity, so without a
//! bound a fast producer could grow the supervisor's mailbox without limit; with it, a send past
//! `max_backlog` reports `Full` (or is counted as dropped for fire-and-forget sends) instead.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One slot taken from [`Slots`] (zero-sized; only `try_reserve` makes one), travelling with
/// what holds it until [`Slots::release`] takes it back.
#[derive(Debug)]
#[must_use = "a reserved slot must be released"]
pub struct Reserved(());

/// Items (messages handed to the supervisor, sessions served) currently held, under a limit.
#[derive(Debug)]
pub struct Slots {
    queued: AtomicUsize,
    rejected: AtomicU64,
    limit: usize,
}

impl Slots {
    /// A backlog of at most `limit` messages.
    pub fn new(limit: usize) -> Self {
        Slots {
            queued: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
            limit: limit.max(1),
        }
    }

    /// Takes a slot; `None` when all are taken. The slot is given back with [`Slots::release`],
    /// which takes the reservation: a slot cannot be released without having been taken.
    pub fn try_reserve(&self) -> Option<Reserved> {
        // Relaxed: the counter only bounds memory; no other data is published through it, and
        // the mailbox push that follows carries its own synchronisation.
        let before = self.queued.fetch_add(1, Ordering::Relaxed);
        if before >= self.limit {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Reserved(()))
    }

    /// Gives back the slot of `reserved`.
    pub fn release(&self, reserved: Reserved) {
        let Reserved(()) = reserved;
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a fire-and-forget message dropped because the backlog was full; returns the
    /// running total.
    pub fn count_rejected(&self) -> u64 {
        self.rejected.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Messages waiting now.
    pub fn len(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Fire-and-forget messages dropped so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_released() {
        let b = Slots::new(2);
        let first = b.try_reserve().unwrap();
        let _second = b.try_reserve().unwrap();
        assert!(b.try_reserve().is_none());
        assert_eq!(b.len(), 2);
        b.release(first);
        assert!(b.try_reserve().is_some());
        assert_eq!(b.count_rejected(), 1);
    }
}
