//! Messages from link actors: a connection opened (start the handshake), a message arrived
//! (handshake, heartbeat, routing control or data), data was written (window credit), or the
//! link closed (fail its requests, forget its routes, restart it if supervised).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::{Context, Handler};
use swarm_protocol::core::handshake::{
    Handshake, HandshakeConfig, HandshakeStep, Role, CAP_GZIP, META_MAX_DEPTH,
    META_MAX_MESSAGE_SIZE,
};
use swarm_protocol::value::MAX_DEPTH;
use swarm_protocol::{ControlOperation, Message, MessageType, ProtocolVersion};

use super::interest_sync::topics_of;
use super::link_slot::{LinkSlot, Phase};
use super::outbound::OutboundQueue;
use super::Supervisor;
use crate::error::SendError;
use crate::events::SwarmEvent;
use crate::link::{
    BusNodeChange, CloseKind, LinkBusNode, LinkClose, LinkClosed, LinkConfigure, LinkDropped,
    LinkFlushed, LinkId, LinkInbound, LinkInboundBatch, LinkInboundRefused, LinkOpened,
    LinkRefused,
};
use crate::support::clock::Instant;
use swarm_protocol::codec::CodecError;
use swarm_protocol::core::correlation::Completion;

impl Supervisor {
    fn handshake_config(&self) -> HandshakeConfig {
        let mut metadata = BTreeMap::new();
        metadata.insert("node".to_owned(), self.node.clone());
        // What this node accepts, so that a peer refuses an oversize or over-deep message
        // when sending it instead of having the link closed under it.
        metadata.insert(
            META_MAX_MESSAGE_SIZE.to_owned(),
            self.config.max_message_size.to_string(),
        );
        metadata.insert(META_MAX_DEPTH.to_owned(), MAX_DEPTH.to_string());
        HandshakeConfig {
            version: ProtocolVersion::CURRENT,
            capabilities: if self.config.enable_compression {
                vec![CAP_GZIP.to_owned()]
            } else {
                Vec::new()
            },
            metadata,
        }
    }

    /// Handles a control message on a link that is still handshaking.
    fn on_handshake_message(&mut self, link: LinkId, msg: &Message, ctx: &mut Context<Self>) {
        let MessageType::Control { operation } = &msg.payload else {
            let error = swarm_protocol::core::handshake::HandshakeError::Unexpected;
            let reject = ControlOperation::Reject {
                code: swarm_protocol::RejectCode::Protocol,
                reason: "data before handshake".into(),
            };
            self.handshake_failed(link, Some(reject), error, ctx);
            return;
        };
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        let Some(handshake) = slot.phase.handshake_mut() else {
            return;
        };
        let auth = match (&self.config.authenticator, slot.authenticated) {
            (Some(auth), false) => Some(auth.clone()),
            _ => None,
        };
        let authorize = |meta: &BTreeMap<String, String>| match &auth {
            Some(auth) => auth.0.check_hello(meta),
            None => Ok(()),
        };
        match handshake.on_control(operation, authorize) {
            HandshakeStep::Done { reply, negotiated } => {
                if self.config.enable_compression && negotiated.has(CAP_GZIP) {
                    if let Some(configure) = slot.handle.as_ref().and_then(|h| h.configure.as_ref())
                    {
                        configure.do_send(LinkConfigure { compression: true });
                    }
                }
                if let Some(op) = reply {
                    self.send_control(link, MessageType::Control { operation: op });
                }
                self.link_active(link, &negotiated, ctx);
            }
            HandshakeStep::Reject { reply, error } => {
                self.handshake_failed(link, Some(reply), error, ctx)
            }
            HandshakeStep::Failed(error) => self.handshake_failed(link, None, error, ctx),
        }
    }

    /// Handles link-level traffic on an active link.
    fn on_link_control(
        &mut self,
        link: LinkId,
        operation: &ControlOperation,
        ctx: &mut Context<Self>,
    ) {
        match operation {
            ControlOperation::Announce {
                agents,
                origin,
                pools,
            } => self.on_announce(link, agents, origin.as_deref(), pools),
            ControlOperation::Withdraw { agents, origin } => {
                self.on_withdraw(link, agents, origin.as_deref())
            }
            ControlOperation::Goodbye { reason } => {
                let reason = format!("peer said goodbye: {reason}");
                self.close_link(link, &reason, CloseKind::Normal, ctx);
            }
            ControlOperation::Reject { code, reason } => {
                let reason = format!("peer rejected ({code:?}): {reason}");
                self.close_link(link, &reason, CloseKind::Normal, ctx);
            }
            ControlOperation::Subscribe {
                topics,
                events,
                origin,
            } => {
                let topics = topics_of(topics, events);
                self.on_interest(link, true, origin.clone(), topics);
            }
            ControlOperation::Unsubscribe {
                topics,
                events,
                origin,
            } => {
                let topics = topics_of(topics, events);
                self.on_interest(link, false, origin.clone(), topics);
            }
            ControlOperation::FlowControl { .. } => {}
            ControlOperation::Hello { .. } | ControlOperation::HelloAck { .. } => {
                if let Some(slot) = self.links.get_mut(&link) {
                    slot.counters.errors += 1;
                }
                tracing::warn!(node = %self.node, %link, "handshake message on an active link ignored");
            }
        }
    }
}

