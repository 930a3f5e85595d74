//! Clocks: wall-clock timestamps for messages, and the monotonic [`Instant`] every deadline
//! uses (tokio's, so actor tests can pause and advance time).

use std::time::{SystemTime, UNIX_EPOCH};

pub use actix::clock::Instant;

/// Milliseconds since the UNIX epoch (0 if the system clock is set before it).
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
