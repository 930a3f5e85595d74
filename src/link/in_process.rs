//! In-process links: two nodes in one process joined by a pair of mailbox actors.
//!
//! This is how multi-node logic (routing, handshakes, heartbeats, reconnects) is exercised
//! without sockets, and how a process hosting several nodes joins them. Messages cross as
//! `Arc<Message>`, never encoded. [`Faults`] injects delay, random drops and partitions, and is
//! shared by every reconnect of the link, so a test can partition a link, watch it die, heal it
//! and watch the supervisor bring it back.
//!
//! ```no_run
//! # use swarm_transport::{Swarm, TransportConfig, link::in_process::{InProcessLink, Faults}};
//! # fn demo(a: &Swarm, b: &Swarm) {
//! let faults = Faults::new();
//! a.connect(InProcessLink::new(b).with_faults(faults.clone()));
//! faults.set_partitioned(true); // both directions go silent
//! # }
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler};
use swarm_protocol::core::handshake::Role;
use swarm_protocol::Message;

use super::{
    Lane, LinkClose, LinkClosed, LinkConnector, LinkContext, LinkFlushed, LinkHandle, LinkId,
    LinkInbound, LinkOpened, LinkOutbound,
};
use crate::supervisor::Supervisor;
use crate::Swarm;

const TRANSPORT: &str = "in_process";

#[derive(Debug, Default)]
struct FaultState {
    partitioned: AtomicBool,
    /// Drop probability in parts per million.
    drop_ppm: AtomicU64,
    delay_us: AtomicU64,
    dropped: AtomicU64,
}

/// Fault injection for an in-process link, shared by both directions and every reconnect.
///
/// All settings are plain atomics read per message with `Relaxed` ordering: each is an
/// independent knob, nothing else is published through them, and a test that flips one only
/// needs later messages to see it eventually.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<FaultState>);

impl Faults {
    /// No faults.
    pub fn new() -> Self {
        Faults::default()
    }

    /// Cuts (or restores) both directions: every message, control included, is dropped.
    pub fn set_partitioned(&self, partitioned: bool) {
        self.0.partitioned.store(partitioned, Ordering::Relaxed);
    }

    /// Whether the link is cut.
    pub fn is_partitioned(&self) -> bool {
        self.0.partitioned.load(Ordering::Relaxed)
    }

    /// Drops each message with probability `rate` (0.0–1.0).
    pub fn set_drop_rate(&self, rate: f64) {
        let ppm = (rate.clamp(0.0, 1.0) * 1_000_000.0) as u64;
        self.0.drop_ppm.store(ppm, Ordering::Relaxed);
    }

    /// Delays every message by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.0.delay_us.store(us, Ordering::Relaxed);
    }

    /// Messages dropped by injected faults so far.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    fn delay(&self) -> Duration {
        Duration::from_micros(self.0.delay_us.load(Ordering::Relaxed))
    }

    /// Decides the fate of one message; `random` is a uniform u64.
    fn should_drop(&self, random: u64) -> bool {
        let drop =
            self.is_partitioned() || (random % 1_000_000) < self.0.drop_ppm.load(Ordering::Relaxed);
        if drop {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }
}

/// Connector for an in-process link to another node of this process.
pub struct InProcessLink {
    peer: Addr<Supervisor>,
    peer_name: String,
    faults: Faults,
}

impl InProcessLink {
    /// A link from the node that connects it to `peer`.
    pub fn new(peer: &Swarm) -> Self {
        InProcessLink {
            peer: peer.addr().clone(),
            peer_name: peer.node_name().to_owned(),
            faults: Faults::new(),
        }
    }

    /// Uses `faults` (keep a clone to flip them during a test).
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

impl LinkConnector for InProcessLink {
    fn transport(&self) -> &'static str {
        TRANSPORT
    }

    fn peer(&self) -> String {
        self.peer_name.clone()
    }

