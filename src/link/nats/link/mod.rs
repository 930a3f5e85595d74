//! The NATS link actor: one async-nats connection as one link of the node (see the
//! [module docs](super) for the scheme).
//!
//! Outbound messages are encoded here and handed, in order, to the [`writer`] task. Inbound
//! NATS messages arrive through one stream per subscription and reach the node in bursts
//! ([`InboundBurst`]). A bus link answers part of the node's control traffic itself
//! ([`control`]): it joins the bus ([`bus`]) — subscribes to presence and its own
//! no-responders subjects, and starts publishing presence ([`presence`]) — only once it has
//! answered the node's `Hello`, so nothing reaches the node before the handshake; topics and
//! event names are subscribed one by one as the node asks for them ([`listening`]).
//!
//! * [`connect`] — connecting, then starting the actor;
//! * [`writer`] — the writer task: ordered publishes, batches, write credit;
//! * [`control`] — the handshake, announcements and probes the link answers itself;
//! * [`bus`] — subscriptions and inbound frames;
//! * [`listening`] — the topic and event subjects the node asked for;
//! * [`presence`] — this node's presence and other nodes'.

mod bus;
mod connect;
mod control;
mod listening;
mod presence;
mod writer;

pub(super) use connect::connect;

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use async_nats::{Client, Event, StatusCode, Subject as NatsSubject};
use bytes::Bytes;
use swarm_protocol::codec::Codec;
use swarm_protocol::core::handshake::Role;
use swarm_protocol::{error_code, ControlOperation, ErrorBody, Message, MessageId, MessageType};
use tokio::sync::mpsc;

use super::node_directory::NodeDirectory;
use super::reply_routes::ReplyRoutes;
use super::subjects::{Subject, SubjectCache, SubjectKind as Kind, Subjects};
use super::TRANSPORT;
use crate::config::TransportConfig;
use crate::link::machinery::arena::FrameArena;
use crate::link::machinery::burst::{FlushInbound, InboundBurst};
use crate::link::machinery::credit::WriteCredit;
use crate::link::{
    BusNodeChange, Lane, LinkAddr, LinkClose, LinkConfigure, LinkId, LinkOutbound,
    LinkOutboundBatch, LinkPort,
};
use crate::support::owned_message::OwnedMessage;
use writer::{write_loop, Publish, WriterFailed};

/// Source name of the messages the link itself makes up (handshake answer, heartbeat echoes,
/// no-responders errors).
const BUS: &str = "nats";

/// The link actor.
struct NatsLinkActor {
    port: LinkPort,
    link: LinkId,
    node: String,
    peer: String,
    subjects: Subjects,
    client: Client,
    codec: Codec,
    arena: FrameArena,
    inbound: InboundBurst,
    credit: Option<WriteCredit>,
    writer: Option<mpsc::UnboundedSender<Vec<Publish>>>,
    /// Publishes of the message being handled, sent to the writer at its end.
    pending: Vec<Publish>,
    /// Agents this node reaches, each with its (queue) subscription once made and the
    /// origins (hosting nodes) the node announced it for.
    offered: HashMap<String, Offer>,
    /// Topics and event names the node asked for, by the origins that want them, each with
    /// its subscription once made (see [`listening`]).
    listening: HashMap<(Kind, String), listening::Listening>,
    nodes: NodeDirectory,
    cache: SubjectCache,
    reply_routes: ReplyRoutes,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    joined: bool,
    /// Messages async-nats dropped because a subscription's buffer was full.
    slow_consumer_drops: u64,
}

/// One agent this node offers on the bus.
#[derive(Debug, Default)]
struct Offer {
    subscription: Option<SpawnHandle>,
    /// The nodes hosting it that the node announced (`""` for itself); offered while any is.
    origins: std::collections::BTreeSet<String>,
    /// Announced as a pool member.
    pool: bool,
}

impl NatsLinkActor {
    fn new(
        port: LinkPort,
        node: String,
        peer: String,
        subjects: Subjects,
        client: Client,
        config: &TransportConfig,
    ) -> Self {
        NatsLinkActor {
            link: port.link(),
            inbound: InboundBurst::new(port.clone(), config),
            port,
            node,
            peer,
            subjects,
            client,
            codec: Codec::new(config.codec_config()),
            arena: FrameArena::default(),
            credit: Some(WriteCredit::new(config)),
            writer: None,
            pending: Vec::new(),
            offered: HashMap::new(),
            listening: HashMap::new(),
            nodes: NodeDirectory::default(),
            cache: SubjectCache::default(),
            reply_routes: ReplyRoutes::new(config.max_pending_requests.max(65_536)),
            heartbeat_interval: config.heartbeat_interval,
            heartbeat_timeout: config.heartbeat_timeout,
            joined: false,
            slow_consumer_drops: 0,
        }
    }

    // ----- toward the node -----------------------------------------------------------------

