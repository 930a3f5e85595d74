//! The actor of a shared-memory link: it encodes outbound messages and writes them into the
//! outbound ring (fragmented into records of at most an eighth of the ring), publishes (once
//! per burst, and every 64 KiB of a long one), and wakes the peer's
//! reader only when it announced sleeping. In the default and busy-poll [`ReadMode`]s it also
//! reads the inbound ring (when the pump thread rings, or on every turn). It reports the link
//! closed to the node, exactly once (the pump reports it open).
//!
//! Control messages (handshake, heartbeats) that fit one record are written ahead of queued
//! data, even between the fragments of a large message, so a 64 MiB transfer never delays a
//! heartbeat echo past the timeout.
//!
//! Data messages wait in a backlog as they came (`Arc<Message>`) and are encoded only when
//! their turn comes, one at a time, into one reused [`GatherFrame`]: a backlog costs no
//! encoded copies, and byte payloads of 16 KiB or more are not copied into the frame at all
//! but straight from the message into the ring (`Producer::try_push_parts`), so a large
//! message is copied once on this side.
//!
//! When the ring is full, messages wait in the backlog and the actor retries: at once
//! (yielding to the arbiter) while the reader makes progress, and every millisecond once it
//! has made none for a while. The backlog is bounded
//! by the node's link window (it hands out no more until written messages are
//! acknowledged); past that, data waits in the node's bounded queue and senders get
//! `Full`. A peer that stops reading is closed as a slow consumer by the node.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler};
use swarm_protocol::codec::{Codec, FrameBuffer, GatherFrame};
use swarm_shm::futex;
use swarm_shm::ring::{Producer, PushError, RingStorage};
use swarm_shm::segment::{Segment, SegmentRing};

use super::doorbell::Doorbell;
use super::fragments::{flag, fragment, fragment_count, Fragment};
use super::handoff::{Attached, PumpEnded, PumpSetup, Readable, ToActor};
use super::pump;
use super::reader::Reader;
use super::setup::{LinkSetup, ReadMode};
use crate::link::machinery::credit::WriteCredit;
use crate::link::{Lane, LinkAddr, LinkClose, LinkOutbound, LinkOutboundBatch};

/// How long a ring that stays full (no record written) is retried at once before falling back
/// to a 1 ms timer.
const EAGER_RETRY: Duration = Duration::from_micros(500);

/// Largest encode buffer kept for the next message (a larger one is freed after use).
const KEEP_FRAME_BYTES: usize = 8 << 20;

/// The actor's notice to itself: retry writing the backlog.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Retry;

/// The actor's notice to itself (busy-poll mode): read the inbound ring again.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Poll;

/// The message being written: encoded, some of its fragments in the ring.
struct Writing {
    lane: Lane,
    /// Fragments written so far.
    written: usize,
}

/// One shared-memory link, writing side.
pub(super) struct ShmLinkActor {
    setup: LinkSetup,
    codec: Codec,
    /// The encoded form of `writing`: one buffer, reused, so that a stream of messages
    /// neither allocates nor faults in fresh pages per message; large byte payloads are
    /// referenced, not copied, and go straight from the message into the ring.
    frame: GatherFrame,
    /// The message whose fragments are being written, if any.
    writing: Option<Writing>,
    producer: Option<Producer<SegmentRing>>,
    segment: Option<Arc<Segment>>,
    /// Data messages waiting for the ring, encoded only when their turn comes (so a backlog
    /// costs no encoded copies).
    backlog: VecDeque<LinkOutbound>,
    control: VecDeque<Vec<u8>>,
    credit: WriteCredit,
    stop: Arc<AtomicBool>,
    /// Doorbell and busy-poll modes: the inbound ring, read from this actor.
    reader: Option<Reader>,
    /// Doorbell mode: armed when the inbound ring is drained, rung by the pump.
    doorbell: Arc<Doorbell>,
    full_since: Option<Instant>,
    retry_armed: bool,
}

