//! The supervisor: one actor per node that owns routing, request/response correlation,
//! heartbeats, handshakes and the restart of links.
//!
//! * [`commands`] — messages from the [`Swarm`](crate::Swarm) handle (register, send, request,
//!   subscribe, connect, stats) and their handlers.
//! * [`link_events`] — messages from link actors (opened, inbound, flushed, closed): handshake,
//!   heartbeat, announce/withdraw, and link-down handling with restart.
//! * [`routing`] — the routing table; [`outbound`] — bounded per-link priority queues;
//!   `link_slot` — per-link state (internal).
//!
//! Everything with a deadline (requests, handshakes, heartbeats, reconnects) lives in a pure
//! state machine from `swarm_protocol::core`; the supervisor arms a single timer for the
//! earliest deadline and calls `on_timeout(now)` when it fires, so tests run on paused time.

pub(crate) mod commands;
mod link_events;
mod link_slot;
mod outbound;
pub(crate) mod routing;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use actix::{Actor, Addr, AsyncContext, Context, Recipient, SpawnHandle};
use swarm_protocol::core::backoff::Backoff;
use swarm_protocol::core::earliest;
use swarm_protocol::core::handshake::{HandshakeError, META_MAX_DEPTH, META_MAX_MESSAGE_SIZE};
use swarm_protocol::core::heartbeat::HeartbeatAction;
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::core::recent::{RecentMap, RecentSet};
use swarm_protocol::{
    error_code, ControlOperation, ErrorBody, Message, MessageId, MessageType, RejectCode,
};

use self::link_slot::{LinkSlot, SpecId, SupervisedLink};
use self::outbound::OutboundQueue;
use self::routing::{RoutingTable, SubscriptionKind};
use crate::config::TransportConfig;
use crate::error::{SendError, TransportError};
use crate::events::SwarmEvent;
use crate::link::machinery::recycled::Spares;
use crate::link::{
    CloseKind, Lane, LinkClose, LinkConnector, LinkContext, LinkId, LinkOutbound,
    LinkOutboundBatch, LinkPort, LinkSinks,
};
use crate::node::directory::{LocalDelivery, LocalDirectory, NameHasher};
use crate::node::pending::SharedPending;
use crate::node::post_queue::{Post, PostQueue};
use crate::node::stamp::Stamper;
use crate::node::stats::{Counters, NodeStats};
use crate::support::clock::{wall_clock_ms, Instant};
use crate::support::log_limit::LogLimit;
use crate::support::random::SplitMix64;
use crate::support::slots::Slots;

/// The supervisor actor of one node. Use it through [`Swarm`](crate::Swarm).
pub struct Supervisor {
    config: Arc<TransportConfig>,
    node: String,
    stamper: Arc<Stamper>,
    rng: SplitMix64,
    directory: Arc<LocalDirectory>,
    routing: RoutingTable,
    /// Keyed by ids this process hands out (never chosen by a peer): a fast hash is safe.
    links: HashMap<LinkId, LinkSlot, BuildHasherDefault<NameHasher>>,
    supervised: HashMap<SpecId, SupervisedLink>,
    next_spec: SpecId,
    pending: Arc<SharedPending>,
    /// Messages from handles waiting in this actor's mailbox or post queue.
    backlog: Arc<Slots>,
    /// Fire-and-forget sends from the node's handles.
    posts: Arc<PostQueue>,
    /// The post queue's previous vector, kept for its allocation.
    spare_posts: Vec<Post>,
    /// Vectors of the outbound batches handed to links.
    outbound_spares: Spares<LinkOutbound>,
    /// Link each forwarded request arrived on, so the response can retrace the path.
    return_paths: RecentMap<MessageId, LinkId>,
    /// Ids of flooded broadcasts and events already handled.
    seen: RecentSet<MessageId>,
    /// Idempotent requests that came in over a link, with their response once it passed
    /// through: a repeat is not run again, its response is replayed.
    replay: RecentMap<MessageId, Option<Arc<Message>>>,
    event_subscribers: Vec<Recipient<SwarmEvent>>,
    counters: Counters,
    expired: u64,
    timeouts: u64,
    reconnects: u64,
    slow_consumers: u64,
    wakeup: Option<(Instant, SpawnHandle)>,
    /// Per-message warnings (undeliverable, not forwarded), each at most once a second.
    undeliverable_log: LogLimit,
    not_forwarded_log: LogLimit,
    /// Where the ports this node hands its links report (set when the actor starts).
    sinks: Option<Arc<LinkSinks>>,
}

