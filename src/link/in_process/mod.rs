//! In-process links: two nodes in one process joined by a pair of mailbox actors.
//!
//! This is how multi-node logic (routing, handshakes, heartbeats, reconnects) is exercised
//! without sockets, and how a process hosting several nodes joins them. Messages cross as
//! `Arc<Message>`, never encoded. [`Faults`] injects delay, random drops and partitions, and is
//! shared by every reconnect of the link, so a test can partition a link, watch it die, heal it
//! and watch the node bring it back.
//!
//! ```no_run
//! # use swarm_transport::{Swarm, TransportConfig, link::in_process::{InProcessLink, Faults}};
//! # fn demo(a: &Swarm, b: &Swarm) {
//! let faults = Faults::new();
//! a.connect(InProcessLink::new(b).with_faults(faults.clone()));
//! faults.set_partitioned(true); // both directions go silent
//! # }
//! ```

mod faults;

use std::sync::Arc;

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler};
use swarm_protocol::core::handshake::Role;
use swarm_protocol::Message;

pub use faults::Faults;

use super::{
    Lane, LinkAcceptor, LinkAddr, LinkClose, LinkConnector, LinkContext, LinkOutbound, LinkPort,
};

const TRANSPORT: &str = "in_process";

/// Connector for an in-process link to another node of this process.
pub struct InProcessLink {
    peer: LinkAcceptor,
    faults: Faults,
}

impl InProcessLink {
    /// A link from the node that connects it to `peer` (a `&Swarm` or its
    /// [`acceptor`](crate::Swarm::acceptor)).
    pub fn new(peer: impl Into<LinkAcceptor>) -> Self {
        InProcessLink {
            peer: peer.into(),
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
        self.peer.node().to_owned()
    }

    fn connect(&mut self, ctx: LinkContext) {
        let near = Endpoint::new(ctx.port, Role::Initiator, self.faults.clone()).start();
        let far = Endpoint::new(self.peer.accept(), Role::Acceptor, self.faults.clone()).start();
        near.do_send(Pair(far.clone()));
        far.do_send(Pair(near));
    }
}

/// One end of an in-process link.
struct Endpoint {
    port: LinkPort,
    role: Role,
    faults: Faults,
    peer: Option<Addr<Endpoint>>,
    rng: u64,
}

impl Endpoint {
    fn new(port: LinkPort, role: Role, faults: Faults) -> Self {
        Endpoint {
            rng: port.link().0.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            port,
            role,
            faults,
            peer: None,
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64: fault injection needs cheap, not cryptographic, randomness.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

impl Actor for Endpoint {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        self.port.closed("link actor stopped");
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
        self.port.opened(
            TRANSPORT,
            format!("in-process {}", self.port.link()),
            self.role,
            LinkAddr::to(&ctx.address()),
            true,
        );
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
            tracing::debug!(link = %self.port.link(), "fault injection dropped a message");
        }
        if out.lane == Lane::Data {
            self.port.flushed(1, size);
        }
    }
}

impl Handler<PeerFrame> for Endpoint {
    type Result = ();

    fn handle(&mut self, PeerFrame(message): PeerFrame, _: &mut Context<Self>) {
        let size = message.estimated_size();
        self.port.inbound(message, size, None);
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
        self.port.closed(close.reason);
        ctx.stop();
    }
}

impl Handler<PeerGone> for Endpoint {
    type Result = ();

    fn handle(&mut self, _: PeerGone, ctx: &mut Context<Self>) {
        self.peer = None;
        self.port.closed("peer closed the link");
        ctx.stop();
    }
}
