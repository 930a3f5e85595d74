//! Shared-memory links between two processes on one host (feature `shared-memory`, Linux).
//!
//! One named segment per link (see [`swarm_shm::segment`]): the *creator* makes it and waits
//! for its peer, the *opener* attaches to it. Both then run the same protocol as every other
//! link (handshake, heartbeats, routing) over two lock-free rings.
//!
//! ```no_run
//! use swarm_transport::link::shared_memory::ShmLink;
//! # fn demo(a: &swarm_transport::Swarm, b: &swarm_transport::Swarm) {
//! // process A
//! a.connect(ShmLink::create("trainer-seg"));
//! // process B
//! b.connect(ShmLink::open("trainer-seg"));
//! # }
//! ```
//!
//! Per link: an actor on the node's arbiter writes the outbound ring and reads the inbound
//! one, and a pump thread waits for inbound records (spinning briefly, then sleeping on a
//! futex word in the segment) and wakes the actor once per burst (see [`ReadMode`] for the
//! other ways of reading). A peer whose process is gone,
//! whose heartbeat counter stopped for `heartbeat_timeout`, or that closed, takes the link
//! down; the creator removes the segment, and the node's link restart creates (or
//! re-opens) it with backoff.

mod doorbell;
// Public only to the fuzz targets (cargo-fuzz builds with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[allow(missing_docs)]
pub mod fragments;
#[cfg(not(fuzzing))]
mod fragments;
mod handoff;
mod link_actor;
mod pump;
mod reader;
mod setup;

use std::time::Duration;

pub use self::setup::{ReadMode, TRANSPORT};
pub use swarm_shm::segment::{SegmentError, Side};

use self::link_actor::ShmLinkActor;
use self::setup::LinkSetup;
use crate::config::TransportConfig;
use crate::link::{LinkConnector, LinkContext};
use actix::Actor;

/// Default bytes per ring (one per direction): 1 MiB.
pub const DEFAULT_RING_SIZE: usize = 1 << 20;

/// Default time the reader spins on an empty ring before it sleeps: 50 µs.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Where a shared-memory link lives, in the shape of the published crate's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedMemoryInfo {
    /// Segment name (`[A-Za-z0-9._-]`, 1–200 characters); it appears in `/dev/shm`.
    pub name: String,
    /// Total segment size. Informational: the segment is a 4 KiB header plus two rings.
    pub size: usize,
    /// Bytes per ring, rounded up to a power of two of at least 4 KiB.
    pub ring_buffer_size: usize,
}

impl SharedMemoryInfo {
    /// A segment called `name` with rings of `ring_buffer_size` bytes.
    pub fn new(name: impl Into<String>, ring_buffer_size: usize) -> Self {
        let ring = ring_size(ring_buffer_size);
        SharedMemoryInfo {
            name: name.into(),
            size: swarm_shm::segment::HEADER_SIZE + 2 * ring,
            ring_buffer_size: ring,
        }
    }
}

fn ring_size(requested: usize) -> usize {
    requested
        .max(swarm_shm::segment::MIN_RING)
        .checked_next_power_of_two()
        .unwrap_or(1 << 62)
}

/// Connector for a shared-memory link.
#[derive(Debug, Clone)]
pub struct ShmLink {
    info: SharedMemoryInfo,
    side: Side,
    spin: Duration,
    mode: ReadMode,
}

impl ShmLink {
    /// Creates segment `name` (rings of [`DEFAULT_RING_SIZE`]) and waits for a peer to open it.
    pub fn create(name: impl Into<String>) -> Self {
        Self::with_info(
            SharedMemoryInfo::new(name, DEFAULT_RING_SIZE),
            Side::Creator,
        )
    }

    /// Opens segment `name`, made by another process.
    pub fn open(name: impl Into<String>) -> Self {
        Self::with_info(SharedMemoryInfo::new(name, DEFAULT_RING_SIZE), Side::Opener)
    }

    /// A link on `side` of the segment described by `info`.
    pub fn with_info(info: SharedMemoryInfo, side: Side) -> Self {
        let info = SharedMemoryInfo::new(info.name, info.ring_buffer_size);
        ShmLink {
            info,
            side,
            spin: DEFAULT_SPIN,
            mode: ReadMode::default(),
        }
    }

    /// Rings of `bytes` each (creator; rounded up to a power of two ≥ 4 KiB).
    pub fn with_ring_size(mut self, bytes: usize) -> Self {
        self.info = SharedMemoryInfo::new(self.info.name, bytes);
        self
    }

    /// Spin this long on an empty ring before sleeping (lower latency, more CPU while busy).
    pub fn with_spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// Busy-poll mode: the node's own arbiter polls the inbound ring without ever sleeping
    /// while the link is up, instead of a pump thread that wakes the node per burst. It spends
    /// a core to save the thread wake-ups (tens of µs on a VM) of every round trip; the
    /// arbiter still runs its other actors between polls.
    pub fn with_busy_poll(mut self, on: bool) -> Self {
        self.mode = if on {
            ReadMode::BusyPoll
        } else {
            ReadMode::default()
        };
        self
    }

    /// Who reads the inbound ring ([`ReadMode`]): by default the node's arbiter, woken by the
    /// link's pump thread.
    pub fn with_read_mode(mut self, mode: ReadMode) -> Self {
        self.mode = mode;
        self
    }

    /// The segment.
    pub fn info(&self) -> &SharedMemoryInfo {
        &self.info
    }
}

impl LinkConnector for ShmLink {
    fn transport(&self) -> &'static str {
        TRANSPORT
    }

    fn peer(&self) -> String {
        format!("shm:{}", self.info.name)
    }

    fn connect_timeout(&self, config: &TransportConfig) -> Option<Duration> {
        match self.side {
            // The creator waits for its peer process as long as it takes.
            Side::Creator => None,
            Side::Opener => Some(config.connection_timeout()),
        }
    }

    fn connect(&mut self, ctx: LinkContext) {
        ShmLinkActor::new(LinkSetup {
            port: ctx.port,
            config: ctx.config,
            name: self.info.name.clone(),
            side: self.side,
            ring_size: self.info.ring_buffer_size,
            spin: self.spin,
            mode: self.mode,
        })
        .start();
    }
}