/// The sinks of the link ports of the supervisor at `addr`.
pub(crate) fn link_sinks(addr: &Addr<Supervisor>) -> Arc<LinkSinks> {
    Arc::new(LinkSinks {
        opened: addr.clone().recipient(),
        inbound: addr.clone().recipient(),
        inbound_batch: addr.clone().recipient(),
        flushed: addr.clone().recipient(),
        closed: addr.clone().recipient(),
        bus_node: addr.clone().recipient(),
        dropped: addr.clone().recipient(),
        refused: addr.clone().recipient(),
        inbound_refused: addr.clone().recipient(),
    })
}

impl Supervisor {
    /// A supervisor named `node` (not started), sharing `directory`, `pending`, `backlog` and
    /// `stamper` with the node's handles.
    pub fn new(
        node: String,
        config: Arc<TransportConfig>,
        directory: Arc<LocalDirectory>,
        pending: Arc<SharedPending>,
        backlog: Arc<Slots>,
        stamper: Arc<Stamper>,
        seed: u64,
    ) -> Self {
        Supervisor {
            stamper,
            rng: SplitMix64::new(seed),
            directory,
            routing: RoutingTable::new(config.agent_mailbox),
            links: HashMap::default(),
            supervised: HashMap::new(),
            next_spec: 1,
            pending,
            backlog,
            posts: Arc::default(),
            spare_posts: Vec::new(),
            outbound_spares: Spares::default(),
            return_paths: RecentMap::new(config.max_pending_requests),
            seen: RecentSet::new(config.dedup_window),
            replay: RecentMap::new(config.dedup_window),
            event_subscribers: Vec::new(),
            counters: Counters::default(),
            expired: 0,
            timeouts: 0,
            reconnects: 0,
            slow_consumers: 0,
            wakeup: None,
            undeliverable_log: LogLimit::default(),
            not_forwarded_log: LogLimit::default(),
            sinks: None,
            node,
            config,
        }
    }

    /// The queue the node's handles post fire-and-forget sends to (then send
    /// [`DrainPosts`](commands::DrainPosts) when [`PostQueue::push`] says so).
    pub fn post_queue(&self) -> Arc<PostQueue> {
        self.posts.clone()
    }

    /// Gives a message sent from this node its id and timestamp (if it has none yet).
    fn stamp(&self, msg: &mut Message) {
        self.stamper.stamp(msg);
    }

    // ----- routing -------------------------------------------------------------------------

    /// Routes a message that entered this node (from a local sender when `from` is `None`,
    /// otherwise from that link).
    fn route(&mut self, msg: Arc<Message>, from: Option<LinkId>) -> Result<(), SendError> {
        match &msg.payload {
            MessageType::Response { correlation_id, .. } => {
                let cid = *correlation_id;
                if self.pending.complete(&msg) {
                    return Ok(());
                }
                if let Some(link) = self.return_paths.remove(&cid) {
                    if let Some(cached) = self.replay.get_mut(&cid) {
                        *cached = Some(msg.clone());
                    }
                    return self.forward_to_link(link, msg);
                }
                self.route_to_destination(msg, from)
            }
            MessageType::Broadcast { topic, .. } => {
                let topic = topic.clone();
                self.flood(msg, from, SubscriptionKind::Topic, &topic);
                Ok(())
            }
            MessageType::Event { name, .. } if msg.destination.is_none() => {
                let name = name.clone();
                self.flood(msg, from, SubscriptionKind::Event, &name);
                Ok(())
            }
            MessageType::Heartbeat { .. } | MessageType::Control { .. } => {
                // Link traffic is handled per link; from an agent it means nothing.
                Err(SendError::UnknownAgent(Box::new(Arc::unwrap_or_clone(msg))))
            }
            MessageType::Request { .. } => {
                if let Some(link) = from {
                    // Only the node hosting the agent de-duplicates; nodes on the way forward.
                    let hosted_here = msg
                        .destination
                        .as_deref()
                        .is_some_and(|d| self.directory.contains(d));
                    if hosted_here && msg.is_idempotent() && !self.replay.insert(msg.id, None) {
                        return self.repeated_request(&msg, link);
                    }
                    // A request sent again over a new path replaces the old return path.
                    self.return_paths.remove(&msg.id);
                    self.return_paths.insert(msg.id, link);
                }
                self.route_to_destination(msg, from)
            }
            MessageType::Event { .. } => self.route_to_destination(msg, from),
        }
    }

