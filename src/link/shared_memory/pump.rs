//! The reading side of a shared-memory link: a pump thread of its own (it spins and sleeps,
//! which must never happen on an actix arbiter) that creates or opens the segment, waits for
//! the peer and watches the peer's liveness, and the [`Reader`] that turns records of the
//! inbound ring into typed messages for the supervisor.
//!
//! Who runs the reader depends on the [`ReadMode`]:
//! * `Doorbell` (default): the endpoint, on the node's arbiter; the pump thread waits for
//!   records once the endpoint has drained the ring (spin for `spin`, then sleep on the ring's
//!   futex word, at most one `tick` at a time, so an idle link costs ~0 CPU) and rings it;
//! * `PumpThread`: the pump thread itself, handing each burst to the supervisor in one
//!   message, with the same spin-then-sleep when the ring is empty;
//! * `BusyPoll`: the endpoint, polling without ever sleeping.
//!
//! Every tick the pump (or, busy-polling, the endpoint) bumps this side's heartbeat counter
//! and checks the peer: closed in order, process gone, or counter stopped for
//! `heartbeat_timeout` ends the link. When the supervisor falls behind by more than
//! `link_inbound_bytes`, reading stops: the ring fills and the peer's writer waits — nothing is
//! dropped.
//!
//! A record of up to 16 KiB is decoded straight from the ring, its byte payloads copied out
//! once. A larger record, and the joined fragments of a message, are copied once into a
//! buffer of the link's [`BufferPool`] and decoded with [`Codec::decode_shared`]: their byte
//! payloads are slices of that buffer (which a payload kept by an agent keeps alive), and the
//! buffer is reused once they are dropped, so large messages do not fault in fresh pages.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use swarm_protocol::codec::Codec;
use swarm_protocol::Message;
use swarm_shm::futex;
use swarm_shm::ring::{Consumer, RingStorage, Watcher};
use swarm_shm::segment::{pid_alive, Segment, SegmentRing, Side};

use super::doorbell::Doorbell;
use super::endpoint::{Attached, PumpEnded, Readable, ShmEndpoint};
use super::fragments::{Assembled, Reassembly};
use super::TRANSPORT;
use crate::link::buffer_pool::BufferPool;
use crate::link::burst::Handover;
use crate::link::{LinkHandle, LinkId, LinkOpened};
use crate::supervisor::Supervisor;
use swarm_protocol::core::handshake::Role;

/// Records read per hand-over at most.
const BATCH: usize = 1024;
/// Bursts read at most once the link has ended.
const REMAINING_BURSTS: usize = 64;
/// Records up to this size are decoded straight from the ring; larger ones are copied into
/// buffers of the link's [`BufferPool`] first.
const SMALL_RECORD: usize = 16 << 10;
/// Spare capacity the link's pool of large receive buffers keeps at most.
const POOL_BYTES: usize = 8 << 20;
/// Empty-ring checks between two clock reads while spinning.
const SPINS_PER_CLOCK_READ: usize = 256;

/// What the pump thread needs.
pub struct PumpSetup {
    pub name: String,
    pub side: Side,
    pub ring_size: usize,
    pub open_timeout: Duration,
    pub link: LinkId,
    pub supervisor: Addr<Supervisor>,
    pub endpoint: Addr<ShmEndpoint>,
    pub stop: Arc<AtomicBool>,
    pub codec: Codec,
    pub max_message_size: usize,
    pub inbound_limit: usize,
    pub spin: Duration,
    pub heartbeat_timeout: Duration,
    /// Who reads the ring.
    pub mode: ReadMode,
    /// Rung when records arrive for an endpoint that reads ([`ReadMode::Doorbell`]).
    pub doorbell: Arc<Doorbell>,
}

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

/// Runs the pump until the link ends or `stop` is set (or, in busy-poll mode, until it has
/// handed the reading over to the endpoint).
pub fn run(setup: PumpSetup) {
    let reason = match attach(&setup) {
        Ok(Some(segment)) => {
            // From this thread, before anything is read, so the supervisor sees the link open
            // first.
            setup.supervisor.do_send(LinkOpened {
                link: setup.link,
                transport: TRANSPORT,
                peer: format!("shm:{} (pid {})", segment.name(), segment.peer_pid()),
                role: match setup.side {
                    Side::Opener => Role::Initiator,
                    Side::Creator => Role::Acceptor,
                },
                handle: LinkHandle {
                    outbound: setup.endpoint.clone().recipient(),
                    outbound_batch: Some(setup.endpoint.clone().recipient()),
                    close: setup.endpoint.clone().recipient(),
                    configure: None,
                },
                // Same host, same user: the segment is created owner-only (0600).
                authenticated: true,
            });
            let reader = Reader::new(&setup, &segment);
            match setup.mode {
                ReadMode::BusyPoll => {
                    setup.endpoint.do_send(Attached {
                        segment,
                        reader: Some(reader),
                    });
                    return;
                }
                ReadMode::Doorbell => {
                    setup.endpoint.do_send(Attached {
                        segment: segment.clone(),
                        reader: Some(reader),
                    });
                    watch_loop(&setup, &segment)
                }
                ReadMode::PumpThread => {
                    setup.endpoint.do_send(Attached {
                        segment,
                        reader: None,
                    });
                    read_loop(&setup, reader)
                }
            }
        }
        Ok(None) => "closed before a peer attached".to_string(),
        Err(reason) => reason,
    };
    setup.endpoint.do_send(PumpEnded { reason });
}

