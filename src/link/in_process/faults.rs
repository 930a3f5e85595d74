//! Fault injection for in-process links: delay, random drops and partitions, shared by both
//! directions and every reconnect of a link.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Default)]
struct FaultState {
    partitioned: AtomicBool,
    /// Drop probability in parts per million.
    drop_ppm: AtomicU64,
    delay_us: AtomicU64,
    dropped: AtomicU64,
    /// A stream of its own for drop decisions, when seeded: the same seed drops the same
    /// messages of a run whose message order is fixed (an actor test on paused time).
    stream: std::sync::Mutex<Option<crate::support::random::SplitMix64>>,
}

/// Fault injection for an in-process link, shared by both directions and every reconnect.
///
/// All settings are plain atomics read per message with `Relaxed` ordering: each is an
/// independent knob, nothing else is published through them, and a test that flips one only
/// needs later messages to see it eventually.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<FaultState>);

impl Faults {
    /// No faults.
    pub fn new() -> Self {
        Faults::default()
    }

    /// No faults yet; random drops (once [`Faults::set_drop_rate`] asks for them) are drawn
    /// from a stream seeded with `seed`, so that a test is reproducible.
    pub fn seeded(seed: u64) -> Self {
        let faults = Faults::default();
        *faults.stream() = Some(crate::support::random::SplitMix64::new(seed));
        faults
    }

    fn stream(&self) -> std::sync::MutexGuard<'_, Option<crate::support::random::SplitMix64>> {
        // A poisoned lock still holds a usable generator state.
        self.0.stream.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cuts (or restores) both directions: every message, control included, is dropped.
    pub fn set_partitioned(&self, partitioned: bool) {
        self.0.partitioned.store(partitioned, Ordering::Relaxed);
    }

    /// Whether the link is cut.
    pub fn is_partitioned(&self) -> bool {
        self.0.partitioned.load(Ordering::Relaxed)
    }

    /// Drops each message with probability `rate` (0.0–1.0).
    pub fn set_drop_rate(&self, rate: f64) {
        let ppm = (rate.clamp(0.0, 1.0) * 1_000_000.0) as u64;
        self.0.drop_ppm.store(ppm, Ordering::Relaxed);
    }

    /// Delays every message by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.0.delay_us.store(us, Ordering::Relaxed);
    }

    /// Messages dropped by injected faults so far.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    pub(super) fn delay(&self) -> Duration {
        Duration::from_micros(self.0.delay_us.load(Ordering::Relaxed))
    }

    /// Decides the fate of one message; `random` is a uniform u64.
    pub(super) fn should_drop(&self, random: u64) -> bool {
        let random = self.stream().as_mut().map_or(random, |s| s.next_u64());
        let drop =
            self.is_partitioned() || (random % 1_000_000) < self.0.drop_ppm.load(Ordering::Relaxed);
        if drop {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }
}