    /// An idempotent request came again (sent again after a lost link): replay its response
    /// if it passed through already, otherwise send the response, when it comes, this way.
    fn repeated_request(&mut self, msg: &Message, link: LinkId) -> Result<(), SendError> {
        tracing::debug!(node = %self.node, request = %msg.id, %link, "repeated idempotent request");
        match self.replay.get(&msg.id).cloned().flatten() {
            Some(response) => self.forward_to_link(link, response),
            None => {
                self.return_paths.remove(&msg.id);
                self.return_paths.insert(msg.id, link);
                Ok(())
            }
        }
    }

    /// Sends parked idempotent requests (their link was lost) on a route that is back.
    fn resend_parked(&mut self) {
        let parked: Vec<(MessageId, LinkId, Arc<Message>)> = self
            .pending
            .lock()
            .iter()
            .filter(|(_, _, link)| link.is_none())
            .filter_map(|(id, p, _)| {
                let msg = p.retry.clone()?;
                let link = self.routing.lookup(msg.destination.as_deref()?)?;
                Some((id, link, msg))
            })
            .collect();
        for (id, link, msg) in parked {
            tracing::debug!(node = %self.node, request = %id, %link, "resending idempotent request");
            if self.forward_to_link(link, msg).is_ok() {
                self.pending.lock().set_link(id, Some(link.0));
            }
        }
    }

    fn route_to_destination(
        &mut self,
        msg: Arc<Message>,
        from: Option<LinkId>,
    ) -> Result<(), SendError> {
        let msg = match self.directory.deliver(msg) {
            LocalDelivery::Delivered => return Ok(()),
            LocalDelivery::Gone(msg) => return self.agent_gone(msg),
            LocalDelivery::Full(msg) => {
                return Err(SendError::Full(Box::new(Arc::unwrap_or_clone(msg))))
            }
            LocalDelivery::NotLocal(msg) => msg,
        };
        self.route_remote(msg, from)
    }

    /// Routes a message whose destination is not a local agent: to the link that reaches it,
    /// never back to the link it came from.
    fn route_remote(&mut self, msg: Arc<Message>, from: Option<LinkId>) -> Result<(), SendError> {
        match msg
            .destination
            .as_deref()
            .and_then(|d| self.routing.lookup(d))
        {
            Some(link) if Some(link) != from => self.forward_to_link(link, msg),
            _ => Err(SendError::UnknownAgent(Box::new(Arc::unwrap_or_clone(msg)))),
        }
    }

    /// The destination agent's actor has stopped: unregister it and report it unknown.
    fn agent_gone(&mut self, msg: Arc<Message>) -> Result<(), SendError> {
        let name = msg.destination.clone().unwrap_or_default();
        if self.directory.unregister(&name) {
            tracing::info!(node = %self.node, agent = %name, "agent stopped; unregistered");
            self.withdraw_everywhere(vec![name.to_string()], None);
        }
        Err(SendError::UnknownAgent(Box::new(Arc::unwrap_or_clone(msg))))
    }

    /// Queues a data message on a link (one hop: the ttl is used up here).
    fn forward_to_link(&mut self, link: LinkId, mut msg: Arc<Message>) -> Result<(), SendError> {
        let Some(slot) = self.links.get_mut(&link) else {
            return Err(SendError::Closed(Box::new(Arc::unwrap_or_clone(msg))));
        };
        if !slot.state.can_send() {
            return Err(SendError::Closed(Box::new(Arc::unwrap_or_clone(msg))));
        }
        if msg.ttl.is_some() && !Arc::make_mut(&mut msg).decrement_ttl() {
            self.expired += 1;
            self.counters.drops += 1;
            tracing::info!(node = %self.node, %link, id = %msg.id, "ttl expired; message dropped");
            return Err(SendError::Expired(Box::new(Arc::unwrap_or_clone(msg))));
        }
        let size = msg.estimated_size();
        let max = self.config.max_message_size.min(slot.max_message_size);
        if slot.max_depth < swarm_protocol::value::MAX_DEPTH && msg.depth_exceeds(slot.max_depth) {
            slot.counters.errors += 1;
            self.counters.errors += 1;
            return Err(SendError::TooDeep {
                message: Box::new(Arc::unwrap_or_clone(msg)),
                max: slot.max_depth,
            });
        }
        if size > max {
            // Refused here, for every transport alike, rather than by the encoder of one link
            // (or not at all, in one process); the encoder still checks the exact size.
            slot.counters.errors += 1;
            self.counters.errors += 1;
            return Err(SendError::TooLarge {
                message: Box::new(Arc::unwrap_or_clone(msg)),
                size,
                max,
            });
        }
        // Nothing queued and room in the window: straight to the link (nothing to reorder).
        if slot.queue.is_empty()
            && slot.in_flight < self.config.link_window
            && slot.consumption.has_room()
        {
            if let Some(handle) = slot.handle.as_ref() {
                slot.consumption.on_handed(size as u64);
                slot.in_flight += 1;
                slot.counters.record_out(size);
                self.counters.record_out(size);
                handle.outbound.do_send(LinkOutbound {
                    message: msg,
                    lane: Lane::Data,
                });
                self.after_handoff(link);
                return Ok(());
            }
        }
        if let Err(msg) = slot.queue.push(msg.priority, size, msg) {
            slot.counters.drops += 1;
            self.counters.drops += 1;
            return Err(SendError::Full(Box::new(Arc::unwrap_or_clone(msg))));
        }
        self.flush_link(link);
        Ok(())
    }

