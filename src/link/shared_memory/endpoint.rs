//! The actor of a shared-memory link: it encodes outbound messages and writes them into the
//! outbound ring (fragmented when larger than a record), publishes, and wakes the peer's
//! reader only when it announced sleeping. In the default and busy-poll [`ReadMode`]s it also
//! reads the inbound ring (when the pump thread rings, or on every turn). It reports the link
//! closed to the supervisor, exactly once (the pump reports it open).
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
//! by the supervisor's link window (it hands out no more until written messages are
//! acknowledged); past that, data waits in the supervisor's bounded queue and senders get
//! `Full`. A peer that stops reading is closed as a slow consumer by the supervisor.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler};
use swarm_protocol::codec::{Codec, FrameBuffer, GatherFrame};
use swarm_shm::futex;
use swarm_shm::ring::{Producer, PushError, RingStorage};
use swarm_shm::segment::{Segment, SegmentRing, Side};

use super::doorbell::Doorbell;
use super::fragments::flag;
use super::pump::{self, PumpSetup, ReadMode, Reader};
use crate::config::TransportConfig;
use crate::link::credit::WriteCredit;
use crate::link::{
    Lane, LinkClose, LinkClosed, LinkId, LinkOutbound, LinkOutboundBatch, LinkRefused,
};
use crate::supervisor::Supervisor;

/// How long a ring that stays full (no record written) is retried at once before falling back
/// to a 1 ms timer.
const EAGER_RETRY: Duration = Duration::from_micros(500);

/// Largest encode buffer kept for the next message (a larger one is freed after use).
const KEEP_FRAME_BYTES: usize = 8 << 20;

/// Pump → endpoint: the segment is ready (and, for a creator, the peer has attached).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Attached {
    /// The mapped segment.
    pub segment: Arc<Segment>,
    /// In busy-poll mode: the reading end, for the endpoint to poll from its arbiter.
    pub reader: Option<Reader>,
}

/// Pump → endpoint: the pump has ended (peer gone, bad data, setup failed, or stopped).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct PumpEnded {
    /// Why.
    pub reason: String,
}

/// The endpoint's notice to itself: retry writing the backlog.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Retry;

/// Pump → endpoint ([`ReadMode::Doorbell`]): records arrived; read them (the endpoint also
/// sends it to itself while a burst leaves more to read).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Readable;

/// The endpoint's notice to itself (busy-poll mode): read the inbound ring again.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Poll;

/// The message being written: encoded, some of its fragments in the ring.
struct Writing {
    lane: Lane,
    /// Fragments written so far.
    written: usize,
}

/// Where the endpoint starts.
pub struct EndpointSetup {
    pub link: LinkId,
    pub supervisor: Addr<Supervisor>,
    pub config: Arc<TransportConfig>,
    pub name: String,
    pub side: Side,
    pub ring_size: usize,
    pub spin: Duration,
    pub mode: ReadMode,
}

/// One shared-memory link, writing side.
pub struct ShmEndpoint {
    setup: EndpointSetup,
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
    closed_reported: bool,
}

impl ShmEndpoint {
    /// An endpoint for `setup` (start it as an actor).
    pub fn new(setup: EndpointSetup) -> Self {
        // Never compressed (no `LinkConfigure`): gzip costs more than it saves over memory.
        let codec = Codec::new(setup.config.codec_config());
        let credit = WriteCredit::new(&setup.config);
        ShmEndpoint {
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
            closed_reported: false,
        }
    }

    fn report_closed(&mut self, reason: String) {
        if !self.closed_reported {
            self.closed_reported = true;
            self.setup.supervisor.do_send(LinkClosed {
                link: self.setup.link,
                reason,
            });
        }
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
        // Or if it is parked while this endpoint reads.
        self.doorbell.wake_pump();
    }

    /// Writes as much as fits — control records first, before every data fragment — and
    /// arms a retry when the ring is full.
    fn write_backlog(&mut self, ctx: &mut Context<Self>) {
        let Some(producer) = self.producer.as_mut() else {
            return;
        };
        let max = producer.max_payload();
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
                        tracing::debug!(link = %self.setup.link, id = %out.message.id, %error, "message not sent: cannot encode");
                        self.setup.supervisor.do_send(LinkRefused {
                            link: self.setup.link,
                            message: out.message.clone(),
                            error,
                        });
                        self.credit
                            .written(out.lane, 0, self.setup.link, &self.setup.supervisor);
                        continue;
                    }
                    self.writing.insert(Writing {
                        lane: out.lane,
                        written: 0,
                    })
                }
            };
            let count = self.frame.len().div_ceil(max).max(1);
            if writing.written < count {
                let start = writing.written * max;
                let end = (start + max).min(self.frame.len());
                match push_range(
                    producer,
                    flag(writing.written, count),
                    &self.frame,
                    start,
                    end,
                ) {
                    Ok(()) => writing.written += 1,
                    Err(PushError::Full) => break,
                    Err(PushError::TooLarge(_)) => unreachable!("fragments fit a record"),
                }
                continue;
            }
            let lane = writing.lane;
            self.writing = None;
            self.credit.written(
                lane,
                self.frame.len(),
                self.setup.link,
                &self.setup.supervisor,
            );
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

