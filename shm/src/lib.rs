//! The shared-memory layer of swarm-transport: what two processes on one host need to move
//! bytes between them as fast as the hardware allows, and nothing of actix or tokio.
//!
//! # Layout
//! * [`ring`] — a lock-free single-producer/single-consumer byte ring of length-prefixed
//!   records, generic over its storage (heap for tests and loom, a segment in production);
//! * [`segment`] — a named segment with a versioned `#[repr(C)]` header and two rings, one per
//!   direction; validation, stale-segment cleanup, liveness counters;
//! * [`futex`] — sleeping on a word of the segment and waking across processes;
//! * `sync` — the atomics shim (std, or loom under `--cfg loom`).
//!
//! Loom checks the ring: `RUSTFLAGS="--cfg loom" cargo test -p swarm-shm --release ring`.

#![warn(missing_docs)]

#[cfg(all(not(loom), target_os = "linux"))]
pub mod futex;
pub mod ring;
#[cfg(all(not(loom), target_os = "linux"))]
pub mod segment;
mod sync;