    /// Hands queued data to the link actor while its window has room.
    fn flush_link(&mut self, link: LinkId) {
        let window = self.config.link_window;
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        let Some(handle) = slot.handle.as_ref() else {
            return;
        };
        let mut burst = self.outbound_spares.take();
        while slot.in_flight < window && slot.consumption.has_room() {
            let Some((message, size)) = slot.queue.pop() else {
                break;
            };
            slot.consumption.on_handed(size as u64);
            slot.in_flight += 1;
            slot.counters.record_out(size);
            self.counters.record_out(size);
            burst.push(LinkOutbound {
                message,
                lane: Lane::Data,
            });
        }
        match (&handle.outbound_batch, burst.len()) {
            (Some(batch), 2..) => batch.do_send(LinkOutboundBatch(burst)),
            _ => burst.drain(..).for_each(|out| handle.outbound.do_send(out)),
        }
        self.after_handoff(link);
    }

    /// After data went to a link: keep the "full" bookkeeping and probe when a quarter of the
    /// unread limit went out since the last probe. Reads the clock only when needed.
    fn after_handoff(&mut self, link: LinkId) {
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        if slot.consumption.needs_note() {
            slot.consumption.note_state(Instant::now());
        }
        if slot.consumption.wants_probe() {
            self.probe(link, Instant::now());
        }
    }

    /// Sends a heartbeat probe on `link` now; its echo will prove how far the peer has read.
    fn probe(&mut self, link: LinkId, now: Instant) {
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        let Some(hb) = slot.heartbeat.as_mut() else {
            return;
        };
        let seq = hb.probe_now(now);
        self.send_probe(link, seq);
    }

    /// Sends probe `seq`, marking how much data it follows.
    fn send_probe(&mut self, link: LinkId, seq: u64) {
        if let Some(slot) = self.links.get_mut(&link) {
            slot.consumption.on_probe(seq);
        }
        let sent_at = wall_clock_ms();
        self.send_control(
            link,
            MessageType::Heartbeat {
                seq,
                sent_at,
                echo: false,
            },
        );
    }

    /// Sends link traffic (control, heartbeats) ahead of data.
    fn send_control(&mut self, link: LinkId, payload: MessageType) {
        let mut msg = Message::new(self.node.clone(), payload);
        self.stamp(&mut msg);
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        if let Some(handle) = &slot.handle {
            let size = msg.estimated_size();
            slot.counters.record_out(size);
            self.counters.record_out(size);
            handle.outbound.do_send(LinkOutbound {
                message: Arc::new(msg),
                lane: Lane::Control,
            });
        }
    }

    /// Delivers a broadcast or swarm-wide event to local subscribers once, and floods it to
    /// every active link except the one it came from.
    fn flood(
        &mut self,
        msg: Arc<Message>,
        from: Option<LinkId>,
        kind: SubscriptionKind,
        name: &str,
    ) {
        if !self.seen.insert(msg.id) {
            return;
        }
        let mut closed = false;
        let mut delivered = 0;
        let mut full = 0;
        for sub in self.routing.subscribers(kind, name) {
            if !sub.recipient.connected() {
                closed = true;
            } else if let Ok(delivery) = sub.delivery(msg.clone()) {
                sub.recipient.do_send(delivery);
                delivered += 1;
            } else {
                full += 1;
            }
        }
        self.directory.count_delivered(delivered);
        if closed {
            self.routing.prune_closed_subscribers();
        }
        if full > 0 {
            self.counters.drops += full;
            if let Some(passed_over) = self.undeliverable_log.due(Instant::now()) {
                tracing::warn!(node = %self.node, id = %msg.id, %name, subscribers = full, passed_over, "subscriber mailbox full; delivery dropped");
            }
        }
        for link in self.active_links_except(from) {
            if let Err(e) = self.forward_to_link(link, msg.clone()) {
                if let Some(passed_over) = self.not_forwarded_log.due(Instant::now()) {
                    tracing::warn!(node = %self.node, %link, error = %e, passed_over, "flood not forwarded on link");
                }
            }
        }
    }

