//! Links coming and going: a supervised link's connect attempt (with the port it reports
//! to), activation once the handshake is done (announce, re-send parked idempotent requests),
//! heartbeat probes, closing, link-down handling (fail or park its requests, forget its
//! routes) and the restart with backoff and jitter.

use actix::{AsyncContext, Context};
use swarm_protocol::core::backoff::Backoff;
use swarm_protocol::core::handshake::{
    HandshakeError, Negotiated, META_BUS, META_MAX_DEPTH, META_MAX_MESSAGE_SIZE,
};
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::{ControlOperation, MessageType, RejectCode};

use super::commands::Connect;
use super::link_slot::{LinkSlot, Phase, SpecId, SupervisedLink};
use super::outbound::OutboundQueue;
use super::{link_sinks, Supervisor};
use crate::error::TransportError;
use crate::events::SwarmEvent;
use crate::link::{CloseKind, LinkClose, LinkContext, LinkId, LinkPort};
use crate::support::clock::{wall_clock_ms, Instant};

impl Supervisor {
    /// Starts a connection attempt for a supervised link.
    pub(super) fn start_connect(&mut self, spec: SpecId, ctx: &mut Context<Self>) {
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
        let deadline = sup
            .connector
            .connect_timeout(&self.config)
            .map(|t| Instant::now() + t);
        slot.enter(Phase::Connecting { deadline });
        sup.last_link = Some(link);
        sup.publish(|s| {
            s.state = LinkState::Connecting;
            s.link = Some(link);
        });
        self.links.insert(link, slot);
        tracing::debug!(node = %self.node, %link, "connecting");
        let sinks = self
            .sinks
            .get_or_insert_with(|| link_sinks(&ctx.address(), self.shortcut.clone()))
            .clone();
        sup.connector.connect(LinkContext {
            port: LinkPort::new(link, sinks),
            config: self.config.clone(),
            node: self.node.clone(),
        });
        self.reschedule(ctx);
    }

    /// The tracing span of a link (disabled if the link is unknown).
    pub(super) fn link_span(&self, link: LinkId) -> tracing::Span {
        self.links
            .get(&link)
            .map_or_else(tracing::Span::none, |s| s.span.clone())
    }

    /// Tells the peer on `link` that this side is leaving, and why.
    pub(super) fn say_goodbye(&mut self, link: LinkId, reason: &str) {
        self.send_control(
            link,
            MessageType::Control {
                operation: ControlOperation::Goodbye {
                    reason: reason.to_owned(),
                },
            },
        );
    }

