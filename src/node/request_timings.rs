//! How long this node's requests took, by outcome: a fixed-bucket histogram of atomics that
//! every handle records into when a request's future resolves, and that metrics read at scrape
//! time. Recording is a handful of relaxed atomic adds — no lock on the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use swarm_protocol::Value;

use crate::error::TransportError;

/// Upper bounds of the buckets, in seconds (a last bucket, `+Inf`, takes the rest).
pub const BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How a request ended, as the `outcome` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The agent answered with a result.
    Ok,
    /// The agent (or its node) answered with an error.
    RemoteError,
    /// No answer before the deadline.
    Timeout,
    /// No agent of that name anywhere this node knows.
    UnknownAgent,
    /// The link carrying it was lost.
    ConnectionLost,
    /// Anything else: refused for a full queue or table, node stopped, expired ttl.
    Refused,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::RemoteError,
        Outcome::Timeout,
        Outcome::UnknownAgent,
        Outcome::ConnectionLost,
        Outcome::Refused,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::RemoteError => "remote_error",
            Outcome::Timeout => "timeout",
            Outcome::UnknownAgent => "unknown_agent",
            Outcome::ConnectionLost => "connection_lost",
            Outcome::Refused => "refused",
        }
    }

    /// The outcome of a request's result.
    pub fn of(result: &Result<Value, TransportError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(TransportError::Remote { .. }) => Outcome::RemoteError,
            Err(TransportError::Timeout) => Outcome::Timeout,
            Err(TransportError::UnknownAgent(_)) => Outcome::UnknownAgent,
            Err(TransportError::ConnectionLost) => Outcome::ConnectionLost,
            Err(_) => Outcome::Refused,
        }
    }
}

/// One outcome's histogram.
#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket (not cumulative), `BUCKETS.len()` bounded ones then `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A histogram as metrics encode it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramReading {
    /// Sum of the durations, in seconds.
    pub sum: f64,
    /// Number of requests.
    pub count: u64,
    /// `(upper bound, requests in this bucket)`, not cumulative, ending with `+Inf`.
    pub buckets: Vec<(f64, u64)>,
}

/// The request durations of one node, per outcome.
#[derive(Debug, Default)]
pub struct RequestTimings {
    outcomes: [Histogram; Outcome::ALL.len()],
}

impl RequestTimings {
    /// Records one request that ended with `outcome` after `elapsed`.
    pub fn record(&self, outcome: Outcome, elapsed: Duration) {
        let h = &self.outcomes[outcome as usize];
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&bound| secs <= bound)
            .unwrap_or(BUCKETS.len());
        // Relaxed: statistics with no partner; a scrape may see a count without its sum for an
        // instant, which Prometheus tolerates (the next scrape is consistent).
        h.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        h.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The histogram of `outcome` now.
    pub fn read(&self, outcome: Outcome) -> HistogramReading {
        let h = &self.outcomes[outcome as usize];
        let bounds = BUCKETS.iter().copied().chain([f64::INFINITY]);
        // Relaxed: see `record`.
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&h.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        HistogramReading {
            sum: h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_lands_in_the_first_bucket_that_holds_it() {
        let t = RequestTimings::default();
        t.record(Outcome::Ok, Duration::from_micros(100));
        t.record(Outcome::Ok, Duration::from_micros(101));
        t.record(Outcome::Ok, Duration::from_secs(60));
        t.record(Outcome::Timeout, Duration::from_secs(2));
        let ok = t.read(Outcome::Ok);
        assert_eq!(ok.count, 3);
        assert_eq!(ok.buckets[0], (0.000_1, 1));
        assert_eq!(ok.buckets[1], (0.000_25, 1));
        assert_eq!(ok.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((ok.sum - 60.000_201).abs() < 1e-9);
        let timeout = t.read(Outcome::Timeout);
        assert_eq!(timeout.count, 1);
        assert_eq!(timeout.buckets[13], (2.5, 1));
        assert_eq!(t.read(Outcome::RemoteError).count, 0);
    }

    #[test]
    fn every_error_has_an_outcome() {
        let remote = TransportError::Remote {
            code: 1,
            message: "no".into(),
        };
        assert_eq!(Outcome::of(&Ok(Value::Null)), Outcome::Ok);
        assert_eq!(Outcome::of(&Err(remote)), Outcome::RemoteError);
        assert_eq!(Outcome::of(&Err(TransportError::Timeout)), Outcome::Timeout);
        assert_eq!(
            Outcome::of(&Err(TransportError::UnknownAgent("x".into()))),
            Outcome::UnknownAgent
        );
        assert_eq!(
            Outcome::of(&Err(TransportError::ConnectionLost)),
            Outcome::ConnectionLost
        );
        assert_eq!(Outcome::of(&Err(TransportError::Full)), Outcome::Refused);
        let labels: Vec<_> = Outcome::ALL.iter().map(|o| o.label()).collect();
        assert_eq!(
            labels,
            [
                "ok",
                "remote_error",
                "timeout",
                "unknown_agent",
                "connection_lost",
                "refused"
            ]
        );
    }
}
