//! Reconnect backoff: exponential growth, full jitter, a cap and an optional attempt limit.
//!
//! Full jitter (the AWS architecture blog's name): the delay before attempt `n` is uniform in
//! `[0, min(cap, initial * multiplier^n)]`. Randomness is injected: the caller passes a random
//! `u64` per call, so this runs the same on wasm32 and in tests.

use std::time::Duration;

/// Settings of the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackoffPolicy {
    /// Upper bound of the first delay. Default 100 ms.
    pub initial: Duration,
    /// Largest delay. Default 30 s.
    pub max: Duration,
    /// Growth factor per attempt. Default 2.
    pub multiplier: u32,
    /// Give up after this many consecutive failed attempts; `None` = never. Default `None`.
    pub max_attempts: Option<u32>,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            multiplier: 2,
            max_attempts: None,
        }
    }
}

impl BackoffPolicy {
    /// A policy from its parts.
    pub fn new(
        initial: Duration,
        max: Duration,
        multiplier: u32,
        max_attempts: Option<u32>,
    ) -> Self {
        BackoffPolicy {
            initial,
            max,
            multiplier: multiplier.max(1),
            max_attempts,
        }
    }

    /// The un-jittered upper bound for attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let mut d = self.initial;
        for _ in 0..attempt {
            d = d.saturating_mul(self.multiplier.max(1));
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }
}

/// The running state: how many attempts have failed in a row.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff.
    pub fn new(policy: BackoffPolicy) -> Self {
        Backoff { policy, attempt: 0 }
    }

    /// The policy in use.
    pub fn policy(&self) -> &BackoffPolicy {
        &self.policy
    }

    /// Failed attempts so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Records a failure and returns how long to wait before the next attempt, or `None` when
    /// the attempt limit is reached (give up). `random` is any uniformly random `u64`.
    pub fn next_delay(&mut self, random: u64) -> Option<Duration> {
        if let Some(limit) = self.policy.max_attempts {
            if self.attempt >= limit {
                return None;
            }
        }
        let ceiling = self.policy.ceiling(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        // Uniform in [0, ceiling] via a 128-bit multiply (no modulo bias worth caring about).
        let jittered = ((u128::from(random) * (u128::from(nanos) + 1)) >> 64) as u64;
        Some(Duration::from_nanos(jittered))
    }

    /// A connection succeeded: start again from the first delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_grows_then_caps() {
        let p = BackoffPolicy::new(Duration::from_millis(100), Duration::from_secs(1), 2, None);
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        assert_eq!(p.ceiling(1), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(800));
        assert_eq!(p.ceiling(4), Duration::from_secs(1));
        assert_eq!(p.ceiling(1000), Duration::from_secs(1));
    }

    #[test]
    fn jitter_spans_zero_to_ceiling() {
        let p = BackoffPolicy::new(Duration::from_millis(100), Duration::from_secs(1), 2, None);
        let mut b = Backoff::new(p);
        assert_eq!(b.next_delay(0), Some(Duration::ZERO));
        assert_eq!(b.next_delay(u64::MAX), Some(Duration::from_millis(200)));
        let mid = b.next_delay(u64::MAX / 2).unwrap();
        assert!(mid > Duration::from_millis(150) && mid < Duration::from_millis(250));
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.next_delay(u64::MAX), Some(Duration::from_millis(100)));
    }

    #[test]
    fn attempt_limit_gives_up() {
        let p = BackoffPolicy::new(Duration::from_millis(1), Duration::from_secs(1), 2, Some(2));
        let mut b = Backoff::new(p);
        assert!(b.next_delay(1).is_some());
        assert!(b.next_delay(1).is_some());
        assert_eq!(b.next_delay(1), None);
    }

    #[test]
    fn delays_never_exceed_the_ceiling() {
        let p = BackoffPolicy::default();
        let mut b = Backoff::new(p);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for attempt in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = b.next_delay(x).unwrap();
            assert!(d <= p.ceiling(attempt), "attempt {attempt}: {d:?}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Delays stay within [0, ceiling(n)], ceilings never shrink and never pass the cap.
            #[test]
            fn jittered_delays_respect_the_policy(
                initial_ms in 1u64..10_000,
                max_ms in 1u64..600_000,
                multiplier in 1u32..10,
                randoms in proptest::collection::vec(any::<u64>(), 1..80),
            ) {
                let p = BackoffPolicy::new(
                    Duration::from_millis(initial_ms),
                    Duration::from_millis(max_ms),
                    multiplier,
                    None,
                );
                let mut b = Backoff::new(p);
                let mut prev = Duration::ZERO;
                for (attempt, r) in randoms.into_iter().enumerate() {
                    let ceiling = p.ceiling(attempt as u32);
                    prop_assert!(ceiling >= prev && ceiling <= p.max);
                    prev = ceiling;
                    let d = b.next_delay(r).unwrap();
                    prop_assert!(d <= ceiling);
                }
            }
        }
    }
}