/// Creates or opens the segment; a creator also waits for its peer.
fn attach(setup: &PumpSetup) -> Result<Option<Arc<Segment>>, String> {
    let segment = match setup.side {
        Side::Creator => Segment::create(&setup.name, setup.ring_size),
        Side::Opener => Segment::open(&setup.name, setup.open_timeout),
    }
    .map_err(|e| e.to_string())?;
    let segment = Arc::new(segment);
    if setup.side == Side::Creator {
        while segment.peer_pid() == 0 {
            // A node that stopped while we waited cannot tell us to stop: check its mailbox.
            if setup.stop.load(Ordering::Acquire) || !setup.supervisor.connected() {
                return Ok(None);
            }
            segment.beat();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(Some(segment))
}

/// This side's heartbeat and the watch on the peer, run every tick by whoever reads the ring
/// or waits for it.
pub struct Heartbeat {
    segment: Arc<Segment>,
    supervisor: Addr<Supervisor>,
    timeout: Duration,
    tick: Duration,
    next_tick: Instant,
    last_count: u64,
    last_change: Instant,
}

impl Heartbeat {
    fn new(setup: &PumpSetup, segment: &Arc<Segment>) -> Self {
        let now = Instant::now();
        Heartbeat {
            segment: segment.clone(),
            supervisor: setup.supervisor.clone(),
            timeout: setup.heartbeat_timeout,
            tick: (setup.heartbeat_timeout / 4)
                .clamp(Duration::from_millis(1), Duration::from_millis(100)),
            next_tick: now,
            last_count: segment.peer_heartbeat(),
            last_change: now,
        }
    }

    /// How long to sleep at most from `now` (until the next tick).
    fn nap(&self, now: Instant) -> Duration {
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
        if !self.supervisor.connected() {
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
    consumer: Consumer<SegmentRing>,
    reassembly: Reassembly,
    /// Where large records and joined fragments live (likewise).
    pool: Arc<BufferPool>,
    handover: Handover,
    /// The burst being read (kept between bursts: its allocation is reused).
    batch: Vec<(Arc<Message>, usize)>,
    codec: Codec,
    inbound_limit: usize,
    heartbeat: Heartbeat,
}

impl Reader {
    fn new(setup: &PumpSetup, segment: &Arc<Segment>) -> Self {
        let pool = BufferPool::new(POOL_BYTES);
        Reader {
            consumer: Consumer::new(segment.inbound()),
            reassembly: Reassembly::new(setup.max_message_size, pool.clone()),
            pool,
            handover: Handover::new(setup.link, setup.supervisor.clone()),
            batch: Vec::new(),
            codec: setup.codec.clone(),
            inbound_limit: setup.inbound_limit,
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
                        batch.push((Arc::new(message), size));
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

/// The pump thread's loop in [`ReadMode::Doorbell`]: while the endpoint reads, park; once it
/// has drained the ring and armed the bell, wait for a record (spin a while, then sleep on
/// the futex) and ring. Every tick, the heartbeat.
fn watch_loop(setup: &PumpSetup, segment: &Arc<Segment>) -> String {
    let watcher = Watcher::new(segment.inbound());
    let mut heartbeat = Heartbeat::new(setup, segment);
    let doorbell = &setup.doorbell;
    doorbell.register_pump();
    let mut idle_since: Option<Instant> = None;
    loop {
        if setup.stop.load(Ordering::Acquire) {
            return "link closed".into();
        }
        let now = Instant::now();
        if let Err(reason) = heartbeat.check(now) {
            return reason;
        }
        if !doorbell.is_armed() {
            // The endpoint is reading; it unparks us when it has drained the ring.
            idle_since = None;
            std::thread::park_timeout(heartbeat.nap(now));
            continue;
        }
        if watcher.has_data() {
            if doorbell.take() {
                setup.endpoint.do_send(Readable);
            }
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert(now);
        if now.duration_since(since) < setup.spin {
            spin_until(|| watcher.has_data());
            continue;
        }
        if watcher.prepare_sleep() {
            futex::wait(
                &watcher.storage().control().waiting.0,
                1,
                heartbeat.nap(now),
            );
            watcher.end_sleep();
        }
    }
}

/// One round of spinning on `ready` (checks between two clock reads), then lets runnable
/// threads (the node's own, on a machine with few cores) go first.
fn spin_until(mut ready: impl FnMut() -> bool) {
    for _ in 0..SPINS_PER_CLOCK_READ {
        if ready() {
            break;
        }
        std::hint::spin_loop();
    }
    std::thread::yield_now();
}

/// The pump thread's loop in [`ReadMode::PumpThread`]: read, spin a while when empty, then
/// sleep on the futex.
fn read_loop(setup: &PumpSetup, mut reader: Reader) -> String {
    let mut idle_since: Option<Instant> = None;
    loop {
        if setup.stop.load(Ordering::Acquire) {
            return "link closed".into();
        }
        if reader.node_behind() {
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        match reader.read_burst() {
            Err(reason) => return reason,
            Ok(true) => {
                idle_since = None;
                continue;
            }
            Ok(false) => {}
        }
        let now = Instant::now();
        if let Err(reason) = reader.on_tick(now) {
            return reason;
        }
        let since = *idle_since.get_or_insert(now);
        if now.duration_since(since) < setup.spin {
            spin_until(|| reader.consumer.has_data());
            continue;
        }
        if reader.consumer.prepare_sleep() {
            let word = &reader.consumer.storage().control().waiting.0;
            let nap = reader.heartbeat.nap(now);
            futex::wait(word, 1, nap);
            reader.consumer.end_sleep();
        }
    }
}
