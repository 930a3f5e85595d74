//! The reading end of a shared-memory link: the inbound ring's consumer, reassembly of
//! fragments, decoding into typed messages for the node, and the watch on the peer's
//! liveness ([`Heartbeat`]). Whoever reads (the link actor or the pump thread, by
//! [`ReadMode`](super::ReadMode)) owns the one `Reader`.
//!
//! A record of up to 16 KiB is decoded straight from the ring, its byte payloads copied out
//! once. A larger record, and the joined fragments of a message, are copied once into a
//! buffer of the link's [`BufferPool`] and decoded with [`Codec::decode_shared`]: their byte
//! payloads are slices of that buffer (which a payload kept by an agent keeps alive), and the
//! buffer is reused once they are dropped, so large messages do not fault in fresh pages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use swarm_protocol::codec::Codec;
use swarm_shm::ring::Consumer;
use swarm_shm::segment::{pid_alive, Segment, SegmentRing};

use super::fragments::{Assembled, FragmentJoiner};
use super::setup::LinkSetup;
use crate::link::machinery::buffer_pool::BufferPool;
use crate::link::machinery::burst::Handover;
use crate::link::LinkPort;
use crate::support::delivered_message::DeliveredMessage;
use crate::support::owned_message::OwnedMessage;

/// Records read per hand-over at most.
const BATCH: usize = 1024;
/// Bursts read at most once the link has ended.
const REMAINING_BURSTS: usize = 64;
/// Records up to this size are decoded straight from the ring; larger ones are copied into
/// buffers of the link's [`BufferPool`] first.
const SMALL_RECORD: usize = 16 << 10;
/// Spare capacity the link's pool of large receive buffers keeps at least room for; a link
/// with larger rings keeps two rings' worth (its messages are as large: a buffer the pool
/// cannot keep is faulted in afresh for the next message, and zeroing pages then costs more
/// than the copy).
const POOL_BYTES: usize = 8 << 20;

/// This side's heartbeat and the watch on the peer, run every tick by whoever reads the ring
/// or waits for it.
pub struct Heartbeat {
    segment: Arc<Segment>,
    port: LinkPort,
    timeout: Duration,
    tick: Duration,
    next_tick: Instant,
    last_count: u64,
    last_change: Instant,
}

impl Heartbeat {
    pub(super) fn new(setup: &LinkSetup, segment: &Arc<Segment>) -> Self {
        let now = Instant::now();
        let timeout = setup.config.heartbeat_timeout;
        Heartbeat {
            segment: segment.clone(),
            port: setup.port.clone(),
            timeout,
            tick: (timeout / 4).clamp(Duration::from_millis(1), Duration::from_millis(100)),
            next_tick: now,
            last_count: segment.peer_heartbeat(),
            last_change: now,
        }
    }

    /// How long to sleep at most from `now` (until the next tick).
    pub(super) fn nap(&self, now: Instant) -> Duration {
        self.tick.min(self.next_tick.saturating_duration_since(now))
    }

    /// Every tick: marks this side alive and checks the node and the peer; `Err` says why the
    /// link is over (node stopped, peer closed, gone or silent).
    pub fn check(&mut self, now: Instant) -> Result<(), String> {
        if now < self.next_tick {
            return Ok(());
        }
        self.next_tick = now + self.tick;
        let segment = &self.segment;
        segment.beat();
        if !self.port.is_open() {
            return Err("node stopped".into());
        }
        if segment.peer_closed() {
            return Err("peer closed the link".into());
        }
        let pid = segment.peer_pid();
        if !pid_alive(pid) {
            return Err(format!("peer process {pid} is gone"));
        }
        let count = segment.peer_heartbeat();
        if count != self.last_count {
            self.last_count = count;
            self.last_change = now;
        } else if now.duration_since(self.last_change) >= self.timeout {
            return Err(format!("peer silent for {:?}", self.timeout));
        }
        Ok(())
    }
}