impl ShmLinkActor {
    /// The actor of the link of `setup` (start it as an actor).
    pub(super) fn new(setup: LinkSetup) -> Self {
        // Never compressed (no `LinkConfigure`): gzip costs more than it saves over memory.
        let codec = Codec::new(setup.config.codec_config());
        let credit = WriteCredit::new(&setup.config);
        ShmLinkActor {
            setup,
            codec,
            frame: GatherFrame::new(),
            writing: None,
            producer: None,
            segment: None,
            backlog: VecDeque::new(),
            control: VecDeque::new(),
            credit,
            stop: Arc::new(AtomicBool::new(false)),
            reader: None,
            doorbell: Doorbell::new(),
            full_since: None,
            retry_armed: false,
        }
    }

    fn report_closed(&mut self, reason: String) {
        self.setup.port.closed(reason);
    }

    /// Stops the pump, tells the peer, removes the segment's name (creator).
    fn shut_down(&mut self) {
        // Release: pairs with the pump's Acquire load; it stops after seeing it.
        self.stop.store(true, Ordering::Release);
        if let Some(segment) = &self.segment {
            segment.close();
            segment.unlink();
            // Wake our own pump if it sleeps on the inbound ring.
            let inbound = segment.inbound();
            futex::wake(&inbound.control().waiting.0);
        }
        // Or if it is parked while this actor reads.
        self.doorbell.wake_pump();
    }

    /// Writes as much as fits — control records first, before every data fragment — and
    /// arms a retry when the ring is full.
    fn write_backlog(&mut self, ctx: &mut Context<Self>) {
        let Some(producer) = self.producer.as_mut() else {
            return;
        };
        let max = data_record_limit(producer);
        let before = producer.position();
        loop {
            if !write_control(producer, &mut self.control) {
                break;
            }
            let writing = match self.writing.as_mut() {
                Some(writing) => writing,
                None => {
                    let Some(out) = self.backlog.pop_front() else {
                        publish(producer);
                        self.full_since = None;
                        return;
                    };
                    self.frame.clear();
                    if let Err(error) = self.codec.encode_into(&out.message, &mut self.frame) {
                        tracing::debug!(link = %self.setup.port.link(), id = %out.message.id, %error, "message not sent: cannot encode");
                        self.setup.port.refused(out.message.clone(), error);
                        self.credit.written(out.lane, 0, &self.setup.port);
                        continue;
                    }
                    self.writing.insert(Writing {
                        lane: out.lane,
                        written: 0,
                    })
                }
            };
            let count = fragment_count(self.frame.len(), max);
            if writing.written < count {
                let piece = fragment(self.frame.len(), max, writing.written);
                match push_fragment(producer, &piece, &self.frame) {
                    Ok(()) => {
                        writing.written += 1;
                        if producer.should_publish() {
                            publish(producer);
                        }
                    }
                    Err(PushError::Full) => break,
                    Err(PushError::TooLarge(_)) => unreachable!("fragments fit a record"),
                }
                continue;
            }
            let lane = writing.lane;
            self.writing = None;
            self.credit
                .written(lane, self.frame.len(), &self.setup.port);
            self.frame.clear();
            if self.frame.encoded_capacity() > KEEP_FRAME_BYTES {
                self.frame = GatherFrame::new();
            }
        }
        if producer.position() != before {
            // Progress: the reader is draining; keep retrying eagerly.
            self.full_since = None;
        }
        publish(producer);
        self.arm_retry(ctx);
    }

    fn arm_retry(&mut self, ctx: &mut Context<Self>) {
        if self.retry_armed {
            return;
        }
        self.retry_armed = true;
        let since = *self.full_since.get_or_insert_with(Instant::now);
        if since.elapsed() < EAGER_RETRY {
            notify_after_yield(ctx, || Retry);
        } else {
            ctx.notify_later(Retry, Duration::from_millis(1));
        }
    }
}

