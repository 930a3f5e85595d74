//! How far the peer has read what we sent on a link, learned from heartbeat echoes.
//!
//! Probes and data share one ordered link, so the echo of probe `seq` proves the peer has read
//! every byte we handed to the link before that probe. Bytes handed but not yet proven read are
//! *unconsumed*; past `limit` the link gets no more data (it waits in the link's bounded queue,
//! and senders get `Full`), so a slow reader cannot make us buffer without bound. After every
//! quarter of the limit handed, the caller should probe at once rather than wait for the next
//! regular heartbeat. A link that stays at the limit for a whole `timeout` is a slow consumer
//! and should be closed.

use std::collections::VecDeque;
use std::time::Duration;

use super::TimePoint;

/// Most probe marks remembered (older ones are dropped; their echoes then prove nothing new).
const MAX_MARKS: usize = 64;

/// Read progress of the peer of one link.
#[derive(Debug, Clone)]
pub struct ConsumptionTracker<I> {
    limit: u64,
    handed: u64,
    confirmed: u64,
    /// (probe seq, bytes handed when it was sent), in seq order.
    marks: VecDeque<(u64, u64)>,
    full_since: Option<I>,
}

impl<I: TimePoint> ConsumptionTracker<I> {
    /// Allows `limit` unconsumed bytes.
    pub fn new(limit: u64) -> Self {
        ConsumptionTracker {
            limit: limit.max(1),
            handed: 0,
            confirmed: 0,
            marks: VecDeque::new(),
            full_since: None,
        }
    }

    /// Bytes handed to the link and not yet proven read.
    pub fn unconsumed(&self) -> u64 {
        self.handed - self.confirmed
    }

    /// `bytes` of data were handed to the link.
    pub fn on_handed(&mut self, bytes: u64) {
        self.handed += bytes;
    }

    /// Probe `seq` was sent after everything handed so far.
    pub fn on_probe(&mut self, seq: u64) {
        if self.marks.len() >= MAX_MARKS {
            self.marks.pop_front();
        }
        self.marks.push_back((seq, self.handed));
    }

    /// The echo of probe `seq` arrived: everything handed before it has been read.
    pub fn on_echo(&mut self, seq: u64) {
        while let Some(&(s, bytes)) = self.marks.front() {
            if s > seq {
                break;
            }
            self.marks.pop_front();
            self.confirmed = self.confirmed.max(bytes);
        }
    }

    /// Whether more data may be handed to the link (reads no clock; see
    /// [`ConsumptionTracker::note_state`]).
    pub fn has_room(&self) -> bool {
        self.unconsumed() < self.limit
    }

    /// Whether the "full" bookkeeping needs the time: the link is full, or was until now.
    pub fn needs_note(&self) -> bool {
        !self.has_room() || self.full_since.is_some()
    }

    /// Starts the "full" period at `now` if the link is full, ends it if not.
    pub fn note_state(&mut self, now: I) {
        if self.has_room() {
            self.full_since = None;
        } else {
            self.full_since.get_or_insert(now);
        }
    }

    /// Whether more data may be handed to the link now; starts or ends the "full" period.
    pub fn can_hand(&mut self, now: I) -> bool {
        self.note_state(now);
        self.has_room()
    }

    /// Whether a probe should go out now to learn sooner how far the peer has read: once a
    /// quarter of the limit has been handed since the last probe, so that confirmations keep
    /// arriving while data flows and the limit rarely stalls a fast reader.
    pub fn wants_probe(&self) -> bool {
        let last_mark = self.marks.back().map_or(self.confirmed, |&(_, b)| b);
        self.handed - last_mark >= self.limit / 4
    }

    /// When the link will have been full for `timeout` (if it is full).
    pub fn deadline(&self, timeout: Duration) -> Option<I> {
        self.full_since.map(|t| t + timeout)
    }

    /// Whether the link has been full for `timeout` by `now`.
    pub fn overdue(&self, now: I, timeout: Duration) -> bool {
        self.deadline(timeout).is_some_and(|d| now >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn echoes_confirm_what_was_handed_before_their_probe() {
        let mut c: ConsumptionTracker<Duration> = ConsumptionTracker::new(100);
        c.on_handed(30);
        c.on_probe(1);
        c.on_handed(50);
        c.on_probe(2);
        assert_eq!(c.unconsumed(), 80);
        c.on_echo(1);
        assert_eq!(c.unconsumed(), 50);
        c.on_echo(7); // unknown, later seq: confirms everything up to it
        assert_eq!(c.unconsumed(), 0);
        c.on_echo(1); // stale: nothing changes
        assert_eq!(c.unconsumed(), 0);
    }

    #[test]
    fn the_limit_blocks_and_a_long_block_is_overdue() {
        let mut c: ConsumptionTracker<Duration> = ConsumptionTracker::new(100);
        c.on_handed(60);
        assert!(c.can_hand(t(0)));
        assert!(
            c.wants_probe(),
            "a quarter of the limit since the last probe"
        );
        c.on_probe(1);
        assert!(!c.wants_probe(), "nothing handed since the last probe");
        c.on_handed(40);
        assert!(!c.can_hand(t(10)));
        assert_eq!(c.deadline(t(1000)), Some(t(1010)));
        assert!(!c.overdue(t(500), t(1000)));
        assert!(c.overdue(t(1010), t(1000)));
        c.on_echo(1);
        assert!(c.can_hand(t(1020)), "60 read, 40 left");
        assert_eq!(c.deadline(t(1000)), None);
    }

    #[test]
    fn marks_are_bounded() {
        let mut c: ConsumptionTracker<Duration> = ConsumptionTracker::new(100);
        for seq in 0..1000 {
            c.on_handed(1);
            c.on_probe(seq);
        }
        assert!(c.marks.len() <= MAX_MARKS);
        c.on_echo(999);
        assert_eq!(c.unconsumed(), 0);
    }
}
