//! The NATS link actor: one async-nats connection as one link of the supervisor (see the
//! [module docs](super) for the scheme).
//!
//! Outbound messages are encoded here and handed, in order, to a writer task that publishes
//! them (async-nats' `publish` waits for room in its command channel) and returns write credit.
//! Inbound NATS messages arrive through one stream per subscription and reach the supervisor in
//! bursts ([`InboundBurst`]). The link joins the bus — subscribes to presence, topics, events
//! and its own no-responders subjects, and starts publishing presence — only once it has
//! answered the supervisor's `Hello`, so nothing reaches the supervisor before the handshake.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use async_nats::connection::State;
use async_nats::{Client, Event, ServerAddr, StatusCode, Subject as NatsSubject};
use bytes::Bytes;
use swarm_protocol::codec::Codec;
use swarm_protocol::core::handshake::{Role, CAP_GZIP};
use swarm_protocol::ProtocolVersion;
use swarm_protocol::{error_code, ControlOperation, ErrorBody, Message, MessageId, MessageType};
use tokio::sync::mpsc;

use super::batch;
use super::presence::NodeDirectory;
use super::reply_routes::ReplyRoutes;
use super::subjects::{Subject, SubjectCache, SubjectKind as Kind, Subjects};
use super::{NatsLink, TRANSPORT};
use crate::clock::Instant;
use crate::config::TransportConfig;
use crate::events::SwarmEvent;
use crate::link::arena::FrameArena;
use crate::link::burst::{FlushInbound, InboundBurst};
use crate::link::credit::WriteCredit;
use crate::link::receive::decode_received;
use crate::link::{
    Lane, LinkClose, LinkClosed, LinkConfigure, LinkContext, LinkDropped, LinkHandle, LinkId,
    LinkOpened, LinkOutbound, LinkOutboundBatch, LinkReport,
};
use crate::supervisor::Supervisor;

/// Source name of the messages the link itself makes up (handshake answer, heartbeat echoes,
/// no-responders errors).
const BUS: &str = "nats";

/// How long a closing link waits for its last publishes to reach the server.
const FINAL_FLUSH: Duration = Duration::from_secs(2);

/// Connects, then starts the link actor (or reports the link closed).
pub(super) fn connect(spec: NatsLink, ctx: LinkContext) {
    actix::spawn(async move {
        let LinkContext {
            link,
            supervisor,
            config,
            node,
        } = ctx;
        let peer = crate::link::LinkConnector::peer(&spec);
        let servers: Result<Vec<ServerAddr>, _> = spec.servers.iter().map(|s| s.parse()).collect();
        let servers = match servers {
            Ok(servers) => servers,
            Err(e) => {
                supervisor.do_send(LinkClosed {
                    link,
                    reason: format!("invalid NATS server address in {peer}: {e}"),
                });
                return;
            }
        };
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let options = spec
            .options(
                &node,
                config.heartbeat_interval,
                config.connection_timeout(),
            )
            .event_callback(move |event| {
                // The actor may be gone; then nobody needs the event.
                let _ = events_tx.send(event);
                async {}
            });
        match options.connect(servers).await {
            Ok(client) => {
                NatsLinkActor::create(move |c| {
                    c.add_stream(futures_util::stream::unfold(
                        events_rx,
                        |mut rx| async move { rx.recv().await.map(|event| (event, rx)) },
                    ));
                    NatsLinkActor::new(link, supervisor, node, peer, spec.subjects, client, &config)
                });
            }
            Err(e) => supervisor.do_send(LinkClosed {
                link,
                reason: format!("cannot connect to NATS at {peer}: {e}"),
            }),
        }
    });
}

/// One publish for the writer task; `target: None` only returns credit (a message that could
/// not be sent still frees its place in the window).
struct Publish {
    target: Option<(NatsSubject, Option<NatsSubject>, Bytes)>,
    lane: Lane,
    size: usize,
}

/// Most publishes the writer takes from its queue at once (and so may join into batches).
const MAX_QUEUED: usize = 1024;

