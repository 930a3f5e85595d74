//! Request/response correlation: pending requests keyed by id, each with its own deadline.
//!
//! Guarantees the supervisor builds on:
//! * a response completes **exactly one** waiter, once ([`CorrelationTable::complete`] removes);
//! * every waiter leaves the table by exactly one of: completion, timeout
//!   ([`CorrelationTable::on_timeout`]), link loss ([`CorrelationTable::fail_link`]) or
//!   [`CorrelationTable::drain`] — so no waiter can hang;
//! * a response that arrives after its request timed out is recognised as *late* (for a
//!   bounded window of recent timeouts) so it can be counted rather than misrouted;
//! * the table is bounded: `insert` refuses past `max_pending`.

use std::collections::{BTreeSet, HashMap};

use foldhash::fast::RandomState;

use super::recent::RecentSet;
use super::TimePoint;
use crate::id::MessageId;

/// Identifies the link a request left on, so its waiters fail when that link is lost.
pub type LinkKey = u64;

/// What [`CorrelationTable::complete`] found for a response.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion<W> {
    /// The waiter of the request; hand it the response.
    Waiter(W),
    /// The request already timed out; drop the response and count it.
    Late,
    /// No such request here (not ours, or long gone).
    Unknown,
}

/// Why an insert was refused; the waiter is handed back.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertError<W> {
    /// A request with this id is already pending.
    Duplicate(W),
    /// `max_pending` requests are already pending.
    Full(W),
}

#[derive(Debug)]
struct Pending<W, I> {
    waiter: W,
    deadline: I,
    link: Option<LinkKey>,
}

/// The pending-request table.
#[derive(Debug)]
pub struct CorrelationTable<W, I> {
    /// Keyed by foldhash (randomly seeded per table): its keys are the ids of requests this
    /// node sent, never chosen by a peer, and SipHash of a `u128` was a tenth of a local round
    /// trip. A peer's response only looks a key up.
    pending: HashMap<MessageId, Pending<W, I>, RandomState>,
    deadlines: BTreeSet<(I, MessageId)>,
    recently_timed_out: RecentSet<MessageId>,
    max_pending: usize,
}

impl<W, I: TimePoint> CorrelationTable<W, I> {
    /// A table holding at most `max_pending` requests, remembering the last 4096 timeouts to
    /// recognise late responses.
    pub fn new(max_pending: usize) -> Self {
        CorrelationTable {
            pending: HashMap::default(),
            deadlines: BTreeSet::new(),
            recently_timed_out: RecentSet::new(4096),
            max_pending,
        }
    }

    /// Number of pending requests.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether `id` is pending.
    pub fn contains(&self, id: MessageId) -> bool {
        self.pending.contains_key(&id)
    }

    /// Registers a request that left on `link` (or `None` for a local agent) and must be
    /// answered before `deadline`.
    pub fn insert(
        &mut self,
        id: MessageId,
        deadline: I,
        link: Option<LinkKey>,
        waiter: W,
    ) -> Result<(), InsertError<W>> {
        if self.pending.contains_key(&id) {
            return Err(InsertError::Duplicate(waiter));
        }
        if self.pending.len() >= self.max_pending {
            return Err(InsertError::Full(waiter));
        }
        self.deadlines.insert((deadline, id));
        self.pending.insert(
            id,
            Pending {
                waiter,
                deadline,
                link,
            },
        );
        Ok(())
    }

    /// Moves a pending request to another link (e.g. resent after a reconnect).
    pub fn set_link(&mut self, id: MessageId, link: Option<LinkKey>) -> bool {
        match self.pending.get_mut(&id) {
            Some(p) => {
                p.link = link;
                true
            }
            None => false,
        }
    }

    /// A response for `id` arrived.
    pub fn complete(&mut self, id: MessageId) -> Completion<W> {
        match self.pending.remove(&id) {
            Some(p) => {
                self.deadlines.remove(&(p.deadline, id));
                Completion::Waiter(p.waiter)
            }
            None if self.recently_timed_out.contains(&id) => Completion::Late,
            None => Completion::Unknown,
        }
    }

    /// The earliest deadline of any pending request.
    pub fn next_deadline(&self) -> Option<I> {
        self.deadlines.first().map(|&(d, _)| d)
    }

