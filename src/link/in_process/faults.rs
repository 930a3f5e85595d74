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
        let drop =
            self.is_partitioned() || (random % 1_000_000) < self.0.drop_ppm.load(Ordering::Relaxed);
        if drop {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }
}
