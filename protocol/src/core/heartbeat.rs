//! Heartbeat tracking for one link: when to probe, when the peer is dead, and the RTT.
//!
//! Every `interval` the tracker asks for a probe (`Heartbeat { seq, echo: false }`), which the
//! peer echoes (`echo: true`); echoes give RTT samples, smoothed as in RFC 6298. Only an echo of
//! one of our probes proves the peer alive — not its other traffic — so a peer that keeps
//! sending but stopped reading (the failure hand-rolled WebSocket heartbeats miss) is declared
//! dead like a silent one, `timeout` after its last echo.

use std::collections::VecDeque;
use std::time::Duration;

use super::TimePoint;

/// Most probes remembered while waiting for their echoes.
const MAX_OUTSTANDING: usize = 32;

/// What the caller should do after [`HeartbeatTracker::on_timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatAction {
    /// Nothing is due yet.
    Idle,
    /// Send a probe with this sequence number.
    Probe {
        /// Sequence number to put in the heartbeat.
        seq: u64,
    },
    /// Nothing heard for `timeout`: declare the link dead.
    Dead,
}

/// Smoothed round-trip time estimate (RFC 6298 SRTT/RTTVAR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RttEstimate {
    /// Smoothed RTT.
    pub srtt: Duration,
    /// RTT variation.
    pub rttvar: Duration,
    /// Most recent sample.
    pub latest: Duration,
}

/// Heartbeat state of one link.
#[derive(Debug, Clone)]
pub struct HeartbeatTracker<I> {
    interval: Duration,
    timeout: Duration,
    last_heard: I,
    next_probe: I,
    next_seq: u64,
    outstanding: VecDeque<(u64, I)>,
    rtt: Option<RttEstimate>,
}

impl<I: TimePoint> HeartbeatTracker<I> {
    /// A tracker for a link that came up at `now`.
    pub fn new(now: I, interval: Duration, timeout: Duration) -> Self {
        HeartbeatTracker {
            interval,
            timeout,
            last_heard: now,
            next_probe: now + interval,
            next_seq: 1,
            outstanding: VecDeque::new(),
            rtt: None,
        }
    }

    /// The echo of probe `seq` arrived at `now`; returns the RTT sample if the probe was ours
    /// (only then does it count as a sign of life).
    pub fn on_echo(&mut self, seq: u64, now: I) -> Option<Duration> {
        let pos = self.outstanding.iter().position(|&(s, _)| s == seq)?;
        let (_, sent) = self.outstanding.remove(pos)?;
        if now > self.last_heard {
            self.last_heard = now;
        }
        // Older probes whose echoes never came will not come now.
        self.outstanding.drain(..pos);
        let sample = now - sent;
        self.rtt = Some(match self.rtt {
            None => RttEstimate {
                srtt: sample,
                rttvar: sample / 2,
                latest: sample,
            },
            Some(prev) => {
                let diff = prev.srtt.abs_diff(sample);
                RttEstimate {
                    rttvar: (prev.rttvar * 3 + diff) / 4,
                    srtt: (prev.srtt * 7 + sample) / 8,
                    latest: sample,
                }
            }
        });
        Some(sample)
    }

    /// The current RTT estimate, once an echo arrived.
    pub fn rtt(&self) -> Option<RttEstimate> {
        self.rtt
    }

    /// When [`HeartbeatTracker::on_timeout`] next has something to do.
    pub fn next_deadline(&self) -> I {
        self.next_probe.min(self.last_heard + self.timeout)
    }

    /// Advances to `now`: dead, probe, or nothing.
    pub fn on_timeout(&mut self, now: I) -> HeartbeatAction {
        if now >= self.last_heard + self.timeout {
            return HeartbeatAction::Dead;
        }
        if now < self.next_probe {
            return HeartbeatAction::Idle;
        }
        HeartbeatAction::Probe {
            seq: self.probe_now(now),
        }
    }