/// Sends the endpoint `message()` after yielding to the arbiter's other tasks (the supervisor,
/// the agents): a plain self-notice is handled in the same turn, so a busy loop of them would
/// keep the rest of the node from running.
fn notify_after_yield<M>(ctx: &mut Context<ShmEndpoint>, message: impl FnOnce() -> M + 'static)
where
    M: actix::Message<Result = ()> + 'static,
    ShmEndpoint: Handler<M>,
{
    ctx.spawn(
        actix::fut::wrap_future::<_, ShmEndpoint>(tokio::task::yield_now())
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

/// Writes bytes `start..end` of `frame` as one record.
fn push_range(
    producer: &mut Producer<SegmentRing>,
    flags: u32,
    frame: &GatherFrame,
    start: usize,
    end: usize,
) -> Result<(), PushError> {
    if !frame.has_references() {
        return producer.try_push(flags, &frame.encoded()[start..end]);
    }
    let mut parts = Vec::new();
    frame.pieces(start, end, |piece| parts.push(piece));
    producer.try_push_parts(flags, &parts)
}

/// Publishes what was written and wakes the peer's reader if it sleeps.
fn publish(producer: &mut Producer<SegmentRing>) {
    if producer.publish() {
        futex::wake(&producer.storage().control().waiting.0);
    }
}

impl Actor for ShmEndpoint {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let config = &self.setup.config;
        let pump = PumpSetup {
            name: self.setup.name.clone(),
            side: self.setup.side,
            ring_size: self.setup.ring_size,
            open_timeout: config.connection_timeout(),
            link: self.setup.link,
            supervisor: self.setup.supervisor.clone(),
            endpoint: ctx.address(),
            stop: self.stop.clone(),
            codec: self.codec.clone(),
            max_message_size: config.max_message_size,
            inbound_limit: config.link_inbound_bytes.max(config.max_message_size),
            spin: self.setup.spin,
            heartbeat_timeout: config.heartbeat_timeout,
            mode: self.setup.mode,
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

impl Handler<Attached> for ShmEndpoint {
    type Result = ();

    fn handle(&mut self, attached: Attached, ctx: &mut Context<Self>) {
        if self.closed_reported {
            return;
        }
        let segment = attached.segment;
        self.producer = Some(Producer::new(segment.outbound()));
        self.segment = Some(segment);
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

impl Handler<LinkOutbound> for ShmEndpoint {
    type Result = ();

    fn handle(&mut self, out: LinkOutbound, ctx: &mut Context<Self>) {
        self.enqueue(out);
        if !self.retry_armed {
            self.write_backlog(ctx);
        }
    }
}

impl Handler<LinkOutboundBatch> for ShmEndpoint {
    type Result = ();

    fn handle(&mut self, mut batch: LinkOutboundBatch, ctx: &mut Context<Self>) {
        batch.0.drain(..).for_each(|out| self.enqueue(out));
        if !self.retry_armed {
            self.write_backlog(ctx);
        }
    }
}

impl ShmEndpoint {
    /// Queues `out`: control messages encoded at once into the control queue (written ahead
    /// of data), data in the backlog.
    fn enqueue(&mut self, out: LinkOutbound) {
        if out.lane != Lane::Control {
            self.backlog.push_back(out);
            return;
        }
        let mut frame = Vec::new();
        if let Err(e) = self.codec.encode_into(&out.message, &mut frame) {
            tracing::warn!(link = %self.setup.link, id = %out.message.id, error = %e, "control message not sent: cannot encode");
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

impl Handler<Retry> for ShmEndpoint {
    type Result = ();

    fn handle(&mut self, _: Retry, ctx: &mut Context<Self>) {
        self.retry_armed = false;
        self.write_backlog(ctx);
    }
}

impl Handler<Poll> for ShmEndpoint {
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
                tracing::info!(link = %self.setup.link, segment = %self.setup.name, %reason, "shared-memory link down");
                self.report_closed(reason);
                ctx.stop();
            }
        }
    }
}

impl Handler<Readable> for ShmEndpoint {
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
                tracing::info!(link = %self.setup.link, segment = %self.setup.name, %reason, "shared-memory link down");
                self.report_closed(reason);
                ctx.stop();
            }
        }
    }
}

impl Handler<PumpEnded> for ShmEndpoint {
    type Result = ();

    fn handle(&mut self, ended: PumpEnded, ctx: &mut Context<Self>) {
        // Hand over what the peer wrote before it went.
        if let Some(reader) = self.reader.as_mut() {
            reader.read_remaining();
        }
        tracing::info!(link = %self.setup.link, segment = %self.setup.name, reason = %ended.reason, "shared-memory link down");
        self.report_closed(ended.reason);
        ctx.stop();
    }
}

impl Handler<LinkClose> for ShmEndpoint {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Context<Self>) {
        // Write what is already encoded (best effort), then close.
        self.write_backlog(ctx);
        self.shut_down();
        self.report_closed(close.reason);
        ctx.stop();
    }
}
