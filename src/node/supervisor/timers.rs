//! The one timer: every deadline (requests, handshakes, heartbeats, reconnects, slow
//! consumers) lives in a pure state machine; the supervisor arms a single `run_later` for the
//! earliest one and calls `on_timeout(now)` when it fires, so tests run on paused time.

use actix::{AsyncContext, Context};
use swarm_protocol::core::earliest;
use swarm_protocol::core::heartbeat::HeartbeatAction;
use swarm_protocol::{ControlOperation, RejectCode};

use super::link_slot::{Phase, SpecId};
use super::Supervisor;
use crate::error::TransportError;
use crate::link::{CloseKind, LinkId};
use crate::support::clock::Instant;

impl Supervisor {
    /// The earliest deadline of anything this node waits for.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
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
    pub(super) fn reschedule(&mut self, ctx: &mut Context<Self>) {
        let Some(next) = self.next_deadline() else {
            return;
        };
        self.arm(next, ctx);
    }

    pub(super) fn arm(&mut self, at: Instant, ctx: &mut Context<Self>) {
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
    pub(super) fn on_timeout(&mut self, now: Instant, ctx: &mut Context<Self>) {
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
        self.check_drained(now, ctx);
        self.reschedule(ctx);
    }

    pub(super) fn link_timeout(&mut self, link: LinkId, now: Instant, ctx: &mut Context<Self>) {
        let span = self.link_span(link);
        let _entered = span.enter();
        let Some(slot) = self.links.get_mut(&link) else {
            return;
        };
        match &mut slot.phase {
            Phase::Connecting { deadline } => {
                if deadline.is_some_and(|d| d <= now) {
                    self.close_link(link, "connection timed out", CloseKind::GoingAway, ctx);
                }
            }
            Phase::Handshaking(handshake) => {
                if let Some(error) = handshake.on_timeout(now) {
                    let reject = ControlOperation::Reject {
                        code: RejectCode::Timeout,
                        reason: "no handshake within the connection timeout".into(),
                    };
                    self.handshake_failed(link, Some(reject), error, ctx);
                }
            }
            Phase::Active(_) => {
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
                    .phase
                    .heartbeat_mut()
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
            Phase::Closed => {}
        }
    }
}
