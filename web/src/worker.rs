//! The page's side of its workers' links: each dedicated worker that joined through
//! [`WebSwarm::attach_worker`](crate::WebSwarm::attach_worker) speaks the protocol to the page
//! over `postMessage` (MessagePack frames in transferred buffers). The page answers its
//! `Hello` and heartbeats itself, adds the worker's agents and topics to its own link (so the
//! node sees one peer, the page, hosting them all), and hands on what is addressed to them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use swarm_protocol::core::handshake::{Handshake, HandshakeConfig, HandshakeStep};
use swarm_protocol::message::{ControlOperation, MessageType};
use swarm_protocol::{Codec, Message, ProtocolVersion};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

use crate::clock;
use crate::link::Link;
use crate::port::post_frame;
use crate::ring::channel::RingSender;
use crate::ring::offer::RingOffer;
use crate::ring::shared::SharedRing;
use crate::stats::WorkerPath;

/// One worker's link to the page.
pub(crate) struct WorkerLink {
    worker: Worker,
    /// The worker's node name, from its `Hello`.
    name: Option<String>,
    handshake: Option<Handshake<Duration>>,
    agents: BTreeSet<String>,
    topics: BTreeSet<String>,
    events: BTreeSet<String>,
    /// Set once the page offered rings: frames to the worker go there.
    ring_tx: Option<RingSender>,
    /// The worker's ring to the page, read once the worker said it switched.
    ring_rx: Option<SharedRing>,
    path: WorkerPath,
    /// When the page last heard from it (it probes at its heartbeat interval).
    last_heard: Duration,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

/// The workers of a page.
#[derive(Default)]
pub(crate) struct Workers {
    links: BTreeMap<u32, WorkerLink>,
    next: u32,
    codec: Codec,
    failures: std::cell::Cell<u64>,
}

impl Workers {
    /// Adds a worker; `listener` is what hears its frames (it must call [`on_frame`]).
    pub(crate) fn attach(
        &mut self,
        worker: Worker,
        make_listener: impl FnOnce(u32) -> Closure<dyn FnMut(MessageEvent)>,
    ) -> u32 {
        let index = self.next;
        self.next += 1;
        let listener = make_listener(index);
        worker.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        let handshake = Handshake::accept(
            HandshakeConfig {
                version: ProtocolVersion::CURRENT,
                capabilities: Vec::new(),
                metadata: BTreeMap::new(),
            },
            clock::now(),
            Duration::from_secs(3600),
        );
        self.links.insert(
            index,
            WorkerLink {
                worker,
                name: None,
                handshake: Some(handshake),
                agents: BTreeSet::new(),
                topics: BTreeSet::new(),
                events: BTreeSet::new(),
                ring_tx: None,
                ring_rx: None,
                path: WorkerPath::PostMessage,
                last_heard: clock::now(),
                _listener: listener,
            },
        );
        index
    }

    /// The path each worker uses.
    pub(crate) fn paths(&self) -> Vec<WorkerPath> {
        self.links.values().map(|l| l.path).collect()
    }

    fn post(&self, link: &WorkerLink, message: &Message) -> bool {
        let posted = self
            .codec
            .encode(message)
            .is_ok_and(|frame| match &link.ring_tx {
                Some(ring) => ring.send(&frame),
                None => post_frame(&frame, |data, transfer| {
                    link.worker.post_message_with_transfer(data, transfer)
                }),
            });
        if !posted {
            self.failures.set(self.failures.get() + 1);
        }
        posted
    }

    /// Frames a worker would not take (too large to encode, or its ring's backlog full).
    pub(crate) fn failures(&self) -> u64 {
        self.failures.get()
    }

    /// Hands a message addressed to an agent (or a response to a node name) to the worker
    /// hosting it; false when no worker does.
    pub(crate) fn forward_addressed(&self, message: &Message) -> bool {
        let Some(to) = message.destination.as_deref() else {
            return false;
        };
        let host = self
            .links
            .values()
            .find(|l| l.agents.contains(to) || l.name.as_deref() == Some(to));
        host.is_some_and(|link| self.post(link, message))
    }

    /// Hands a broadcast to every worker subscribed to `topic`.
    pub(crate) fn forward_broadcast(&self, topic: &str, message: &Message) {
        for link in self.links.values().filter(|l| l.topics.contains(topic)) {
            self.post(link, message);
        }
    }