/// Sends the actor `message()` after yielding to the arbiter's other tasks (the node,
/// the agents): a plain self-notice is handled in the same turn, so a busy loop of them would
/// keep the rest of the node from running.
fn notify_after_yield<M>(ctx: &mut Context<ShmLinkActor>, message: impl FnOnce() -> M + 'static)
where
    M: actix::Message<Result = ()> + 'static,
    ShmLinkActor: Handler<M>,
{
    ctx.spawn(
        actix::fut::wrap_future::<_, ShmLinkActor>(tokio::task::yield_now())
            .map(move |_, _, ctx| ctx.notify(message())),
    );
}

/// Writes queued control records; `false` when the ring filled up first.
fn write_control(producer: &mut Producer<SegmentRing>, control: &mut VecDeque<Vec<u8>>) -> bool {
    while let Some(record) = control.front() {
        match producer.try_push(flag(0, 1), record) {
            Ok(()) => {
                control.pop_front();
            }
            Err(_) => return false,
        }
    }
    true
}

/// Largest record a data message is cut into: an eighth of the ring (a control message may
/// take a whole record). The reader sees a record only once it is written whole, and the
/// writer starts one only once that much space is free: records well below the ring's size let
/// the two copies of a large message overlap instead of taking turns.
fn data_record_limit(producer: &Producer<SegmentRing>) -> usize {
    (producer.storage().capacity() / 8).min(producer.max_payload())
}

/// Writes one record of `frame` as `piece` says (its length prefix, then its bytes).
fn push_fragment(
    producer: &mut Producer<SegmentRing>,
    piece: &Fragment,
    frame: &GatherFrame,
) -> Result<(), PushError> {
    let range = piece.range.clone();
    if piece.prefix.is_none() && !frame.has_references() {
        return producer.try_push(piece.flags, &frame.encoded()[range]);
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    if let Some(prefix) = &piece.prefix {
        parts.push(prefix);
    }
    if frame.has_references() {
        frame.pieces(range.start, range.end, |bytes| parts.push(bytes));
    } else {
        parts.push(&frame.encoded()[range]);
    }
    producer.try_push_parts(piece.flags, &parts)
}

/// Publishes what was written and wakes the peer's reader if it sleeps.
fn publish(producer: &mut Producer<SegmentRing>) {
    if producer.publish() {
        futex::wake(&producer.storage().control().waiting.0);
    }
}

impl Actor for ShmLinkActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let me = ctx.address();
        let pump = PumpSetup {
            link: self.setup.clone(),
            actor: ToActor {
                attached: me.clone().recipient(),
                ended: me.clone().recipient(),
                readable: me.clone().recipient(),
                handle: LinkAddr::to(&me).with_batches(&me),
            },
            stop: self.stop.clone(),
            codec: self.codec.clone(),
            doorbell: self.doorbell.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("shm-pump-{}", self.setup.name))
            .spawn(move || pump::run(pump));
        if let Err(e) = spawned {
            self.report_closed(format!("cannot start the pump thread: {e}"));
            ctx.stop();
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.shut_down();
        self.report_closed("link stopped".into());
    }
}

impl Handler<Attached> for ShmLinkActor {
    type Result = ();

    fn handle(&mut self, attached: Attached, ctx: &mut Context<Self>) {
        if self.setup.port.is_closed() {
            return;
        }
        self.producer = Some(attached.producer);
        self.segment = Some(attached.segment);
        if let Some(reader) = attached.reader {
            self.reader = Some(reader);
            match self.setup.mode {
                ReadMode::BusyPoll => ctx.notify(Poll),
                // Read what came before the bell was armed; that arms it.
                _ => ctx.notify(Readable),
            }
        }
        self.write_backlog(ctx);
    }
}

impl Handler<LinkOutbound> for ShmLinkActor {
    type Result = ();

    fn handle(&mut self, out: LinkOutbound, ctx: &mut Context<Self>) {
        self.enqueue(out);
        if !self.retry_armed {
            self.write_backlog(ctx);
        }
    }
}

impl Handler<LinkOutboundBatch> for ShmLinkActor {
    type Result = ();

    fn handle(&mut self, mut batch: LinkOutboundBatch, ctx: &mut Context<Self>) {
        batch.0.drain(..).for_each(|out| self.enqueue(out));
        if !self.retry_armed {
            self.write_backlog(ctx);
        }
    }
}

impl ShmLinkActor {
    /// Queues `out`: control messages encoded at once into the control queue (written ahead
    /// of data), data in the backlog.
    fn enqueue(&mut self, out: LinkOutbound) {
        if out.lane != Lane::Control {
            self.backlog.push_back(out);
            return;
        }
        let mut frame = Vec::new();
        if let Err(e) = self.codec.encode_into(&out.message, &mut frame) {
            tracing::warn!(link = %self.setup.port.link(), id = %out.message.id, error = %e, "control message not sent: cannot encode");
            return;
        }
        let max = self.producer.as_ref().map_or(0, |p| p.max_payload());
        if frame.len() <= max {
            self.control.push_back(frame);
        } else {
            // Larger than a record (a big Hello, say): in turn with data, fragmented.
            self.backlog.push_back(out);
        }
    }
}

impl Handler<Retry> for ShmLinkActor {
    type Result = ();

    fn handle(&mut self, _: Retry, ctx: &mut Context<Self>) {
        self.retry_armed = false;
        self.write_backlog(ctx);
    }
}

impl Handler<Poll> for ShmLinkActor {
    type Result = ();

    /// Reads what arrived, checks liveness every tick, and polls again at once: the arbiter
    /// never sleeps while the link is up (one core spent for the lowest latency).
    fn handle(&mut self, _: Poll, ctx: &mut Context<Self>) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        let outcome = if reader.node_behind() {
            Ok(false)
        } else {
            reader.read_burst()
        }
        .and_then(|_| reader.on_tick(Instant::now()));
        match outcome {
            Ok(()) => notify_after_yield(ctx, || Poll),
            Err(reason) => {
                tracing::info!(link = %self.setup.port.link(), segment = %self.setup.name, %reason, "shared-memory link down");
                self.report_closed(reason);
                ctx.stop();
            }
        }
    }
}

