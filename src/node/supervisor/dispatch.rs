//! Where each message goes: a local agent (through the shared directory), the link a route
//! or a return path names, every link with subscribers beyond it (broadcasts and events,
//! flooded with split horizon and de-duplicated by id), or back to its sender as
//! undeliverable. Also the control messages the node sends on its links (announcements).

use std::sync::Arc;

use actix::Recipient;
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::{error_code, ControlOperation, ErrorBody, Message, MessageId, MessageType};

use super::routing::SubscriptionKind;
use super::Supervisor;
use crate::error::SendError;
use crate::events::SwarmEvent;
use crate::link::{Lane, LinkId, LinkOutbound, LinkOutboundBatch};
use crate::node::directory::LocalDelivery;
use crate::node::post_queue::Post;
use crate::support::clock::Instant;

impl Supervisor {
    /// Routes a message a handle of this node sent (`send`, or the post queue), giving back
    /// its backlog slot. The handle already looked the destination up among the local agents
    /// when `not_local` is set, so an addressed request or event goes straight to the remote
    /// routes.
    pub(super) fn route_post(&mut self, post: Post) -> Result<(), SendError> {
        let Post {
            message,
            not_local,
            slot,
        } = post;
        self.backlog.release(slot);
        if self.is_draining() && !matches!(message.payload, MessageType::Response { .. }) {
            return Err(SendError::Closed(Box::new(Arc::unwrap_or_clone(message))));
        }
        let addressed = matches!(
            message.payload,
            MessageType::Request { .. } | MessageType::Event { .. }
        ) && message.destination.is_some();
        if not_local && addressed {
            self.route_remote(message, None)
        } else {
            self.route(message, None)
        }
    }

    /// Routes a message that entered this node (from a local sender when `from` is `None`,
    /// otherwise from that link).
    pub(super) fn route(
        &mut self,
        msg: Arc<Message>,
        from: Option<LinkId>,
    ) -> Result<(), SendError> {
        match &msg.payload {
            MessageType::Response { correlation_id, .. } => {
                let cid = *correlation_id;
                if self.pending.complete(&msg) {
                    return Ok(());
                }
                if let Some(link) = self.return_paths.take(&cid) {
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
                    self.return_paths.record(msg.id, link);
                }
                self.route_to_destination(msg, from)
            }
            MessageType::Event { .. } => self.route_to_destination(msg, from),
        }
    }

    /// An idempotent request came again (sent again after a lost link): replay its response
    /// if it passed through already, otherwise send the response, when it comes, this way.
    pub(super) fn repeated_request(
        &mut self,
        msg: &Message,
        link: LinkId,
    ) -> Result<(), SendError> {
        tracing::debug!(node = %self.node, request = %msg.id, %link, "repeated idempotent request");
        match self.replay.get(&msg.id).cloned().flatten() {
            Some(response) => self.forward_to_link(link, response),
            None => {
                self.return_paths.record(msg.id, link);
                Ok(())
            }
        }
    }

