//! Rate-limited log lines for events that can happen once per message (drops, refusals):
//! the first of each interval is logged with its details and the number of like events
//! passed over since the previous line, so an overload is visible in the log without the log
//! becoming the overload (a flood once wrote 150 MB of identical warnings). The events
//! themselves are always counted in the node's statistics.

use std::time::Duration;

use crate::support::clock::Instant;

/// How often one kind of per-message line is written at most.
pub const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// One kind of per-message log line, at most once per interval.
#[derive(Debug)]
pub struct LogLimit {
    interval: Duration,
    last: Option<Instant>,
    passed_over: u64,
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit::new(LOG_INTERVAL)
    }
}

impl LogLimit {
    /// At most one line per `interval`.
    pub fn new(interval: Duration) -> Self {
        LogLimit {
            interval,
            last: None,
            passed_over: 0,
        }
    }

    /// `Some(n)` when a line is due now (`n` like events were passed over since the last
    /// one); `None` when this event is only counted.
    pub fn due(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => {
                self.passed_over += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.passed_over))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_passed_over() {
        let mut limit = LogLimit::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(limit.due(t0), Some(0));
        for i in 1..=1000u64 {
            assert_eq!(limit.due(t0 + Duration::from_micros(i)), None);
        }
        assert_eq!(limit.due(t0 + Duration::from_secs(1)), Some(1000));
        assert_eq!(limit.due(t0 + Duration::from_millis(1500)), None);
        assert_eq!(limit.due(t0 + Duration::from_secs(3)), Some(1));
    }
}