impl Publish {
    /// Whether this publish may share a NATS message with `next` (a data message for the same
    /// subject, neither a request: a request's reply subject is its own).
    fn joins(&self, next: &Publish) -> bool {
        match (&self.target, &next.target) {
            (Some((a, None, _)), Some((b, None, _))) => {
                self.lane == Lane::Data && next.lane == Lane::Data && a == b
            }
            _ => false,
        }
    }
}

/// How many publishes from the start of `queued` go out as one NATS message: consecutive ones
/// that join, within `max_payload` and [`batch::MAX_FRAMES`]; at least one.
fn run_length(queued: &[Publish], max_payload: usize) -> usize {
    let Some(first) = queued.first() else {
        return 0;
    };
    let mut bytes = first.size;
    let mut n = 1;
    while let Some(next) = queued.get(n) {
        if n == batch::MAX_FRAMES
            || !first.joins(next)
            || batch::batch_len(n + 1, bytes + next.size) > max_payload
        {
            break;
        }
        bytes += next.size;
        n += 1;
    }
    n
}

/// The writer task: publishes in order what the link actor encoded, joining runs of messages
/// for one subject that queued up meanwhile into batches, and returns write credit.
async fn write_loop(
    client: Client,
    mut rx: mpsc::UnboundedReceiver<Vec<Publish>>,
    mut credit: WriteCredit,
    link: LinkId,
    supervisor: Addr<Supervisor>,
    me: Addr<NatsLinkActor>,
) {
    let mut queued: Vec<Publish> = Vec::new();
    let mut joined = FrameArena::default();
    while let Some(mut first) = rx.recv().await {
        queued.append(&mut first);
        while queued.len() < MAX_QUEUED {
            match rx.try_recv() {
                Ok(mut next) => queued.append(&mut next),
                Err(_) => break,
            }
        }
        let mut at = 0;
        while at < queued.len() {
            let run = &queued[at..at + run_length(&queued[at..], client.max_payload())];
            let result = match (&run[0].target, run.len()) {
                (None, _) => Ok(()),
                (Some((subject, Some(reply), payload)), _) => {
                    client
                        .publish_with_reply(subject.clone(), reply.clone(), payload.clone())
                        .await
                }
                (Some((subject, None, payload)), 1) => {
                    client.publish(subject.clone(), payload.clone()).await
                }
                (Some((subject, None, _)), _) => {
                    let frames = run
                        .iter()
                        .filter_map(|p| p.target.as_ref().map(|(_, _, payload)| &payload[..]));
                    let len = batch::batch_len(run.len(), run.iter().map(|p| p.size).sum());
                    let payload = joined.build(len, |out| batch::join(frames, out));
                    client.publish(subject.clone(), payload).await
                }
            };
            if let Err(e) = result {
                me.do_send(WriterFailed(format!("NATS publish failed: {e}")));
                return;
            }
            for publish in run {
                credit.written(publish.lane, publish.size, link, &supervisor);
            }
            at += run.len();
        }
        queued.clear();
    }
    // The link closed: hand the last publishes (a goodbye) to the server.
    let _ = tokio::time::timeout(FINAL_FLUSH, client.flush()).await;
}

/// The writer task stopped: the connection is gone.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct WriterFailed(String);

/// The link actor.
struct NatsLinkActor {
    link: LinkId,
    supervisor: Addr<Supervisor>,
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
    /// Agents this node reaches, each with its (queue) subscription once made.
    offered: HashMap<String, Option<SpawnHandle>>,
    nodes: NodeDirectory,
    cache: SubjectCache,
    reply_routes: ReplyRoutes,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    joined: bool,
    closed_reported: bool,
    /// Messages async-nats dropped because a subscription's buffer was full.
    slow_consumer_drops: u64,
}