    /// Hands a message to the node (in the current burst).
    fn deliver(&mut self, message: Message, size: usize, ctx: &mut Context<Self>) {
        match self.inbound.push(OwnedMessage::new(message).into(), size) {
            Ok(true) => ctx.notify(FlushInbound),
            Ok(false) => {}
            Err(flooded) => {
                // NATS cannot be told to slow down: like a slow consumer at the server, the
                // message is dropped — counted and logged, never silently.
                tracing::warn!(link = %self.link, "{flooded}: NATS message dropped");
                self.dropped(1);
            }
        }
    }

    fn control(&mut self, source: &str, operation: ControlOperation, ctx: &mut Context<Self>) {
        self.deliver(Message::control(source, operation), 0, ctx);
    }

    /// Counts `messages` dropped in the node's statistics (the caller logs why).
    fn dropped(&self, messages: u64) {
        self.port.dropped(messages);
    }

    /// A node joined or left the bus.
    fn bus_node(&mut self, node: String, change: BusNodeChange) {
        // What was received before the change reaches the node before it.
        self.inbound.flush();
        self.port.bus_node(node, change);
    }

    /// An error response to request `id` of `agent`, made up here (the request never reached an
    /// agent).
    fn fail_request(
        &mut self,
        agent: String,
        id: MessageId,
        code: i32,
        reason: String,
        ctx: &mut Context<Self>,
    ) {
        let mut reply = Message::new(
            BUS,
            MessageType::Response {
                correlation_id: id,
                result: Err(ErrorBody::new(code, reason)),
            },
        );
        reply.destination = Some(agent.into());
        self.deliver(reply, 0, ctx);
    }

    fn report_closed(&mut self, reason: String) {
        if !self.port.is_closed() {
            self.inbound.flush();
            self.port.closed(reason);
        }
    }

    fn fail(&mut self, reason: String, ctx: &mut Context<Self>) {
        tracing::warn!(link = %self.link, peer = %self.peer, %reason, "NATS link closed");
        self.report_closed(reason);
        ctx.stop();
    }

    // ----- toward NATS ---------------------------------------------------------------------

    fn publish(
        &mut self,
        target: Option<(NatsSubject, Option<NatsSubject>, Bytes)>,
        lane: Lane,
        size: usize,
    ) {
        self.pending.push(Publish { target, lane, size });
    }

    /// Hands what this handler published to the writer task, in one piece.
    fn send_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        if let Some(writer) = &self.writer {
            // A send error means the writer stopped; it has told us why (WriterFailed).
            let _ = writer.send(pending);
        }
    }

    fn encode(&mut self, msg: &Message) -> Result<Bytes, String> {
        let payload = self
            .arena
            .encode(&self.codec, msg)
            .map_err(|e| format!("cannot encode: {e}"))?;
        let max = self.client.max_payload();
        if payload.len() > max {
            return Err(format!(
                "{} bytes exceed the NATS server's max_payload of {max}",
                payload.len()
            ));
        }
        Ok(payload)
    }

    fn write(&mut self, out: LinkOutbound, ctx: &mut Context<Self>) {
        let msg = &out.message;
        let destination = msg.destination.as_deref();
        let (subject, reply) = match (&msg.payload, destination) {
            (MessageType::Control { operation }, _) => {
                self.on_control(operation, ctx);
                return;
            }
            (MessageType::Heartbeat { seq, sent_at, echo }, _) => {
                if !echo {
                    self.probe(*seq, *sent_at, ctx);
                }
                return;
            }
            (MessageType::Broadcast { topic, .. }, _) => {
                (self.cache.get(Kind::Topic, topic, &self.subjects), None)
            }
            (MessageType::Event { name, .. }, None) => {
                (self.cache.get(Kind::Event, name, &self.subjects), None)
            }
            (MessageType::Request { .. }, Some(agent)) => (
                self.cache.get(Kind::Agent, agent, &self.subjects),
                Some(
                    self.subjects
                        .no_reply(&self.node, &msg.source, msg.id)
                        .into(),
                ),
            ),
            (MessageType::Response { correlation_id, .. }, Some(agent)) => {
                match self.reply_routes.take(*correlation_id) {
                    Some(node) => (self.cache.get(Kind::Inbox, &node, &self.subjects), None),
                    None => (self.cache.get(Kind::Agent, agent, &self.subjects), None),
                }
            }
            (_, Some(agent)) => (self.cache.get(Kind::Agent, agent, &self.subjects), None),
            (_, None) => {
                tracing::warn!(link = %self.link, id = %msg.id, "message without a destination not sent");
                self.dropped(1);
                self.publish(None, out.lane, 0);
                return;
            }
        };
        match self.encode(msg) {
            Ok(payload) => {
                let size = payload.len();
                self.publish(Some((subject, reply, payload)), out.lane, size);
            }
            Err(reason) => {
                tracing::warn!(link = %self.link, id = %msg.id, %reason, "message not sent");
                self.dropped(1);
                if msg.is_request() {
                    let (source, id) = (msg.source.to_string(), msg.id);
                    self.fail_request(
                        source,
                        id,
                        error_code::INTERNAL,
                        format!("not sent over NATS: {reason}"),
                        ctx,
                    );
                }
                self.publish(None, out.lane, 0);
            }
        }
    }
}