    /// Reports a failed fire-and-forget send: counted, logged, published.
    fn undeliverable(&mut self, error: SendError) {
        self.counters.drops += 1;
        let msg = error.message();
        if let Some(passed_over) = self.undeliverable_log.due(Instant::now()) {
            tracing::warn!(
                node = %self.node,
                id = %msg.id,
                destination = msg.destination.as_deref().unwrap_or("-"),
                error = %error,
                passed_over,
                "message undeliverable (one line a second at most; all are counted in drops)"
            );
        }
        let reason = error.to_string();
        self.publish(SwarmEvent::Undeliverable {
            message: Box::new(error.into_message()),
            reason,
        });
    }

    /// A message from a link could not be routed: answer requests with an error response,
    /// count and log the rest.
    fn bounce(&mut self, error: SendError) {
        let (code, text) = match &error {
            SendError::UnknownAgent(_) => (error_code::UNKNOWN_AGENT, "unknown agent"),
            SendError::Expired(_) => (error_code::TTL_EXPIRED, "ttl expired"),
            SendError::Full(_) => (error_code::QUEUE_FULL, "queue full"),
            SendError::Closed(_) => (error_code::UNKNOWN_AGENT, "route closed"),
            SendError::TooLarge { .. } => (error_code::TOO_LARGE, "message too large"),
            SendError::TooDeep { .. } => (error_code::TOO_LARGE, "value nested too deep"),
        };
        let msg = error.message();
        if msg.is_request() {
            let mut reply = Message::response(
                self.node.clone(),
                msg,
                Err(ErrorBody::new(
                    code,
                    format!("{text}: {}", msg.destination.as_deref().unwrap_or("")),
                )),
            );
            self.stamp(&mut reply);
            if let Err(e) = self.route(Arc::new(reply), None) {
                self.undeliverable(e);
            }
        } else {
            self.undeliverable(error);
        }
    }

    fn publish(&mut self, event: SwarmEvent) {
        self.event_subscribers.retain(Recipient::connected);
        for sub in &self.event_subscribers {
            sub.do_send(event.clone());
        }
    }

    /// Tells every active link (except `except`) that this node reaches `agents`.
    fn announce_everywhere(&mut self, agents: Vec<String>, except: Option<LinkId>) {
        self.control_everywhere(ControlOperation::Announce { agents }, except);
    }

    /// Tells every active link (except `except`) that this node no longer reaches `agents`.
    fn withdraw_everywhere(&mut self, agents: Vec<String>, except: Option<LinkId>) {
        self.control_everywhere(ControlOperation::Withdraw { agents }, except);
    }

    /// Links that can carry data, but `except`.
    fn active_links_except(&self, except: Option<LinkId>) -> Vec<LinkId> {
        self.links
            .iter()
            .filter(|(id, slot)| Some(**id) != except && slot.state.can_send())
            .map(|(id, _)| *id)
            .collect()
    }

    fn control_everywhere(&mut self, operation: ControlOperation, except: Option<LinkId>) {
        if matches!(&operation, ControlOperation::Announce { agents } | ControlOperation::Withdraw { agents } if agents.is_empty())
        {
            return;
        }
        for link in self.active_links_except(except) {
            self.send_control(
                link,
                MessageType::Control {
                    operation: operation.clone(),
                },
            );
        }
    }

    /// Every agent this node can offer `link`: local ones and those learned from other links.
    fn announceable_to(&self, link: LinkId) -> Vec<String> {
        let mut agents = self.directory.names();
        agents.extend(self.routing.remote_except(link).cloned());
        agents
    }

    // ----- link lifecycle -------------------------------------------------------------------

