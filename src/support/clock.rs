//! Clocks: wall-clock timestamps for messages, and the monotonic [`Instant`] every deadline
//! uses (tokio's, so actor tests can pause and advance time).
//!
//! Message timestamps have millisecond precision and are read on every send, so on Linux they
//! come from `CLOCK_REALTIME_COARSE` (updated every scheduler tick, 1–4 ms; about a fifth of
//! the cost of the precise clock). Deadlines never use the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

pub use actix::clock::Instant;

/// Milliseconds since the UNIX epoch from the precise clock (0 before the epoch).
pub fn precise_wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Milliseconds since the UNIX epoch for message timestamps (may lag the precise clock by up
/// to one scheduler tick on Linux).
#[cfg(target_os = "linux")]
pub fn wall_clock_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec for the whole call, which is all
    // clock_gettime writes; CLOCK_REALTIME_COARSE exists on every Linux since 2.6.32, and any
    // failure is reported through the return value, handled below.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    match (rc, u64::try_from(ts.tv_sec), u64::try_from(ts.tv_nsec)) {
        (0, Ok(secs), Ok(nanos)) => secs.saturating_mul(1000) + nanos / 1_000_000,
        _ => precise_wall_clock_ms(),
    }
}

/// Milliseconds since the UNIX epoch for message timestamps.
#[cfg(not(target_os = "linux"))]
pub fn wall_clock_ms() -> u64 {
    precise_wall_clock_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_clock_tracks_the_precise_one() {
        let precise = precise_wall_clock_ms();
        let coarse = wall_clock_ms();
        assert!(coarse.abs_diff(precise) < 1000, "{coarse} vs {precise}");
    }
}
