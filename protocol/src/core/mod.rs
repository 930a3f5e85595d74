//! Pure state machines the supervisor drives: request correlation, heartbeats, reconnect
//! backoff, handshake negotiation, link lifecycle and the reassembly of fragmented WebSocket
//! messages; and the client session a single-link client (a browser page) drives with them.
//!
//! None of them reads a clock or an RNG. Time is an argument: each exposes
//! `next_deadline()` and `on_timeout(now)`, so the actor only arms a timer for that instant and
//! tests drive virtual time. Any type that behaves like an instant works (see [`TimePoint`]):
//! `std::time::Instant`, `tokio::time::Instant`, or a `Duration` since an origin on wasm32.

pub mod backoff;
pub mod consumption;
pub mod correlation;
pub mod handshake;
pub mod heartbeat;
pub mod lifecycle;
pub mod reassembly;
pub mod recent;
pub mod session;

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time: ordered, and moved by a `Duration`.
pub trait TimePoint:
    Copy + Ord + Add<Duration, Output = Self> + Sub<Self, Output = Duration>
{
}

impl<T> TimePoint for T where
    T: Copy + Ord + Add<Duration, Output = Self> + Sub<Self, Output = Duration>
{
}

/// The earlier of two optional deadlines.
pub fn earliest<I: TimePoint>(a: Option<I>, b: Option<I>) -> Option<I> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