impl Actor for NatsLinkActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (tx, rx) = mpsc::unbounded_channel::<Vec<Publish>>();
        self.writer = Some(tx);
        let client = self.client.clone();
        let me = ctx.address();
        // `started` runs once: the credit moves to the writer task here.
        if let Some(credit) = self.credit.take() {
            actix::spawn(write_loop(
                client,
                rx,
                credit,
                self.port.clone(),
                me.clone(),
            ));
        }
        let handle = LinkAddr::to(&me).with_batches(&me).with_configure(&me);
        // The server authenticated us; other nodes are trusted through it.
        self.port
            .opened(TRANSPORT, self.peer.clone(), Role::Initiator, handle, true);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.report_closed("NATS link stopped".into());
    }
}

impl Handler<LinkOutbound> for NatsLinkActor {
    type Result = ();

    fn handle(&mut self, out: LinkOutbound, ctx: &mut Context<Self>) {
        self.write(out, ctx);
        self.send_pending();
    }
}

impl Handler<LinkOutboundBatch> for NatsLinkActor {
    type Result = ();

    fn handle(&mut self, mut batch: LinkOutboundBatch, ctx: &mut Context<Self>) {
        for out in batch.0.drain(..) {
            self.write(out, ctx);
        }
        self.send_pending();
    }
}

impl Handler<LinkClose> for NatsLinkActor {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Context<Self>) {
        if self.joined {
            self.publish_presence(ControlOperation::Goodbye {
                reason: close.reason.clone(),
            });
            self.send_pending();
        }
        self.report_closed(close.reason);
        ctx.stop();
    }
}

impl Handler<LinkConfigure> for NatsLinkActor {
    type Result = ();

    fn handle(&mut self, configure: LinkConfigure, _: &mut Context<Self>) {
        let config = self.codec.config().clone();
        let threshold = config.compression_threshold;
        self.codec = Codec::new(config.with_compression(configure.compression, threshold));
    }
}

impl Handler<FlushInbound> for NatsLinkActor {
    type Result = ();

    fn handle(&mut self, _: FlushInbound, _: &mut Context<Self>) {
        self.inbound.flush();
    }
}

impl Handler<WriterFailed> for NatsLinkActor {
    type Result = ();

    fn handle(&mut self, failed: WriterFailed, ctx: &mut Context<Self>) {
        self.fail(failed.0, ctx);
    }
}

impl StreamHandler<async_nats::Message> for NatsLinkActor {
    fn handle(&mut self, msg: async_nats::Message, ctx: &mut Context<Self>) {
        if msg.status.is_none() && self.subjects.carries_data(&msg.subject) {
            self.on_data(msg, ctx);
            return;
        }
        let subject = self.subjects.parse(&msg.subject);
        if let Some(status) = msg.status {
            if let (StatusCode::NO_RESPONDERS, Some(Subject::NoReply { agent, id, .. })) =
                (status, subject)
            {
                self.fail_request(
                    agent,
                    id,
                    error_code::UNKNOWN_AGENT,
                    "no node on NATS hosts it".into(),
                    ctx,
                );
            }
            return;
        }
        match subject {
            Some(Subject::Presence(node)) => {
                self.on_presence(node, &msg.payload, ctx);
                // Hearing a newcomer publishes our presence.
                self.send_pending();
            }
            Some(Subject::Agent(_) | Subject::Topic(_) | Subject::Event(_) | Subject::Inbox(_)) => {
                self.on_data(msg, ctx)
            }
            Some(Subject::NoReply { .. }) | None => {
                tracing::debug!(link = %self.link, subject = %msg.subject, "unexpected NATS message ignored");
            }
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // A subscription ended (unsubscribed, or the connection closed — which the connection
        // events report). The link goes on.
    }
}

impl StreamHandler<Event> for NatsLinkActor {
    fn handle(&mut self, event: Event, ctx: &mut Context<Self>) {
        match event {
            Event::Disconnected => self.fail("NATS connection lost".into(), ctx),
            Event::Closed => self.fail("NATS connection closed".into(), ctx),
            Event::SlowConsumer(sid) => {
                self.slow_consumer_drops += 1;
                // One line per power of two: an overload is visible without flooding the log.
                if self.slow_consumer_drops.is_power_of_two() {
                    tracing::warn!(link = %self.link, sid, dropped = self.slow_consumer_drops, "NATS slow consumer: messages dropped by the client");
                }
                self.dropped(1);
            }
            Event::ServerError(e) => {
                tracing::warn!(link = %self.link, error = %e, "NATS server error")
            }
            Event::ClientError(e) => {
                tracing::warn!(link = %self.link, error = %e, "NATS client error")
            }
            Event::LameDuckMode => {
                tracing::info!(link = %self.link, "NATS server entering lame duck mode")
            }
            Event::Connected | Event::Draining => {}
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {}
}