    /// Sends parked idempotent requests (their link was lost) on a route that is back.
    pub(super) fn resend_parked(&mut self) {
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

    pub(super) fn route_to_destination(
        &mut self,
        msg: Arc<Message>,
        from: Option<LinkId>,
    ) -> Result<(), SendError> {
        let msg = match self.directory.deliver(msg) {
            LocalDelivery::Delivered => return Ok(()),
            LocalDelivery::Gone(msg) => return self.agent_gone(msg),
            LocalDelivery::Full(msg) => {
                self.counters.drops += 1;
                self.dropped.mailbox_full += 1;
                return Err(SendError::Full(Box::new(Arc::unwrap_or_clone(msg))));
            }
            LocalDelivery::NotLocal(msg) => msg,
        };
        self.route_remote(msg, from)
    }

    /// Routes a message whose destination is not a local agent: to the link that reaches it,
    /// never back to the link it came from.
    pub(super) fn route_remote(
        &mut self,
        msg: Arc<Message>,
        from: Option<LinkId>,
    ) -> Result<(), SendError> {
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
    pub(super) fn agent_gone(&mut self, msg: Arc<Message>) -> Result<(), SendError> {
        let name = msg.destination.clone().unwrap_or_default();
        if self.directory.unregister(&name) {
            tracing::info!(node = %self.node, agent = %name, "agent stopped; unregistered");
            self.local_pools.remove(name.as_str());
            self.withdraw_everywhere(None, vec![name.to_string()], None);
        }
        Err(SendError::UnknownAgent(Box::new(Arc::unwrap_or_clone(msg))))
    }

    /// Queues a data message on a link (one hop: the ttl is used up here).
    pub(super) fn forward_to_link(
        &mut self,
        link: LinkId,
        mut msg: Arc<Message>,
    ) -> Result<(), SendError> {
        let Some(slot) = self.links.get_mut(&link) else {
            return Err(SendError::Closed(Box::new(Arc::unwrap_or_clone(msg))));
        };
        if !slot.phase.can_send() {
            return Err(SendError::Closed(Box::new(Arc::unwrap_or_clone(msg))));
        }
        if msg.ttl.is_some() && !Arc::make_mut(&mut msg).decrement_ttl() {
            self.expired += 1;
            self.counters.drops += 1;
            self.dropped.expired += 1;
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
            && slot.in_flight.len() < self.config.link_window
            && slot.consumption.has_room()
            && slot.handle.is_some()
        {
            slot.handed(size);
            self.counters.record_out(size);
            if let Some(handle) = &slot.handle {
                handle.outbound.do_send(LinkOutbound {
                    message: msg,
                    lane: Lane::Data,
                });
            }
            self.after_handoff(link);
            return Ok(());
        }
        if let Err(msg) = slot.queue.push(msg.priority, size, msg) {
            slot.counters.drops += 1;
            self.counters.drops += 1;
            self.dropped.queue_full += 1;
            return Err(SendError::Full(Box::new(Arc::unwrap_or_clone(msg))));
        }
        self.flush_link(link);
        Ok(())
    }

    /// Hands queued data to the link actor while its window has room.
    pub(super) fn flush_link(&mut self, link: LinkId) {
        let window = self.config.link_window;
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        if slot.handle.is_none() {
            return;
        }
        let mut burst = self.outbound_spares.take();
        while slot.in_flight.len() < window && slot.consumption.has_room() {
            let Some((message, size)) = slot.queue.pop() else {
                break;
            };
            slot.handed(size);
            self.counters.record_out(size);
            burst.push(LinkOutbound {
                message,
                lane: Lane::Data,
            });
        }
        if let Some(handle) = &slot.handle {
            match (&handle.outbound_batch, burst.len()) {
                (Some(batch), 2..) => batch.do_send(LinkOutboundBatch(burst)),
                _ => burst.drain(..).for_each(|out| handle.outbound.do_send(out)),
            }
        }
        self.after_handoff(link);
    }

    /// After data went to a link: keep the "full" bookkeeping and probe when a quarter of the
    /// unread limit went out since the last probe. Reads the clock only when needed.
    pub(super) fn after_handoff(&mut self, link: LinkId) {
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

    /// Delivers a broadcast or swarm-wide event to local subscribers once, and floods it to
    /// every active link except the one it came from.
    pub(super) fn flood(
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
            let emptied = self.routing.prune_closed_subscribers();
            self.tell_interest(false, None, emptied, None);
        }
        if full > 0 {
            self.counters.drops += full;
            self.dropped.mailbox_full += full;
            if let Some(passed_over) = self.undeliverable_log.due(Instant::now()) {
                tracing::warn!(node = %self.node, id = %msg.id, %name, subscribers = full, passed_over, "subscriber mailbox full; delivery dropped");
            }
        }
        for link in self.interested_links(kind, name, from) {
            if let Err(e) = self.forward_to_link(link, msg.clone()) {
                if let Some(passed_over) = self.not_forwarded_log.due(Instant::now()) {
                    tracing::warn!(node = %self.node, %link, error = %e, passed_over, "flood not forwarded on link");
                }
            }
        }
    }

    /// Reports a failed fire-and-forget send: counted, logged, published.
    pub(super) fn undeliverable(&mut self, error: SendError) {
        // A full queue or mailbox and an expired ttl were counted where they happened.
        if !matches!(error, SendError::Full(_) | SendError::Expired(_)) {
            self.counters.drops += 1;
            self.dropped.undeliverable += 1;
        }
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
    pub(super) fn bounce(&mut self, error: SendError) {
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

    pub(super) fn publish(&mut self, event: SwarmEvent) {
        let counts = &mut self.events;
        match &event {
            SwarmEvent::Link { state, .. } if *state == LinkState::Active => counts.links_up += 1,
            SwarmEvent::Link { state, .. } if *state == LinkState::Closed => counts.links_down += 1,
            SwarmEvent::NodeUp { .. } => counts.nodes_up += 1,
            SwarmEvent::NodeDown { .. } => counts.nodes_down += 1,
            _ => {}
        }
        self.event_subscribers.retain(Recipient::connected);
        for sub in &self.event_subscribers {
            sub.do_send(event.clone());
        }
    }

    /// Links that can carry data, but `except`.
    pub(super) fn active_links_except(&self, except: Option<LinkId>) -> Vec<LinkId> {
        self.links
            .iter()
            .filter(|(id, slot)| Some(**id) != except && slot.phase.can_send())
            .map(|(id, _)| *id)
            .collect()
    }

    pub(super) fn control_everywhere(
        &mut self,
        operation: ControlOperation,
        except: Option<LinkId>,
    ) {
        if matches!(&operation, ControlOperation::Announce { agents, .. } | ControlOperation::Withdraw { agents, .. } if agents.is_empty())
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

    /// Sends link traffic (control, heartbeats) ahead of data.
    pub(super) fn send_control(&mut self, link: LinkId, payload: MessageType) {
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
}