    /// Starts a connection attempt for a supervised link.
    fn start_connect(&mut self, spec: SpecId, ctx: &mut Context<Self>) {
        let Some(sup) = self.supervised.get_mut(&spec) else {
            return;
        };
        sup.retry_at = None;
        let link = LinkId::next();
        sup.current = Some(link);
        let mut slot = LinkSlot::new(
            &self.node,
            link,
            sup.connector.transport(),
            sup.connector.peer(),
            OutboundQueue::new(
                self.config.link_queue_messages,
                self.config.link_queue_bytes,
            ),
            self.config.link_unread_bytes,
        );
        slot.spec = Some(spec);
        slot.connect_deadline = sup
            .connector
            .connect_timeout(&self.config)
            .map(|t| Instant::now() + t);
        self.links.insert(link, slot);
        tracing::debug!(node = %self.node, %link, "connecting");
        let sinks = self
            .sinks
            .get_or_insert_with(|| link_sinks(&ctx.address()))
            .clone();
        sup.connector.connect(LinkContext {
            port: LinkPort::new(link, sinks),
            config: self.config.clone(),
            node: self.node.clone(),
        });
        self.reschedule(ctx);
    }

    /// The tracing span of a link (disabled if the link is unknown).
    fn link_span(&self, link: LinkId) -> tracing::Span {
        self.links
            .get(&link)
            .map_or_else(tracing::Span::none, |s| s.span.clone())
    }

    /// Closes a link from this side: tells the actor, then handles it as down.
    fn close_link(&mut self, link: LinkId, reason: &str, kind: CloseKind, ctx: &mut Context<Self>) {
        if let Some(handle) = self.links.get(&link).and_then(|s| s.handle.clone()) {
            handle.close.do_send(LinkClose {
                reason: reason.to_owned(),
                kind,
            });
        }
        self.link_down(link, reason.to_owned(), ctx);
    }

    /// A link is gone: fail its requests, forget its routes, publish, and schedule a restart
    /// if it is supervised.
    fn link_down(&mut self, link: LinkId, reason: String, ctx: &mut Context<Self>) {
        let Some(mut slot) = self.links.remove(&link) else {
            return;
        };
        let was_active = slot.state == LinkState::Active;
        slot.state = LinkState::Closed;
        // Idempotent requests stay pending, to be sent again when a route is back.
        let failed = self
            .pending
            .lock()
            .detach_link(link.0, |p| p.retry.is_some());
        for (_, request) in failed {
            request.finish(Err(TransportError::ConnectionLost));
        }
        let stranded = slot.queue.drain().len() as u64;
        if stranded > 0 {
            self.counters.drops += stranded;
            tracing::warn!(node = %self.node, %link, stranded, "queued messages dropped with the link");
        }
        let gone = self.routing.forget_link(link);
        self.withdraw_everywhere(gone, Some(link));
        for node in std::mem::take(&mut slot.bus_nodes) {
            self.publish(SwarmEvent::NodeDown {
                node,
                transport: slot.transport,
                reason: format!("bus link lost: {reason}"),
            });
        }
        if was_active {
            tracing::info!(node = %self.node, %link, peer = %slot.peer, %reason, "link down");
        } else {
            let sup = slot.spec.and_then(|s| self.supervised.get_mut(&s));
            let repeated = sup
                .as_ref()
                .is_some_and(|s| s.last_failure.as_deref() == Some(reason.as_str()));
            if repeated {
                tracing::debug!(node = %self.node, %link, peer = %slot.peer, %reason, "connection attempt failed");
            } else {
                tracing::warn!(node = %self.node, %link, peer = %slot.peer, %reason, "connection attempt failed; retrying with backoff");
            }
            if let Some(sup) = sup {
                sup.last_failure = Some(reason.clone());
            }
        }
        self.publish(SwarmEvent::Link {
            link,
            transport: slot.transport,
            peer: slot.peer.clone(),
            state: LinkState::Closed,
            reason: Some(reason),
        });
        if let Some(spec) = slot.spec {
            self.schedule_retry(spec, ctx);
        }
    }

    fn schedule_retry(&mut self, spec: SpecId, ctx: &mut Context<Self>) {
        let random = self.rng.next_u64();
        let Some(sup) = self.supervised.get_mut(&spec) else {
            return;
        };
        sup.current = None;
        match sup.backoff.next_delay(random) {
            Some(delay) => {
                sup.retry_at = Some(Instant::now() + delay);
                tracing::debug!(node = %self.node, peer = %sup.connector.peer(), ?delay, "reconnect scheduled");
            }
            None => {
                let peer = sup.connector.peer();
                let attempts = sup.backoff.attempts();
                tracing::warn!(node = %self.node, %peer, attempts, "link gave up reconnecting");
                self.supervised.remove(&spec);
                self.publish(SwarmEvent::LinkGaveUp { peer, attempts });
            }
        }
        self.reschedule(ctx);
    }

