//! The pump thread of a shared-memory link (it spins and sleeps, which must never happen on
//! an actix arbiter): it creates or opens the segment, waits for the peer, reports the link
//! open, splits the segment's rings between the [`Reader`] and the link actor's writer, and
//! then waits for or reads inbound records.
//!
//! What it does once attached depends on the [`ReadMode`]:
//! * `Doorbell` (default): the link actor reads, on the node's arbiter; the pump thread waits
//!   for records once the actor has drained the ring (spin for `spin`, then sleep on the
//!   ring's futex word, at most one `tick` at a time, so an idle link costs ~0 CPU) and rings
//!   the actor;
//! * `PumpThread`: the pump thread itself reads, handing each burst to the node in one
//!   message, with the same spin-then-sleep when the ring is empty;
//! * `BusyPoll`: the link actor polls without ever sleeping; the pump thread ends.
//!
//! Every tick whoever waits or reads bumps this side's heartbeat counter and checks the peer:
//! closed in order, process gone, or counter stopped for `heartbeat_timeout` ends the link.
//! When the node falls behind by more than `link_inbound_bytes`, reading stops: the ring fills
//! and the peer's writer waits — nothing is dropped.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use swarm_protocol::core::handshake::Role;
use swarm_shm::futex;
use swarm_shm::ring::{RingStorage, Watcher};
use swarm_shm::segment::{Segment, Side};

use super::handoff::{Attached, PumpEnded, PumpSetup, Readable};
use super::reader::{Heartbeat, Reader};
use super::setup::{ReadMode, TRANSPORT};

/// Empty-ring checks between two clock reads while spinning.
const SPINS_PER_CLOCK_READ: usize = 256;

/// Runs the pump until the link ends or `stop` is set (or, in busy-poll mode, until it has
/// handed the reading over to the link actor).
pub(super) fn run(setup: PumpSetup) {
    let reason = match attach(&setup) {
        Ok(Some(segment)) => match attached(&setup, segment) {
            Some(reason) => reason,
            // Busy-poll: the actor reads and watches from here on; this thread is done.
            None => return,
        },
        Ok(None) => "closed before a peer attached".to_string(),
        Err(reason) => reason,
    };
    setup.actor.ended.do_send(PumpEnded { reason });
}

/// Reports the link open, hands the actor its ends of the rings and runs the mode's loop;
/// returns why the link ended (`None`: busy-poll, the actor carries on alone).
fn attached(setup: &PumpSetup, segment: Arc<Segment>) -> Option<String> {
    let link = &setup.link;
    let Some((producer, consumer)) = segment.split() else {
        return Some("the segment's rings were already taken".into());
    };
    // From this thread, before anything is read, so the node sees the link open first.
    link.port.opened(
        TRANSPORT,
        format!("shm:{} (pid {})", segment.name(), segment.peer_pid()),
        match link.side {
            Side::Opener => Role::Initiator,
            Side::Creator => Role::Acceptor,
        },
        setup.actor.handle.clone(),
        // Same host, same user: the segment is created owner-only (0600).
        true,
    );
    let reader = Reader::new(link, setup.codec.clone(), consumer, &segment);
    let (reader, keep) = match link.mode {
        ReadMode::PumpThread => (None, Some(reader)),
        ReadMode::Doorbell | ReadMode::BusyPoll => (Some(reader), None),
    };
    setup.actor.attached.do_send(Attached {
        segment: segment.clone(),
        producer,
        reader,
    });
    match (link.mode, keep) {
        (ReadMode::PumpThread, Some(reader)) => Some(read_loop(setup, reader)),
        (ReadMode::Doorbell, _) => Some(watch_loop(setup, &segment)),
        _ => None,
    }
}

/// Creates or opens the segment; a creator also waits for its peer.
fn attach(setup: &PumpSetup) -> Result<Option<Arc<Segment>>, String> {
    let link = &setup.link;
    let segment = match link.side {
        Side::Creator => Segment::create(&link.name, link.ring_size),
        Side::Opener => Segment::open(&link.name, link.config.connection_timeout()),
    }
    .map_err(|e| e.to_string())?;
    let segment = Arc::new(segment);
    if link.side == Side::Creator {
        while segment.peer_pid() == 0 {
            // A node that stopped while we waited cannot tell us to stop: check its mailbox.
            if setup.stop.load(Ordering::Acquire) || !link.port.is_open() {
                return Ok(None);
            }
            segment.beat();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(Some(segment))
}

/// The pump thread's loop in [`ReadMode::Doorbell`]: while the link actor reads, park; once it
/// has drained the ring and armed the bell, wait for a record (spin a while, then sleep on
/// the futex) and ring. Every tick, the heartbeat.
fn watch_loop(setup: &PumpSetup, segment: &Arc<Segment>) -> String {
    let watcher = Watcher::new(segment.inbound());
    let mut heartbeat = Heartbeat::new(&setup.link, segment);
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
            // The link actor is reading; it unparks us when it has drained the ring.
            idle_since = None;
            std::thread::park_timeout(heartbeat.nap(now));
            continue;
        }
        if watcher.has_data() {
            if doorbell.take() {
                setup.actor.readable.do_send(Readable);
            }
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert(now);
        if now.duration_since(since) < setup.link.spin {
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
        if now.duration_since(since) < setup.link.spin {
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
