//! What both halves of a shared-memory link — its actor on the node's arbiter and its pump
//! thread — start from: the segment to create or open, the node's limits, and who reads the
//! inbound ring.

use std::sync::Arc;
use std::time::Duration;

use swarm_shm::segment::Side;

use crate::config::TransportConfig;
use crate::link::LinkPort;

/// Transport name of shared-memory links.
pub const TRANSPORT: &str = "shared_memory";

/// Who reads a link's inbound ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// The node's arbiter reads and decodes, when the pump thread — which only waits for
    /// records, spinning and then asleep — rings. One thread busy per side while messages
    /// flow; the fastest on few cores. The default.
    #[default]
    Doorbell,
    /// The pump thread reads and decodes, and hands bursts to the node: decoding runs beside
    /// the node's own work, for a node with many busy links and cores to spare.
    PumpThread,
    /// The node's arbiter polls the ring and never sleeps while the link is up: the lowest
    /// latency, for a core.
    BusyPoll,
}

/// One link's start: where it reports, the node's configuration, and the segment.
#[derive(Debug, Clone)]
pub(super) struct LinkSetup {
    pub port: LinkPort,
    pub config: Arc<TransportConfig>,
    pub name: String,
    pub side: Side,
    pub ring_size: usize,
    pub spin: Duration,
    pub mode: ReadMode,
}

impl LinkSetup {
    /// Bytes handed to the node and not yet handled past which reading pauses.
    pub fn inbound_limit(&self) -> usize {
        self.config
            .link_inbound_bytes
            .max(self.config.max_message_size)
    }
}