/// The reading end of a link: the inbound ring, reassembly, liveness of the peer.
pub struct Reader {
    pub(super) consumer: Consumer<SegmentRing>,
    reassembly: FragmentJoiner,
    /// Where large records and joined fragments live (likewise).
    pool: Arc<BufferPool>,
    handover: Handover,
    /// The burst being read (kept between bursts: its allocation is reused).
    batch: Vec<(DeliveredMessage, usize)>,
    codec: Codec,
    inbound_limit: usize,
    pub(super) heartbeat: Heartbeat,
}

impl Reader {
    /// The reader of `consumer`, this side's only reader of the inbound ring of `segment`.
    pub(super) fn new(
        setup: &LinkSetup,
        codec: Codec,
        consumer: Consumer<SegmentRing>,
        segment: &Arc<Segment>,
    ) -> Self {
        let pool = BufferPool::new(POOL_BYTES.max(2 * setup.ring_size));
        Reader {
            consumer,
            reassembly: FragmentJoiner::new(setup.config.max_message_size, pool.clone()),
            pool,
            handover: Handover::new(setup.port.clone()),
            batch: Vec::new(),
            codec,
            inbound_limit: setup.inbound_limit(),
            heartbeat: Heartbeat::new(setup, segment),
        }
    }

    /// Whether the node is too far behind to take more now (leave records in the ring: the
    /// peer's writer waits).
    pub fn node_behind(&self) -> bool {
        self.handover.pending() >= self.inbound_limit
    }

    /// Every tick: marks this side alive and checks the peer and the node; `Err` ends the link
    /// (after handing over what the peer wrote before it went).
    pub fn on_tick(&mut self, now: Instant) -> Result<(), String> {
        self.heartbeat.check(now).inspect_err(|_| {
            let _ = self.read_burst();
        })
    }

    /// Whether published records wait to be read.
    pub fn has_data(&mut self) -> bool {
        self.consumer.has_data()
    }

    /// Reads what the peer wrote before the link ended (best effort, at most a ring's worth
    /// of small records: a peer still writing cannot keep the link from closing).
    pub fn read_remaining(&mut self) {
        for _ in 0..REMAINING_BURSTS {
            if !matches!(self.read_burst(), Ok(true)) {
                break;
            }
        }
    }

    /// Reads and hands over one burst; `Ok(true)` when anything was read.
    pub fn read_burst(&mut self) -> Result<bool, String> {
        let mut bytes = 0;
        let mut fault = None;
        let (reassembly, codec, batch) = (&mut self.reassembly, &self.codec, &mut self.batch);
        let pool = &self.pool;
        let read = self
            .consumer
            .poll(BATCH, |flags, payload| {
                if fault.is_some() {
                    return;
                }
                // Byte payloads are copied once: out of the ring (small records), or into a
                // pooled buffer they are then slices of (large ones).
                let decoded = match reassembly.push(flags, payload) {
                    Ok(None) => return,
                    Ok(Some(Assembled::Whole(record))) if record.len() <= SMALL_RECORD => {
                        codec.decode(record).map(|m| (m, record.len()))
                    }
                    Ok(Some(Assembled::Whole(record))) => {
                        let frame = pool.copy(record);
                        codec.decode_shared(&frame).map(|m| (m, frame.len()))
                    }
                    Ok(Some(Assembled::Joined(joined))) => {
                        let frame = pool.share(joined);
                        codec.decode_shared(&frame).map(|m| (m, frame.len()))
                    }
                    Err(e) => {
                        fault = Some(e.to_string());
                        return;
                    }
                };
                match decoded {
                    Ok((message, size)) => {
                        bytes += size;
                        batch.push((OwnedMessage::new(message).into(), size));
                    }
                    Err(e) => fault = Some(format!("undecodable message: {e}")),
                }
            })
            .map_err(|e| e.to_string())?;
        self.handover.hand_over(&mut self.batch, bytes);
        match fault {
            Some(reason) => Err(reason),
            None => Ok(read > 0),
        }
    }
}