impl NatsLinkActor {
    fn new(
        link: LinkId,
        supervisor: Addr<Supervisor>,
        node: String,
        peer: String,
        subjects: Subjects,
        client: Client,
        config: &TransportConfig,
    ) -> Self {
        NatsLinkActor {
            link,
            inbound: InboundBurst::new(link, supervisor.clone(), config),
            supervisor,
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
            nodes: NodeDirectory::default(),
            cache: SubjectCache::default(),
            reply_routes: ReplyRoutes::new(config.max_pending_requests.max(65_536)),
            heartbeat_interval: config.heartbeat_interval,
            heartbeat_timeout: config.heartbeat_timeout,
            joined: false,
            closed_reported: false,
            slow_consumer_drops: 0,
        }
    }

    // ----- toward the supervisor -----------------------------------------------------------

    /// Hands a message to the supervisor (in the current burst).
    fn deliver(&mut self, message: Message, size: usize, ctx: &mut Context<Self>) {
        match self.inbound.push(Arc::new(message), size) {
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
        self.supervisor.do_send(LinkDropped {
            link: self.link,
            messages,
        });
    }

    fn report(&mut self, event: SwarmEvent) {
        // What was received before the event reaches the supervisor before it.
        self.inbound.flush();
        self.supervisor.do_send(LinkReport {
            link: self.link,
            event,
        });
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
        if !self.closed_reported {
            self.closed_reported = true;
            self.inbound.flush();
            self.supervisor.do_send(LinkClosed {
                link: self.link,
                reason,
            });
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

    /// Publishes this node's presence: what it reaches, or goodbye.
    fn publish_presence(&mut self, operation: ControlOperation) {
        let msg = Message::control(self.node.as_str(), operation);
        match self.encode(&msg) {
            Ok(payload) => {
                let subject = self.subjects.presence(&self.node).into();
                self.publish(Some((subject, None, payload)), Lane::Control, 0);
            }
            Err(reason) => tracing::warn!(link = %self.link, %reason, "presence not published"),
        }
    }

    fn announce_presence(&mut self) {
        let mut agents: Vec<String> = self.offered.keys().cloned().collect();
        agents.sort();
        self.publish_presence(ControlOperation::Announce { agents });
    }

    /// Subscribes to `subject` (in `queue` when given); for an agent's subject, `agent` is the
    /// entry in `offered` that keeps the subscription.
    fn subscribe(
        &mut self,
        subject: String,
        queue: Option<String>,
        agent: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let client = self.client.clone();
        let what = subject.clone();
        ctx.spawn(
            async move {
                match queue {
                    Some(queue) => client.queue_subscribe(subject, queue).await,
                    None => client.subscribe(subject).await,
                }
            }
            .into_actor(self)
            .map(move |result, act, ctx| match result {
                Ok(subscriber) => {
                    let handle = ctx.add_stream(subscriber);
                    if let Some(agent) = agent {
                        match act.offered.get_mut(&agent) {
                            Some(slot @ None) => *slot = Some(handle),
                            // Withdrawn meanwhile, or subscribed twice: drop this one.
                            _ => {
                                ctx.cancel_future(handle);
                            }
                        }
                    }
                }
                Err(e) => act.fail(format!("cannot subscribe to {what}: {e}"), ctx),
            }),
        );
    }

    /// Answered the handshake: subscribe to the bus and start publishing presence.
    fn join(&mut self, ctx: &mut Context<Self>) {
        self.joined = true;
        for subject in [
            self.subjects.all_presence(),
            self.subjects.all_topics(),
            self.subjects.all_events(),
            self.subjects.all_no_reply(&self.node),
            self.subjects.inbox(&self.node),
        ] {
            self.subscribe(subject, None, None, ctx);
        }
        self.announce_presence();
        ctx.run_interval(self.heartbeat_interval, |act, _| {
            act.announce_presence();
            act.send_pending();
            let now = Instant::now();
            for gone in act.nodes.expire(now, act.heartbeat_timeout) {
                if !gone.withdraw.is_empty() {
                    act.inbound_withdraw(&gone.node, gone.withdraw);
                }
                let reason = format!("silent for more than {:?}", act.heartbeat_timeout);
                act.report(SwarmEvent::NodeDown {
                    node: gone.node,
                    transport: TRANSPORT,
                    reason,
                });
            }
        });
    }

    /// Tells the supervisor that agents of `node` are gone (outside a burst: used from timers).
    fn inbound_withdraw(&mut self, node: &str, agents: Vec<String>) {
        let msg = Message::control(node, ControlOperation::Withdraw { agents });
        // A withdrawal is small and must not be refused by the flood limit.
        self.inbound.flush();
        self.supervisor.do_send(crate::link::LinkInbound {
            link: self.link,
            message: Arc::new(msg),
            size: 0,
            ticket: None,
        });
    }

    fn on_control(&mut self, operation: &ControlOperation, ctx: &mut Context<Self>) {
        match operation {
            ControlOperation::Hello { capabilities, .. } => {
                if self.joined {
                    return;
                }
                // The bus accepts every node; compression only if this node's codec offers it
                // (every node decodes compressed bodies).
                let capabilities = capabilities
                    .iter()
                    .filter(|c| c.as_str() == CAP_GZIP)
                    .cloned()
                    .collect();
                let mut metadata = BTreeMap::new();
                metadata.insert("node".to_owned(), format!("{BUS}:{}", self.peer));
                // Nothing larger than the server's max_payload can cross the bus.
                metadata.insert(
                    swarm_protocol::core::handshake::META_MAX_MESSAGE_SIZE.to_owned(),
                    self.client.max_payload().to_string(),
                );
                self.control(
                    BUS,
                    ControlOperation::HelloAck {
                        version: ProtocolVersion::CURRENT,
                        capabilities,
                        metadata,
                    },
                    ctx,
                );
                self.join(ctx);
            }
            ControlOperation::Announce { agents } => {
                let mut changed = false;
                for agent in agents {
                    if !self.offered.contains_key(agent) {
                        self.offered.insert(agent.clone(), None);
                        let subject = self.subjects.agent(agent);
                        // The queue group is the agent's token: every node reaching the agent
                        // is one member, so each message reaches one of them.
                        let queue = subject.rsplit('.').next().unwrap_or_default().to_owned();
                        self.subscribe(subject, Some(queue), Some(agent.clone()), ctx);
                        changed = true;
                    }
                }
                if changed {
                    self.announce_presence();
                }
            }
            ControlOperation::Withdraw { agents } => {
                let mut changed = false;
                for agent in agents {
                    if let Some(subscription) = self.offered.remove(agent) {
                        if let Some(handle) = subscription {
                            // Dropping the subscriber unsubscribes.
                            ctx.cancel_future(handle);
                        }
                        changed = true;
                    }
                }
                if changed {
                    self.announce_presence();
                }
            }
            ControlOperation::Goodbye { reason } => {
                self.publish_presence(ControlOperation::Goodbye {
                    reason: reason.clone(),
                });
            }
            ControlOperation::HelloAck { .. }
            | ControlOperation::Reject { .. }
            | ControlOperation::FlowControl { .. } => {}
        }
    }

    /// The supervisor's liveness probe: echoed once everything written so far has been flushed
    /// to the server on a connected connection.
    fn probe(&mut self, seq: u64, sent_at: u64, ctx: &mut Context<Self>) {
        let client = self.client.clone();
        ctx.spawn(
            async move {
                client.flush().await.is_ok() && client.connection_state() == State::Connected
            }
            .into_actor(self)
            .map(move |live, act, ctx| {
                if live {
                    act.deliver(Message::heartbeat(BUS, seq, sent_at, true), 0, ctx);
                }
            }),
        );
    }

    // ----- from NATS -----------------------------------------------------------------------

    /// A message on an agent, topic, event or inbox subject.
    fn on_data(&mut self, msg: async_nats::Message, ctx: &mut Context<Self>) {
        if !batch::is_batch(&msg.payload) {
            self.on_frame(&msg.payload, msg.reply.as_deref(), &msg.subject, ctx);
            return;
        }
        for frame in batch::split(&msg.payload) {
            match frame {
                Ok(frame) => {
                    let frame = msg.payload.slice_ref(frame);
                    self.on_frame(&frame, None, &msg.subject, ctx)
                }
                Err(e) => {
                    tracing::warn!(link = %self.link, subject = %msg.subject, error = %e, "rest of a NATS batch dropped");
                    self.dropped(1);
                    break;
                }
            }
        }
    }

    /// One frame from an agent, topic, event or inbox subject; `reply` is the NATS reply
    /// subject it came with (requests name their node there).
    fn on_frame(
        &mut self,
        frame: &Bytes,
        reply: Option<&str>,
        subject: &str,
        ctx: &mut Context<Self>,
    ) {
        match decode_received(&self.codec, frame) {
            Ok(message) => {
                if message.is_request() {
                    let from = reply.and_then(|r| self.subjects.parse(r));
                    if let Some(Subject::NoReply { node, .. }) = from {
                        self.reply_routes.remember(message.id, node);
                    }
                }
                self.deliver(message, frame.len(), ctx)
            }
            Err(e) => {
                // Someone else publishes on our subjects: nothing to close, log it.
                tracing::warn!(link = %self.link, %subject, error = %e, "undecodable NATS message dropped");
                self.dropped(1);
            }
        }
    }

    fn on_presence(&mut self, node: String, payload: &[u8], ctx: &mut Context<Self>) {
        let msg = match self.codec.decode(payload) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!(link = %self.link, %node, error = %e, "undecodable presence ignored");
                self.dropped(1);
                return;
            }
        };
        match msg.payload {
            MessageType::Control {
                operation: ControlOperation::Announce { agents },
            } => {
                let change = self.nodes.on_presence(&node, &agents, Instant::now());
                if change.node_up {
                    tracing::info!(link = %self.link, %node, "node joined the bus");
                    // The newcomer may have subscribed after our last presence: tell it now
                    // rather than a heartbeat interval later.
                    self.announce_presence();
                    self.report(SwarmEvent::NodeUp {
                        node: node.clone(),
                        transport: TRANSPORT,
                    });
                }
                if !change.announce.is_empty() {
                    self.control(
                        &node,
                        ControlOperation::Announce {
                            agents: change.announce,
                        },
                        ctx,
                    );
                }
                if !change.withdraw.is_empty() {
                    self.control(
                        &node,
                        ControlOperation::Withdraw {
                            agents: change.withdraw,
                        },
                        ctx,
                    );
                }
            }
            MessageType::Control {
                operation: ControlOperation::Goodbye { reason },
            } => {
                if let Some(gone) = self.nodes.on_goodbye(&node) {
                    if !gone.withdraw.is_empty() {
                        self.control(
                            &node,
                            ControlOperation::Withdraw {
                                agents: gone.withdraw,
                            },
                            ctx,
                        );
                    }
                    tracing::info!(link = %self.link, %node, %reason, "node left the bus");
                    self.report(SwarmEvent::NodeDown {
                        node,
                        transport: TRANSPORT,
                        reason: format!("left: {reason}"),
                    });
                }
            }
            _ => tracing::warn!(link = %self.link, %node, "unexpected presence message ignored"),
        }
    }
}

impl Actor for NatsLinkActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (tx, rx) = mpsc::unbounded_channel::<Vec<Publish>>();
        self.writer = Some(tx);
        let client = self.client.clone();
        let (link, supervisor, me) = (self.link, self.supervisor.clone(), ctx.address());
        // `started` runs once: the credit moves to the writer task here.
        if let Some(credit) = self.credit.take() {
            actix::spawn(write_loop(client, rx, credit, link, supervisor, me));
        }
        let me = ctx.address();
        self.supervisor.do_send(LinkOpened {
            link: self.link,
            transport: TRANSPORT,
            peer: self.peer.clone(),
            role: Role::Initiator,
            handle: LinkHandle {
                outbound: me.clone().recipient(),
                outbound_batch: Some(me.clone().recipient()),
                close: me.clone().recipient(),
                configure: Some(me.recipient()),
            },
            // The server authenticated us; other nodes are trusted through it.
            authenticated: true,
        });
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