impl Handler<LinkOpened> for Supervisor {
    type Result = ();

    fn handle(&mut self, opened: LinkOpened, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let timeout = self.config.connection_timeout();
        let config = self.handshake_config();
        let link = opened.link;
        if self.is_draining() {
            opened.handle.close.do_send(LinkClose {
                reason: "node shutting down".into(),
                kind: CloseKind::GoingAway,
            });
            self.link_down(link, "node shutting down".into(), ctx);
            return;
        }
        let slot = match self.links.get_mut(&link) {
            Some(slot) if slot.phase.is_connecting() => slot,
            Some(_) => return,
            None if opened.role == Role::Acceptor => {
                let queue = OutboundQueue::new(
                    self.config.link_queue_messages,
                    self.config.link_queue_bytes,
                );
                let node = self.node.clone();
                let unread = self.config.link_unread_bytes;
                self.links.entry(link).or_insert_with(|| {
                    LinkSlot::new(
                        &node,
                        link,
                        opened.transport,
                        opened.peer.clone(),
                        queue,
                        unread,
                    )
                })
            }
            None => {
                // We gave up on this attempt already (timed out): close the late connection.
                opened.handle.close.do_send(LinkClose {
                    reason: "connection attempt already timed out".into(),
                    kind: CloseKind::GoingAway,
                });
                return;
            }
        };

        slot.handle = Some(opened.handle);
        slot.gate = Some(opened.gate);
        slot.authenticated = opened.authenticated;
        match opened.role {
            Role::Initiator => {
                let (handshake, hello) = Handshake::initiate(config, now, timeout);
                slot.enter(Phase::Handshaking(handshake));
                self.send_control(link, MessageType::Control { operation: hello });
            }
            Role::Acceptor => {
                slot.enter(Phase::Handshaking(Handshake::accept(config, now, timeout)));
            }
        }
        self.reschedule(ctx);
    }
}

impl Handler<LinkInbound> for Supervisor {
    type Result = ();

    fn handle(&mut self, inbound: LinkInbound, ctx: &mut Context<Self>) {
        let span = self.link_span(inbound.link);
        let _entered = span.enter();
        self.on_inbound(
            inbound.link,
            inbound.message.into_shared(),
            inbound.size,
            ctx,
        );
    }
}

impl Handler<LinkInboundBatch> for Supervisor {
    type Result = ();

    fn handle(&mut self, batch: LinkInboundBatch, ctx: &mut Context<Self>) {
        let LinkInboundBatch {
            link,
            mut messages,
            ticket: _ticket,
            queued: _queued,
        } = batch;
        let span = self.link_span(link);
        let _entered = span.enter();
        for (message, size) in messages.drain(..) {
            self.on_inbound(link, message.into_shared(), size, ctx);
        }
    }
}

impl Supervisor {
    /// One message arrived on `link`.
    fn on_inbound(
        &mut self,
        link: LinkId,
        message: Arc<Message>,
        size: usize,
        ctx: &mut Context<Self>,
    ) {
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        slot.counters.record_in(size);
        self.counters.record_in(size);
        match slot.phase {
            Phase::Handshaking(_) => {
                self.on_handshake_message(link, &message, ctx);
                return;
            }
            Phase::Active(_) => {}
            Phase::Connecting { .. } | Phase::Closed => return,
        }
        match &message.payload {
            MessageType::Heartbeat { seq, sent_at, echo } => {
                if *echo {
                    let seq = *seq;
                    // The clock is read for heartbeats only, not per data message.
                    let now = Instant::now();
                    if slot
                        .phase
                        .heartbeat_mut()
                        .and_then(|hb| hb.on_echo(seq, now))
                        .is_some()
                    {
                        slot.consumption.on_echo(seq);
                        self.flush_link(link);
                    }
                } else {
                    let (seq, sent_at) = (*seq, *sent_at);
                    self.send_control(
                        link,
                        MessageType::Heartbeat {
                            seq,
                            sent_at,
                            echo: true,
                        },
                    );
                }
            }
            MessageType::Control { operation } => self.on_link_control(link, operation, ctx),
            _ => {
                if let Err(e) = self.route(message, Some(link)) {
                    self.bounce(e);
                }
            }
        }
    }
}

