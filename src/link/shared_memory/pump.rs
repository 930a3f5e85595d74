//! The reading side of a shared-memory link: a thread of its own (it spins and sleeps, which
//! must never happen on an actix arbiter) that creates or opens the segment, waits for the
//! peer, then moves records from the inbound ring to the supervisor as typed messages, and
//! watches the peer's liveness.
//!
//! The loop: read every published record (decoding each straight from the ring), hand the
//! burst to the supervisor in one message; when the ring is empty, spin for `spin`, then sleep
//! on the ring's futex word for at most one `tick` (so an idle link costs ~0 CPU). Every tick
//! it bumps this side's heartbeat counter and checks the peer: closed in order, process gone,
//! or counter stopped for `heartbeat_timeout` ends the link. When the supervisor falls behind
//! by more than `link_inbound_bytes`, the pump stops reading: the ring fills and the peer's
//! writer waits — nothing is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use swarm_protocol::codec::Codec;
use swarm_shm::futex;
use swarm_shm::ring::{Consumer, RingStorage};
use swarm_shm::segment::{pid_alive, Segment, SegmentRing, Side};

use super::endpoint::{Attached, PumpEnded, ShmEndpoint};
use super::fragments::{Assembled, Reassembly};
use super::TRANSPORT;
use crate::link::{InboundGauge, LinkHandle, LinkId, LinkInbound, LinkInboundBatch, LinkOpened};
use crate::supervisor::Supervisor;
use swarm_protocol::core::handshake::Role;

/// Records read per hand-over at most.
const BATCH: usize = 1024;
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
}

/// Runs the pump until the link ends or `stop` is set.
pub fn run(setup: PumpSetup) {
    let reason = match attach(&setup) {
        Ok(Some(segment)) => {
            setup.endpoint.do_send(Attached {
                segment: segment.clone(),
            });
            // From this thread, so the supervisor sees the link open before anything read.
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
            read_loop(&setup, &segment)
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

/// Why the peer is considered gone, if it is.
struct Liveness {
    last_count: u64,
    last_change: Instant,
}

impl Liveness {
    fn check(&mut self, segment: &Segment, now: Instant, timeout: Duration) -> Option<String> {
        if segment.peer_closed() {
            return Some("peer closed the link".into());
        }
        let pid = segment.peer_pid();
        if !pid_alive(pid) {
            return Some(format!("peer process {pid} is gone"));
        }
        let count = segment.peer_heartbeat();
        if count != self.last_count {
            self.last_count = count;
            self.last_change = now;
        } else if now.duration_since(self.last_change) >= timeout {
            return Some(format!("peer silent for {timeout:?}"));
        }
        None
    }
}

fn read_loop(setup: &PumpSetup, segment: &Arc<Segment>) -> String {
    let mut consumer = Consumer::new(segment.inbound());
    let mut reassembly = Reassembly::new(setup.max_message_size);
    let gauge = InboundGauge::default();
    let tick =
        (setup.heartbeat_timeout / 4).clamp(Duration::from_millis(1), Duration::from_millis(100));
    let mut liveness = Liveness {
        last_count: segment.peer_heartbeat(),
        last_change: Instant::now(),
    };
    let mut next_tick = Instant::now();
    let mut idle_since: Option<Instant> = None;
    loop {
        if setup.stop.load(Ordering::Acquire) {
            return "link closed".into();
        }
        if gauge.pending() >= setup.inbound_limit {
            // The node is behind: leave the records in the ring (the peer's writer waits).
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        match read_burst(setup, &mut consumer, &mut reassembly, &gauge) {
            Err(reason) => return reason,
            Ok(true) => {
                idle_since = None;
                continue;
            }
            Ok(false) => {}
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + tick;
            segment.beat();
            if !setup.supervisor.connected() {
                return "node stopped".into();
            }
            if let Some(reason) = liveness.check(segment, now, setup.heartbeat_timeout) {
                // Hand over what arrived before the peer went away.
                let _ = read_burst(setup, &mut consumer, &mut reassembly, &gauge);
                return reason;
            }
        }
        let since = *idle_since.get_or_insert(now);
        if now.duration_since(since) < setup.spin {
            // Spin on the head word, reading the clock only now and then.
            for _ in 0..SPINS_PER_CLOCK_READ {
                if consumer.has_data() {
                    break;
                }
                std::hint::spin_loop();
            }
            continue;
        }
        if consumer.prepare_sleep() {
            let word = &consumer.storage().control().waiting.0;
            futex::wait(word, 1, tick.min(next_tick.saturating_duration_since(now)));
            consumer.end_sleep();
        }
    }
}

/// Reads and hands over one burst; `Ok(true)` when anything was read.
fn read_burst(
    setup: &PumpSetup,
    consumer: &mut Consumer<SegmentRing>,
    reassembly: &mut Reassembly,
    gauge: &InboundGauge,
) -> Result<bool, String> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut fault = None;
    let read = consumer
        .poll(BATCH, |flags, payload| {
            if fault.is_some() {
                return;
            }
            let decoded = match reassembly.push(flags, payload) {
                Ok(None) => return,
                Ok(Some(Assembled::Whole(frame))) => {
                    setup.codec.decode(frame).map(|m| (m, frame.len()))
                }
                Ok(Some(Assembled::Joined(frame))) => {
                    setup.codec.decode(frame).map(|m| (m, frame.len()))
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
    let any = read > 0;
    if batch.is_empty() {
        return match fault {
            Some(reason) => Err(reason),
            None => Ok(any),
        };
    }
    let ticket = Some(gauge.ticket(bytes));
    match batch.len() {
        0 => {}
        1 => {
            if let Some((message, size)) = batch.pop() {
                setup.supervisor.do_send(LinkInbound {
                    link: setup.link,
                    message,
                    size,
                    ticket,
                });
            }
        }
        _ => setup.supervisor.do_send(LinkInboundBatch {
            link: setup.link,
            messages: batch,
            ticket,
        }),
    }
    match fault {
        Some(reason) => Err(reason),
        None => Ok(any),
    }
}