impl Handler<Readable> for ShmLinkActor {
    type Result = ();

    /// Reads a burst; reads on (after the node has handled it) while records wait, and arms
    /// the doorbell once the ring is drained.
    fn handle(&mut self, _: Readable, ctx: &mut Context<Self>) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        if reader.node_behind() {
            notify_after_yield(ctx, || Readable);
            return;
        }
        match reader.read_burst() {
            Ok(_) if reader.has_data() => notify_after_yield(ctx, || Readable),
            Ok(_) => self.doorbell.arm(),
            Err(reason) => {
                tracing::info!(link = %self.setup.port.link(), segment = %self.setup.name, %reason, "shared-memory link down");
                self.report_closed(reason);
                ctx.stop();
            }
        }
    }
}

impl Handler<PumpEnded> for ShmLinkActor {
    type Result = ();

    fn handle(&mut self, ended: PumpEnded, ctx: &mut Context<Self>) {
        // Hand over what the peer wrote before it went.
        if let Some(reader) = self.reader.as_mut() {
            reader.read_remaining();
        }
        tracing::info!(link = %self.setup.port.link(), segment = %self.setup.name, reason = %ended.reason, "shared-memory link down");
        self.report_closed(ended.reason);
        ctx.stop();
    }
}

impl Handler<LinkClose> for ShmLinkActor {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Context<Self>) {
        // Write what is already encoded (best effort), then close.
        self.write_backlog(ctx);
        self.shut_down();
        self.report_closed(close.reason);
        ctx.stop();
    }
}