impl Handler<LinkFlushed> for Supervisor {
    type Result = ();

    fn handle(&mut self, flushed: LinkFlushed, ctx: &mut Context<Self>) {
        if let Some(slot) = self.links.get_mut(&flushed.link) {
            let estimated = slot.written(flushed.count, flushed.bytes);
            self.counters.correct_out(estimated, flushed.bytes as u64);
            self.flush_link(flushed.link);
            self.check_drained(Instant::now(), ctx);
        }
    }
}

impl Handler<LinkClosed> for Supervisor {
    type Result = ();

    fn handle(&mut self, closed: LinkClosed, ctx: &mut Context<Self>) {
        let span = self.link_span(closed.link);
        let _entered = span.enter();
        self.link_lost(closed.link, closed.reason, closed.permanent, ctx);
    }
}

impl Handler<LinkBusNode> for Supervisor {
    type Result = ();

    fn handle(&mut self, report: LinkBusNode, _: &mut Context<Self>) {
        let Some(slot) = self.links.get_mut(&report.link) else {
            return;
        };
        let transport = slot.transport;
        // Up and down pair per node: a repeat is not news, a down for a node never up is none.
        let event = match report.change {
            BusNodeChange::Up => {
                slot.bus_nodes
                    .insert(report.node.clone())
                    .then_some(SwarmEvent::NodeUp {
                        node: report.node,
                        transport,
                    })
            }
            BusNodeChange::Down { reason } => {
                slot.bus_nodes
                    .remove(&report.node)
                    .then_some(SwarmEvent::NodeDown {
                        node: report.node,
                        transport,
                        reason,
                    })
            }
        };
        if let Some(event) = event {
            self.publish(event);
        }
    }
}

impl Handler<LinkDropped> for Supervisor {
    type Result = ();

    fn handle(&mut self, dropped: LinkDropped, _: &mut Context<Self>) {
        if let Some(slot) = self.links.get_mut(&dropped.link) {
            slot.counters.drops += dropped.messages;
            self.counters.drops += dropped.messages;
            self.dropped.link += dropped.messages;
        }
    }
}

impl Handler<LinkRefused> for Supervisor {
    type Result = ();

    fn handle(&mut self, refused: LinkRefused, _: &mut Context<Self>) {
        let LinkRefused {
            link,
            message,
            error,
        } = refused;
        if let Some(slot) = self.links.get_mut(&link) {
            slot.counters.errors += 1;
        }
        self.counters.errors += 1;
        // A request of this node's own: its waiter learns why now (`MessageTooLarge`, or a
        // serialization error such as a value nested too deep).
        if message.is_request() {
            if let Completion::Waiter(p) = self.pending.lock().complete(message.id) {
                p.finish(Err(error.into()));
                return;
            }
        }
        let message = Box::new(Arc::unwrap_or_clone(message));
        let error = match error {
            CodecError::TooLarge { size, max } => SendError::TooLarge { message, size, max },
            _ => SendError::Closed(message),
        };
        self.bounce(error);
    }
}

impl Handler<LinkInboundRefused> for Supervisor {
    type Result = ();

    fn handle(&mut self, refused: LinkInboundRefused, _: &mut Context<Self>) {
        let LinkInboundRefused {
            link,
            envelope,
            reason,
        } = refused;
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        slot.counters.errors += 1;
        self.counters.errors += 1;
        if !envelope.request || !slot.phase.is_active() {
            slot.counters.drops += 1;
            self.counters.drops += 1;
            self.dropped.refused += 1;
            return;
        }
        // The request as far as it could be read: enough to address the error response.
        let mut request = Message::request(envelope.source, "", swarm_protocol::Value::Null);
        request.id = envelope.id;
        request.destination = envelope.destination.map(Into::into);
        let mut reply = Message::response(
            self.node.clone(),
            &request,
            Err(swarm_protocol::ErrorBody::new(
                swarm_protocol::error_code::TOO_LARGE,
                format!("request refused: {reason}"),
            )),
        );
        self.stamp(&mut reply);
        if let Err(e) = self.forward_to_link(link, Arc::new(reply)) {
            self.undeliverable(e);
        }
    }
}
