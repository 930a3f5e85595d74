//! What a shared-memory link's actor and its pump thread tell each other: the pump's start,
//! the segment once attached, the doorbell's ring, the pump's end.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use actix::Recipient;
use swarm_protocol::codec::Codec;
use swarm_shm::ring::Producer;
use swarm_shm::segment::{Segment, SegmentRing};

use super::doorbell::Doorbell;
use super::reader::Reader;
use super::setup::LinkSetup;
use crate::link::LinkAddr;

/// Pump → actor: the segment is ready (and, for a creator, the peer has attached).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub(super) struct Attached {
    /// The mapped segment.
    pub segment: Arc<Segment>,
    /// This side's only writer of the outbound ring.
    pub producer: Producer<SegmentRing>,
    /// Doorbell and busy-poll modes: the reading end, for the actor to read from its arbiter.
    pub reader: Option<Reader>,
}

/// Pump → actor: the pump has ended (peer gone, bad data, setup failed, or stopped).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub(super) struct PumpEnded {
    /// Why.
    pub reason: String,
}

/// Pump → actor ([`ReadMode::Doorbell`](super::ReadMode::Doorbell)): records arrived; read
/// them (the actor also sends it to itself while a burst leaves more to read).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub(super) struct Readable;

/// Where the pump thread reaches its link actor.
pub(super) struct ToActor {
    pub attached: Recipient<Attached>,
    pub ended: Recipient<PumpEnded>,
    pub readable: Recipient<Readable>,
    /// The actor's handle, which the pump reports to the node with the link's opening.
    pub handle: LinkAddr,
}

/// What the actor hands its pump thread.
pub(super) struct PumpSetup {
    pub link: LinkSetup,
    pub actor: ToActor,
    /// Set by the actor when the link ends.
    pub stop: Arc<AtomicBool>,
    pub codec: Codec,
    /// Rung when records arrive for an actor that reads.
    pub doorbell: Arc<Doorbell>,
}