    fn connect(&mut self, ctx: LinkContext) {
        let near = Endpoint::new(
            ctx.link,
            ctx.supervisor,
            Role::Initiator,
            self.faults.clone(),
        )
        .start();
        let far = Endpoint::new(
            LinkId::next(),
            self.peer.clone(),
            Role::Acceptor,
            self.faults.clone(),
        )
        .start();
        near.do_send(Pair(far.clone()));
        far.do_send(Pair(near));
    }
}

/// One end of an in-process link.
struct Endpoint {
    link: LinkId,
    supervisor: Addr<Supervisor>,
    role: Role,
    faults: Faults,
    peer: Option<Addr<Endpoint>>,
    rng: u64,
    closed_reported: bool,
}

impl Endpoint {
    fn new(link: LinkId, supervisor: Addr<Supervisor>, role: Role, faults: Faults) -> Self {
        Endpoint {
            link,
            supervisor,
            role,
            faults,
            peer: None,
            rng: link.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            closed_reported: false,
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64: fault injection needs cheap, not cryptographic, randomness.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn report_closed(&mut self, reason: String) {
        if !self.closed_reported {
            self.closed_reported = true;
            self.supervisor.do_send(LinkClosed {
                link: self.link,
                reason,
            });
        }
    }
}

impl Actor for Endpoint {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        self.report_closed("link actor stopped".into());
    }
}

/// Wires the two ends together.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Pair(Addr<Endpoint>);

impl Handler<Pair> for Endpoint {
    type Result = ();

    fn handle(&mut self, Pair(peer): Pair, ctx: &mut Context<Self>) {
        self.peer = Some(peer);
        let addr = ctx.address();
        self.supervisor.do_send(LinkOpened {
            link: self.link,
            transport: TRANSPORT,
            peer: format!("in-process {}", self.link),
            role: self.role,
            handle: LinkHandle {
                outbound: addr.clone().recipient(),
                outbound_batch: None,
                close: addr.recipient(),
                configure: None,
            },
            authenticated: true,
        });
    }
}

/// A message crossing from the other end.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct PeerFrame(Arc<Message>);

/// The other end closed.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct PeerGone;

impl Handler<LinkOutbound> for Endpoint {
    type Result = ();

    fn handle(&mut self, out: LinkOutbound, ctx: &mut Context<Self>) {
        let size = out.message.estimated_size();
        let random = self.random();
        if !self.faults.should_drop(random) {
            if let Some(peer) = &self.peer {
                let delay = self.faults.delay();
                if delay.is_zero() {
                    peer.do_send(PeerFrame(out.message));
                } else {
                    let peer = peer.clone();
                    ctx.run_later(delay, move |_, _| peer.do_send(PeerFrame(out.message)));
                }
            }
        } else {
            tracing::debug!(link = %self.link, "fault injection dropped a message");
        }
        if out.lane == Lane::Data {
            self.supervisor.do_send(LinkFlushed {
                link: self.link,
                count: 1,
                bytes: size,
            });
        }
    }
}

impl Handler<PeerFrame> for Endpoint {
    type Result = ();

    fn handle(&mut self, PeerFrame(message): PeerFrame, _: &mut Context<Self>) {
        let size = message.estimated_size();
        self.supervisor.do_send(LinkInbound {
            link: self.link,
            message,
            size,
            ticket: None,
        });
    }
}

impl Handler<LinkClose> for Endpoint {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Context<Self>) {
        // The close notice crosses the link like any message: a partition swallows it, and the
        // far side then finds out through its own heartbeat timeout, as over a real network.
        let random = self.random();
        if let Some(peer) = self.peer.take() {
            if !self.faults.should_drop(random) {
                peer.do_send(PeerGone);
            }
        }
        self.report_closed(close.reason);
        ctx.stop();
    }
}

impl Handler<PeerGone> for Endpoint {
    type Result = ();

    fn handle(&mut self, _: PeerGone, ctx: &mut Context<Self>) {
        self.peer = None;
        self.report_closed("peer closed the link".into());
        ctx.stop();
    }
}