    /// The handshake finished: the link is active.
    fn link_active(&mut self, link: LinkId, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        slot.state = LinkState::Active;
        slot.handshake = None;
        if let Some(negotiated) = &slot.negotiated {
            if let Some(max) = negotiated.peer_limit(META_MAX_MESSAGE_SIZE) {
                slot.max_message_size = max;
            }
            if let Some(depth) = negotiated.peer_limit(META_MAX_DEPTH) {
                slot.max_depth = depth.min(swarm_protocol::value::MAX_DEPTH);
            }
        }
        slot.heartbeat = Some(swarm_protocol::core::heartbeat::HeartbeatTracker::new(
            now,
            self.config.heartbeat_interval,
            self.config.heartbeat_timeout,
        ));
        if let Some(node) = slot
            .negotiated
            .as_ref()
            .and_then(|n| n.peer_metadata.get("node"))
        {
            slot.peer = node.clone();
        }
        let (transport, peer) = (slot.transport, slot.peer.clone());
        if let Some(sup) = slot.spec.and_then(|s| self.supervised.get_mut(&s)) {
            sup.backoff.reset();
            if sup.ever_up {
                sup.reconnects += 1;
                self.reconnects += 1;
            }
            sup.ever_up = true;
            sup.last_failure = None;
        }
        tracing::info!(node = %self.node, %link, %peer, transport, "link up");
        let agents = self.announceable_to(link);
        if !agents.is_empty() {
            self.send_control(
                link,
                MessageType::Control {
                    operation: ControlOperation::Announce { agents },
                },
            );
        }
        self.publish(SwarmEvent::Link {
            link,
            transport,
            peer,
            state: LinkState::Active,
            reason: None,
        });
        self.reschedule(ctx);
    }

    /// A handshake failed: reject if we must, then close.
    fn handshake_failed(
        &mut self,
        link: LinkId,
        reject: Option<ControlOperation>,
        error: HandshakeError,
        ctx: &mut Context<Self>,
    ) {
        tracing::warn!(node = %self.node, %link, %error, "handshake failed");
        if let Some(slot) = self.links.get_mut(&link) {
            slot.counters.errors += 1;
        }
        self.counters.errors += 1;
        let kind = match &error {
            HandshakeError::RejectedPeer { code, .. } => CloseKind::for_reject(*code),
            HandshakeError::RejectedByPeer { .. } => CloseKind::Normal,
            HandshakeError::Unexpected | HandshakeError::Timeout => CloseKind::Protocol,
        };
        if let Some(op) = reject {
            self.send_control(link, MessageType::Control { operation: op });
        }
        self.close_link(link, &error.to_string(), kind, ctx);
    }

    // ----- timers ---------------------------------------------------------------------------