    /// Starts a probe at `now` out of turn (e.g. to learn sooner how far the peer has read);
    /// returns its sequence number. The next regular probe comes `interval` later.
    pub fn probe_now(&mut self, now: I) -> u64 {
        self.next_probe = now + self.interval;
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.outstanding.len() >= MAX_OUTSTANDING {
            self.outstanding.pop_front();
        }
        self.outstanding.push_back((seq, now));
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn probes_every_interval_and_measures_rtt() {
        let mut hb = HeartbeatTracker::new(t(0), t(100), t(350));
        assert_eq!(hb.next_deadline(), t(100));
        assert_eq!(hb.on_timeout(t(50)), HeartbeatAction::Idle);
        assert_eq!(hb.on_timeout(t(100)), HeartbeatAction::Probe { seq: 1 });
        assert_eq!(hb.on_echo(1, t(110)), Some(t(10)));
        assert_eq!(hb.on_echo(1, t(111)), None, "an echo counts once");
        assert_eq!(hb.rtt().unwrap().srtt, t(10));
        assert_eq!(hb.on_timeout(t(200)), HeartbeatAction::Probe { seq: 2 });
        assert_eq!(hb.on_echo(2, t(230)), Some(t(30)));
        let rtt = hb.rtt().unwrap();
        assert_eq!(rtt.latest, t(30));
        assert_eq!(rtt.srtt, (t(10) * 7 + t(30)) / 8);
    }

    #[test]
    fn only_echoes_keep_a_link_alive() {
        let mut hb = HeartbeatTracker::new(t(0), t(100), t(350));
        for now in [100, 200, 300] {
            assert!(matches!(
                hb.on_timeout(t(now)),
                HeartbeatAction::Probe { .. }
            ));
        }
        // An echo of an unknown probe is no sign of life.
        assert_eq!(hb.on_echo(99, t(300)), None);
        assert_eq!(hb.on_timeout(t(350)), HeartbeatAction::Dead);
        let mut hb = HeartbeatTracker::new(t(0), t(100), t(350));
        assert_eq!(hb.on_timeout(t(300)), HeartbeatAction::Probe { seq: 1 });
        assert!(hb.on_echo(1, t(300)).is_some());
        assert_eq!(hb.next_deadline(), t(400));
        assert!(matches!(
            hb.on_timeout(t(400)),
            HeartbeatAction::Probe { .. }
        ));
        assert_eq!(hb.next_deadline(), t(500).min(t(650)));
        assert_eq!(hb.on_timeout(t(649)), HeartbeatAction::Probe { seq: 3 });
        assert_eq!(hb.on_timeout(t(650)), HeartbeatAction::Dead);
    }

    #[test]
    fn outstanding_probes_are_bounded() {
        let mut hb = HeartbeatTracker::new(t(0), t(1), t(1_000_000));
        for i in 1..=1000u64 {
            hb.on_timeout(t(i));
        }
        assert!(hb.outstanding.len() <= MAX_OUTSTANDING);
        assert!(hb.on_echo(1, t(2000)).is_none());
        assert!(hb.on_echo(1000, t(2000)).is_some());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Event {
            /// Advance time by this many ms, then traffic arrives.
            Traffic(u16),
            /// Advance time by this many ms, then the timer fires.
            Timer(u16),
            /// Advance time by this many ms, then the echo of the latest probe arrives.
            Echo(u16),
        }

        fn event() -> impl Strategy<Value = Event> {
            prop_oneof![
                (0u16..400).prop_map(Event::Traffic),
                (0u16..400).prop_map(Event::Timer),
                (0u16..400).prop_map(Event::Echo),
            ]
        }

        proptest! {
            /// Death is declared exactly when no echo came for `timeout`; probes are at least
            /// `interval` apart; the deadline never lies past the death deadline.
            #[test]
            fn dead_iff_silent_for_timeout(events in proptest::collection::vec(event(), 1..100)) {
                let (interval, timeout) = (t(100), t(350));
                let mut hb = HeartbeatTracker::new(t(0), interval, timeout);
                let (mut now, mut heard, mut last_probe) = (t(0), t(0), None::<Duration>);
                let mut latest_seq = None;
                for e in events {
                    match e {
                        Event::Traffic(dt) => {
                            // Other traffic from the peer: no sign of life by itself.
                            now += t(dt.into());
                        }
                        Event::Echo(dt) => {
                            now += t(dt.into());
                            if let Some(seq) = latest_seq {
                                if let Some(rtt) = hb.on_echo(seq, now) {
                                    prop_assert!(rtt <= now);
                                    heard = now;
                                }
                            }
                        }
                        Event::Timer(dt) => {
                            now += t(dt.into());
                            match hb.on_timeout(now) {
                                HeartbeatAction::Dead => prop_assert!(now - heard >= timeout),
                                other => {
                                    prop_assert!(now - heard < timeout);
                                    if let HeartbeatAction::Probe { seq } = other {
                                        if let Some(prev) = last_probe {
                                            prop_assert!(now - prev >= interval);
                                        }
                                        last_probe = Some(now);
                                        latest_seq = Some(seq);
                                    }
                                }
                            }
                        }
                    }
                    prop_assert!(hb.next_deadline() <= heard + timeout);
                }
            }
        }
    }
}