    /// Removes and returns every request whose deadline is at or before `now`.
    pub fn on_timeout(&mut self, now: I) -> Vec<(MessageId, W)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(p) = self.pending.remove(&id) {
                self.recently_timed_out.insert(id);
                expired.push((id, p.waiter));
            }
        }
        expired
    }

    /// Removes and returns every request that left on `link` (the link was lost).
    pub fn fail_link(&mut self, link: LinkKey) -> Vec<(MessageId, W)> {
        self.detach_link(link, |_| false)
    }

    /// The link was lost: requests that left on it and that `keep` selects stay pending on no
    /// link (to be sent again; their deadline still runs); the others are removed and returned.
    pub fn detach_link(&mut self, link: LinkKey, keep: impl Fn(&W) -> bool) -> Vec<(MessageId, W)> {
        let mut failed = Vec::new();
        let ids: Vec<MessageId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.link == Some(link))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            if keep(&p.waiter) {
                p.link = None;
            } else if let Some(p) = self.pending.remove(&id) {
                self.deadlines.remove(&(p.deadline, id));
                failed.push((id, p.waiter));
            }
        }
        failed
    }

    /// Every pending request: id, waiter and the link it is on.
    pub fn iter(&self) -> impl Iterator<Item = (MessageId, &W, Option<LinkKey>)> {
        self.pending.iter().map(|(id, p)| (*id, &p.waiter, p.link))
    }

    /// Removes and returns everything (shutdown).
    pub fn drain(&mut self) -> Vec<(MessageId, W)> {
        self.deadlines.clear();
        self.pending.drain().map(|(id, p)| (id, p.waiter)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn response_completes_exactly_one_waiter_once() {
        let mut table = CorrelationTable::new(10);
        table.insert(MessageId(1), t(100), None, "a").unwrap();
        table.insert(MessageId(2), t(100), None, "b").unwrap();
        assert_eq!(table.complete(MessageId(1)), Completion::Waiter("a"));
        assert_eq!(table.complete(MessageId(1)), Completion::Unknown);
        assert_eq!(table.len(), 1);
        assert_eq!(table.next_deadline(), Some(t(100)));
    }

    #[test]
    fn timeouts_fire_in_deadline_order_and_late_responses_are_recognised() {
        let mut table = CorrelationTable::new(10);
        table.insert(MessageId(1), t(300), None, 1).unwrap();
        table.insert(MessageId(2), t(100), None, 2).unwrap();
        table.insert(MessageId(3), t(200), None, 3).unwrap();
        assert_eq!(table.next_deadline(), Some(t(100)));
        assert!(table.on_timeout(t(99)).is_empty());
        let fired = table.on_timeout(t(200));
        assert_eq!(fired, vec![(MessageId(2), 2), (MessageId(3), 3)]);
        assert_eq!(table.next_deadline(), Some(t(300)));
        assert_eq!(table.complete(MessageId(2)), Completion::Late);
        assert_eq!(table.complete(MessageId(1)), Completion::Waiter(1));
        assert_eq!(table.next_deadline(), None);
    }

    #[test]
    fn link_loss_fails_only_that_links_requests() {
        let mut table = CorrelationTable::new(10);
        table.insert(MessageId(1), t(100), Some(7), 'a').unwrap();
        table.insert(MessageId(2), t(100), Some(8), 'b').unwrap();
        table.insert(MessageId(3), t(50), None, 'c').unwrap();
        assert_eq!(table.fail_link(7), vec![(MessageId(1), 'a')]);
        table.insert(MessageId(4), t(100), Some(9), 'k').unwrap();
        table.insert(MessageId(5), t(100), Some(9), 'f').unwrap();
        assert_eq!(
            table.detach_link(9, |w| *w == 'k'),
            vec![(MessageId(5), 'f')]
        );
        assert!(table
            .iter()
            .any(|(id, _, link)| id == MessageId(4) && link.is_none()));
        assert_eq!(table.complete(MessageId(4)), Completion::Waiter('k'));
        assert!(table.set_link(MessageId(2), Some(9)));
        assert!(table.fail_link(8).is_empty());
        assert_eq!(table.len(), 2);
        let mut rest = table.drain();
        rest.sort();
        assert_eq!(rest, vec![(MessageId(2), 'b'), (MessageId(3), 'c')]);
        assert_eq!(table.next_deadline(), None);
    }

    #[test]
    fn bounded_and_no_duplicates() {
        let mut table = CorrelationTable::new(1);
        table.insert(MessageId(1), t(1), None, ()).unwrap();
        assert_eq!(
            table.insert(MessageId(1), t(1), None, ()),
            Err(InsertError::Duplicate(()))
        );
        assert_eq!(
            table.insert(MessageId(2), t(1), None, ()),
            Err(InsertError::Full(()))
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Insert {
                id: u8,
                deadline: u16,
                link: Option<u8>,
            },
            Complete(u8),
            Timeout(u16),
            FailLink(u8),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (any::<u8>(), any::<u16>(), proptest::option::of(0u8..4))
                    .prop_map(|(id, deadline, link)| Op::Insert { id, deadline, link }),
                any::<u8>().prop_map(Op::Complete),
                any::<u16>().prop_map(Op::Timeout),
                (0u8..4).prop_map(Op::FailLink),
            ]
        }

        proptest! {
            /// Every accepted waiter leaves the table exactly once, whatever the interleaving
            /// of responses, timeouts and link losses; nothing expires before its deadline.
            #[test]
            fn every_waiter_leaves_exactly_once(ops in proptest::collection::vec(op(), 0..200)) {
                let mut table: CorrelationTable<u32, Duration> = CorrelationTable::new(64);
                let mut accepted = std::collections::HashMap::new();
                let mut left = std::collections::HashMap::<u32, u32>::new();
                let mut next_waiter = 0u32;
                for op in ops {
                    match op {
                        Op::Insert { id, deadline, link } => {
                            next_waiter += 1;
                            let d = Duration::from_millis(deadline.into());
                            if table.insert(MessageId(id.into()), d, link.map(u64::from), next_waiter).is_ok() {
                                accepted.insert(next_waiter, d);
                            }
                        }
                        Op::Complete(id) => {
                            if let Completion::Waiter(w) = table.complete(MessageId(id.into())) {
                                *left.entry(w).or_default() += 1;
                            }
                        }
                        Op::Timeout(now) => {
                            let now = Duration::from_millis(now.into());
                            for (_, w) in table.on_timeout(now) {
                                prop_assert!(accepted[&w] <= now, "expired before its deadline");
                                *left.entry(w).or_default() += 1;
                            }
                            if let Some(next) = table.next_deadline() {
                                prop_assert!(next > now);
                            }
                        }
                        Op::FailLink(link) => {
                            for (_, w) in table.fail_link(link.into()) {
                                *left.entry(w).or_default() += 1;
                            }
                        }
                    }
                    prop_assert!(table.len() <= 64);
                }
                for (_, w) in table.drain() {
                    *left.entry(w).or_default() += 1;
                }
                prop_assert_eq!(left.len(), accepted.len());
                prop_assert!(left.values().all(|&n| n == 1));
            }
        }
    }
}