    /// Hands a swarm-wide event to every worker subscribed to it; true if any was.
    pub(crate) fn forward_event(&self, name: &str, message: &Message) -> bool {
        let mut any = false;
        for link in self.links.values().filter(|l| l.events.contains(name)) {
            any |= self.post(link, message);
        }
        any
    }
}

/// Worker `index` switched to its ring (it posted the marker): the ring to read from now on.
pub(crate) fn ring_on(link: &mut Link, index: u32) -> Option<SharedRing> {
    let worker = link.workers.links.get_mut(&index)?;
    let ring = worker.ring_rx.take()?;
    worker.path = WorkerPath::SharedArrayBuffer;
    Some(ring)
}

/// A frame from worker `index`: its handshake, heartbeats, agents and interest are the page's
/// business; everything else goes on to the node.
pub(crate) fn on_frame(link: &mut Link, index: u32, frame: &[u8]) {
    let Ok(message) = link.workers.codec.decode(frame) else {
        link.stats.bad_frames += 1;
        return;
    };
    let page = link.name.clone();
    let Some(worker) = link.workers.links.get_mut(&index) else {
        return;
    };
    worker.last_heard = clock::now();
    let reply = match &message.payload {
        MessageType::Control { operation } => {
            if let Some(mut handshake) = worker.handshake.take() {
                match handshake.on_control(operation, |_| Ok(())) {
                    HandshakeStep::Done { reply, negotiated } => {
                        worker.name = negotiated.peer_metadata.get("node").cloned();
                        if RingOffer::possible() {
                            // The offer goes first, by postMessage; the answer to the Hello
                            // and all after it by the ring.
                            let (to_worker, to_page, offer) = RingOffer::create();
                            if worker.worker.post_message(&offer).is_ok() {
                                worker.ring_tx = Some(RingSender::new(to_worker));
                                worker.ring_rx = Some(to_page);
                            }
                        }
                        reply.map(|op| Message::control(page.as_str(), op))
                    }
                    HandshakeStep::Reject { reply, .. } => {
                        Some(Message::control(page.as_str(), reply))
                    }
                    HandshakeStep::Failed(_) => None,
                }
            } else {
                worker_control(link, index, operation);
                None
            }
        }
        MessageType::Heartbeat {
            seq,
            sent_at,
            echo: false,
        } => Some(Message::heartbeat(page.as_str(), *seq, *sent_at, true)),
        MessageType::Heartbeat { .. } => None,
        _ => {
            if link.session.send(message).is_err() {
                link.stats.refused += 1;
            }
            None
        }
    };
    if let (Some(reply), Some(worker)) = (reply, link.workers.links.get(&index)) {
        link.workers.post(worker, &reply);
    }
}

/// Worker `index` left (said goodbye, or fell silent): its agents and topics leave the page's
/// link with it.
fn detach(link: &mut Link, index: u32) {
    let Some(gone) = link.workers.links.remove(&index) else {
        return;
    };
    gone.worker.set_onmessage(None);
    for agent in &gone.agents {
        link.session.withdraw(agent);
    }
    for topic in &gone.topics {
        link.interest(topic, false);
    }
}

/// When the quietest worker falls silent for longer than `timeout`.
pub(crate) fn next_deadline(link: &Link, timeout: Duration) -> Option<Duration> {
    let quietest = link.workers.links.values().map(|l| l.last_heard).min()?;
    Some(quietest + timeout)
}

/// Drops the workers not heard from for `timeout` (terminated or crashed: a worker that
/// leaves properly says goodbye). Workers probe the page at their heartbeat interval, which
/// must be shorter than the page's heartbeat timeout.
pub(crate) fn expire(link: &mut Link, now: Duration, timeout: Duration) {
    let silent: Vec<u32> = link
        .workers
        .links
        .iter()
        .filter(|(_, l)| now.saturating_sub(l.last_heard) >= timeout)
        .map(|(index, _)| *index)
        .collect();
    for index in silent {
        detach(link, index);
    }
}

fn worker_control(link: &mut Link, index: u32, operation: &ControlOperation) {
    let Some(worker) = link.workers.links.get_mut(&index) else {
        return;
    };
    let (mut topics_on, mut topics_off) = (Vec::new(), Vec::new());
    match operation {
        ControlOperation::Announce { agents, .. } => {
            for agent in agents {
                if worker.agents.insert(agent.clone()) {
                    link.session.announce(agent.as_str());
                }
            }
        }
        ControlOperation::Withdraw { agents, .. } => {
            for agent in agents {
                if worker.agents.remove(agent) {
                    link.session.withdraw(agent);
                }
            }
        }
        ControlOperation::Subscribe { topics, events, .. } => {
            topics_on = topics
                .iter()
                .filter(|t| worker.topics.insert((*t).clone()))
                .cloned()
                .collect();
            for event in events {
                if worker.events.insert(event.clone()) {
                    link.session.subscribe_event(event.as_str());
                }
            }
        }
        ControlOperation::Unsubscribe { topics, .. } => {
            topics_off = topics
                .iter()
                .filter(|t| worker.topics.remove(*t))
                .cloned()
                .collect();
        }
        ControlOperation::Goodbye { .. } => return detach(link, index),
        _ => {}
    }
    for topic in topics_on {
        link.interest(&topic, true);
    }
    for topic in topics_off {
        link.interest(&topic, false);
    }
}