    /// Closes a link from this side: tells the actor, then handles it as down.
    pub(super) fn close_link(
        &mut self,
        link: LinkId,
        reason: &str,
        kind: CloseKind,
        ctx: &mut Context<Self>,
    ) {
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
    pub(super) fn link_down(&mut self, link: LinkId, reason: String, ctx: &mut Context<Self>) {
        self.link_lost(link, reason, None, ctx);
    }

    /// As [`Supervisor::link_down`]; with a `permanent` error, a supervised link is not
    /// restarted (it could never succeed) and its handles get the error.
    pub(super) fn link_lost(
        &mut self,
        link: LinkId,
        reason: String,
        permanent: Option<TransportError>,
        ctx: &mut Context<Self>,
    ) {
        let Some(mut slot) = self.links.remove(&link) else {
            return;
        };
        let was_active = slot.phase.is_active();
        slot.enter(Phase::Closed);
        slot.fold_shortcut_counts(&mut self.counters);
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
            self.dropped.stranded += stranded;
            tracing::warn!(node = %self.node, %link, stranded, "queued messages dropped with the link");
        }
        for (origin, gone) in self.routing.forget_link(link) {
            self.withdraw_everywhere(Some(origin), gone, Some(link));
        }
        self.forget_interest(link);
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
            if permanent.is_some() {
                tracing::warn!(node = %self.node, %link, peer = %slot.peer, %reason, "connection attempt failed; not retrying, it cannot succeed");
            } else if repeated {
                tracing::debug!(node = %self.node, %link, peer = %slot.peer, %reason, "connection attempt failed");
            } else {
                tracing::warn!(node = %self.node, %link, peer = %slot.peer, %reason, "connection attempt failed; retrying with backoff");
            }
        }
        if let Some(sup) = slot.spec.and_then(|s| self.supervised.get_mut(&s)) {
            sup.last_failure = Some(reason.clone());
        }
        self.publish(SwarmEvent::Link {
            link,
            transport: slot.transport,
            peer: slot.peer.clone(),
            state: LinkState::Closed,
            reason: Some(reason),
        });
        match (slot.spec, permanent) {
            (Some(spec), Some(error)) => self.give_up(spec, error),
            (Some(spec), None) => self.schedule_retry(spec, ctx),
            (None, _) => {}
        }
        // A link lost while draining may have been the last one with a queue.
        self.check_drained(Instant::now(), ctx);
    }

    /// Stops supervising `spec`: it cannot succeed (`error` says why) or ran out of attempts.
    fn give_up(&mut self, spec: SpecId, error: TransportError) {
        let Some(sup) = self.supervised.remove(&spec) else {
            return;
        };
        let (peer, attempts) = (sup.connector.peer(), sup.backoff.attempts());
        sup.publish(|s| {
            s.state = LinkState::Closed;
            s.last_error = Some(error.to_string());
            s.failure = Some(error);
        });
        self.publish(SwarmEvent::LinkGaveUp { peer, attempts });
    }

    pub(super) fn schedule_retry(&mut self, spec: SpecId, ctx: &mut Context<Self>) {
        let random = self.rng.next_u64();
        let Some(sup) = self.supervised.get_mut(&spec) else {
            return;
        };
        sup.current = None;
        sup.down_since = Instant::now();
        match sup.backoff.next_delay(random) {
            Some(delay) => {
                sup.retry_at = Some(Instant::now() + delay);
                let last_error = sup.last_failure.clone();
                sup.publish(|s| {
                    s.state = LinkState::BackingOff;
                    s.last_error = last_error;
                });
                tracing::debug!(node = %self.node, peer = %sup.connector.peer(), ?delay, "reconnect scheduled");
            }
            None => {
                let attempts = sup.backoff.attempts();
                let last = sup.last_failure.clone().unwrap_or_default();
                tracing::warn!(node = %self.node, peer = %sup.connector.peer(), attempts, "link gave up reconnecting");
                self.give_up(
                    spec,
                    TransportError::ConnectionError(format!(
                        "gave up after {attempts} attempts; last error: {last}"
                    )),
                );
            }
        }
        self.reschedule(ctx);
    }

    /// The handshake finished with `negotiated`: the link is active.
    pub(super) fn link_active(
        &mut self,
        link: LinkId,
        negotiated: &Negotiated,
        ctx: &mut Context<Self>,
    ) {
        let now = Instant::now();
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        if let Some(max) = negotiated.peer_limit(META_MAX_MESSAGE_SIZE) {
            slot.max_message_size = max;
        }
        if let Some(depth) = negotiated.peer_limit(META_MAX_DEPTH) {
            slot.max_depth = depth.min(swarm_protocol::value::MAX_DEPTH);
        }
        slot.enter(Phase::Active(
            swarm_protocol::core::heartbeat::HeartbeatTracker::new(
                now,
                self.config.heartbeat_interval,
                self.config.heartbeat_timeout,
            ),
        ));
        if let Some(node) = negotiated.peer_metadata.get("node") {
            slot.peer = node.clone();
        }
        slot.bus = negotiated.peer_metadata.contains_key(META_BUS);
        let (transport, peer) = (slot.transport, slot.peer.clone());
        if let Some(sup) = slot.spec.and_then(|s| self.supervised.get_mut(&s)) {
            sup.backoff.reset();
            if sup.ever_up {
                sup.reconnects += 1;
                self.reconnects += 1;
            }
            sup.ever_up = true;
            sup.last_failure = None;
            sup.publish(|s| {
                s.state = LinkState::Active;
                s.last_error = None;
            });
        }
        tracing::info!(node = %self.node, %link, %peer, transport, "link up");
        // Interest before routes: once a peer knows an agent here, it knows what we listen to.
        self.tell_interest_to(link);
        self.announce_to(link);
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
    pub(super) fn handshake_failed(
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
        // A peer that refused our credential will refuse it again. A version refusal is
        // retried (with backoff, up to the attempt limit): a rolling upgrade may fix it.
        let permanent = match &error {
            HandshakeError::RejectedByPeer {
                code: RejectCode::Auth,
                reason,
            } => Some(TransportError::Rejected {
                reason: format!("{reason} (Auth): check the token; not retrying"),
            }),
            _ => None,
        };
        let reason = error.to_string();
        if let Some(handle) = self.links.get(&link).and_then(|s| s.handle.clone()) {
            handle.close.do_send(LinkClose {
                reason: reason.clone(),
                kind,
            });
        }
        self.link_lost(link, reason, permanent, ctx);
    }

    /// Registers a supervised link and connects it now.
    pub(super) fn add_supervised(&mut self, connect: Connect, ctx: &mut Context<Self>) {
        let Connect {
            connector,
            spec,
            status,
        } = connect;
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
                last_link: None,
                status,
                down_since: Instant::now(),
            },
        );
        self.start_connect(spec, ctx);
    }

    /// Sends a heartbeat probe on `link` now; its echo will prove how far the peer has read.
    pub(super) fn probe(&mut self, link: LinkId, now: Instant) {
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        let Some(hb) = slot.phase.heartbeat_mut() else {
            return;
        };
        let seq = hb.probe_now(now);
        self.send_probe(link, seq);
    }

    /// Sends probe `seq`, marking how much data it follows.
    pub(super) fn send_probe(&mut self, link: LinkId, seq: u64) {
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
}