    /// The earliest deadline of anything this node waits for.
    fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.pending.lock().next_deadline();
        for slot in self.links.values() {
            next = earliest(next, slot.next_deadline(self.config.slow_consumer_timeout));
        }
        for sup in self.supervised.values() {
            next = earliest(next, sup.retry_at);
        }
        next
    }

    /// Arms the single wake-up timer for the earliest deadline, if it is not armed earlier.
    fn reschedule(&mut self, ctx: &mut Context<Self>) {
        let Some(next) = self.next_deadline() else {
            return;
        };
        self.arm(next, ctx);
    }

    fn arm(&mut self, at: Instant, ctx: &mut Context<Self>) {
        if let Some((armed, handle)) = self.wakeup {
            if armed <= at {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = at.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, |this, ctx| {
            this.wakeup = None;
            this.pending.set_armed(None);
            this.on_timeout(Instant::now(), ctx);
        });
        self.wakeup = Some((at, handle));
        self.pending.set_armed(Some(at));
    }

    /// Everything due at `now`: request timeouts, connect/handshake timeouts, heartbeats,
    /// reconnects.
    fn on_timeout(&mut self, now: Instant, ctx: &mut Context<Self>) {
        let expired = self.pending.lock().on_timeout(now);
        for (id, request) in expired {
            self.timeouts += 1;
            tracing::debug!(node = %self.node, request = %id, "request timed out");
            request.finish(Err(TransportError::Timeout));
        }
        let ids: Vec<LinkId> = self.links.keys().copied().collect();
        for link in ids {
            self.link_timeout(link, now, ctx);
        }
        let due: Vec<SpecId> = self
            .supervised
            .iter()
            .filter(|(_, s)| s.retry_at.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for spec in due {
            self.start_connect(spec, ctx);
        }
        self.reschedule(ctx);
    }

    fn link_timeout(&mut self, link: LinkId, now: Instant, ctx: &mut Context<Self>) {
        let span = self.link_span(link);
        let _entered = span.enter();
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        match slot.state {
            LinkState::Connecting => {
                if slot.connect_deadline.is_some_and(|d| d <= now) {
                    self.close_link(link, "connection timed out", CloseKind::GoingAway, ctx);
                }
            }
            LinkState::Handshaking => {
                if let Some(error) = slot.handshake.as_mut().and_then(|h| h.on_timeout(now)) {
                    let reject = ControlOperation::Reject {
                        code: RejectCode::Timeout,
                        reason: "no handshake within the connection timeout".into(),
                    };
                    self.handshake_failed(link, Some(reject), error, ctx);
                }
            }
            LinkState::Active | LinkState::Draining => {
                if slot
                    .consumption
                    .overdue(now, self.config.slow_consumer_timeout)
                {
                    slot.counters.errors += 1;
                    self.slow_consumers += 1;
                    let reason = format!(
                        "slow consumer: {} bytes unread for {:?}",
                        slot.consumption.unconsumed(),
                        self.config.slow_consumer_timeout
                    );
                    tracing::warn!(node = %self.node, %link, %reason, "closing link");
                    self.close_link(link, &reason, CloseKind::Policy, ctx);
                    return;
                }
                let action = slot
                    .heartbeat
                    .as_mut()
                    .map_or(HeartbeatAction::Idle, |h| h.on_timeout(now));
                match action {
                    HeartbeatAction::Idle => {}
                    HeartbeatAction::Probe { seq } => self.send_probe(link, seq),
                    HeartbeatAction::Dead => {
                        if let Some(slot) = self.links.get_mut(&link) {
                            slot.counters.errors += 1;
                        }
                        tracing::warn!(node = %self.node, %link, "heartbeat timeout");
                        self.close_link(link, "heartbeat timeout", CloseKind::GoingAway, ctx);
                    }
                }
            }
            LinkState::Closed => {}
        }
    }

    /// Registers a supervised link and connects it now.
    fn add_supervised(
        &mut self,
        connector: Box<dyn LinkConnector + Send>,
        ctx: &mut Context<Self>,
    ) {
        let spec = self.next_spec;
        self.next_spec += 1;
        self.supervised.insert(
            spec,
            SupervisedLink {
                connector,
                backoff: Backoff::new(self.config.effective_backoff()),
                current: None,
                retry_at: None,
                reconnects: 0,
                ever_up: false,
                last_failure: None,
            },
        );
        self.start_connect(spec, ctx);
    }

    fn stats(&self) -> NodeStats {
        let links: Vec<_> = self
            .links
            .values()
            .map(|slot| {
                let reconnects = slot
                    .spec
                    .and_then(|s| self.supervised.get(&s))
                    .map_or(0, |s| s.reconnects);
                slot.stats(reconnects)
            })
            .collect();
        let mut counters = self.counters;
        counters.drops += self.pending.late() + self.backlog.rejected();
        NodeStats {
            node: self.node.clone(),
            counters,
            delivered: self.directory.delivered(),
            expired: self.expired,
            late_responses: self.pending.late(),
            timeouts: self.timeouts,
            reconnects: self.reconnects,
            slow_consumers: self.slow_consumers,
            pending_requests: self.pending.lock().len(),
            queue_depth: links.iter().map(|l| l.queue_depth).sum(),
            backlog: self.backlog.len(),
            local_agents: self.directory.len(),
            links,
        }
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.sinks = Some(link_sinks(&ctx.address()));
        tracing::info!(node = %self.node, "supervisor started");
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.release();
        tracing::info!(node = %self.node, "supervisor stopped");
    }
}

impl Supervisor {
    /// The node is going away: no local agent is reachable any more, every pending request
    /// fails with `NotAvailable`, every link is closed. Idempotent.
    fn release(&mut self) {
        self.directory.clear();
        let waiters = self.pending.lock().drain();
        for (_, request) in waiters {
            request.finish(Err(TransportError::NotAvailable("node stopped".into())));
        }
        for (_, slot) in self.links.drain() {
            if let Some(handle) = &slot.handle {
                handle.close.do_send(LinkClose {
                    reason: "node stopped".into(),
                    kind: CloseKind::GoingAway,
                });
            }
        }
    }
}

impl Drop for Supervisor {
    /// A backstop: actix calls `stopped` when it drops a running actor's context (also when a
    /// panic in a handler unwinds its task), and `release` is idempotent; should the actor ever
    /// be dropped without it, requests that handles registered in the shared table must still
    /// not wait forever.
    fn drop(&mut self) {
        self.release();
    }
}
