//! Leaving the swarm in order: [`Swarm::shutdown`](crate::Swarm::shutdown).
//!
//! A draining node takes no new work — sends and requests from its handles are refused
//! (`Closed`, `NodeStopped`), supervised links are not reconnected, new inbound links are
//! closed at once — but responses still go out, so requests its agents are answering finish.
//! It waits until every link has handed out its queued messages (bounded by
//! `drain_timeout`), then says `Goodbye` on every link *behind* that data (on the data lane,
//! so no link writes it ahead of what it still has), closes them (WebSocket 1001), fails the
//! requests still pending with `NodeStopped`, and stops.

use actix::{ActorContext, Context};
use std::sync::Arc;
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::{ControlOperation, Message, MessageType};
use tokio::sync::oneshot;

use super::Supervisor;
use crate::link::{CloseKind, Lane, LinkId, LinkOutbound};
use crate::support::clock::Instant;

/// Why the links are closed, as the peers read it.
const REASON: &str = "node shutting down";

/// A drain in progress.
pub struct Draining {
    /// When the node stops waiting for queues to empty.
    pub deadline: Instant,
    /// Told when the node has said goodbye everywhere.
    waiters: Vec<oneshot::Sender<()>>,
}

impl Supervisor {
    /// Whether the node is draining (takes no new work).
    pub(super) fn is_draining(&self) -> bool {
        self.draining.is_some()
    }

    /// Starts draining (or joins the drain under way); `done` is told when it is over.
    pub(super) fn start_drain(
        &mut self,
        done: Option<oneshot::Sender<()>>,
        ctx: &mut Context<Self>,
    ) {
        let draining = self.draining.get_or_insert_with(|| Draining {
            deadline: Instant::now() + self.config.drain_timeout,
            waiters: Vec::new(),
        });
        draining.waiters.extend(done);
        tracing::info!(node = %self.node, "draining: no new work, flushing links");
        for (_, sup) in self.supervised.drain() {
            sup.publish(|s| s.state = LinkState::Closed);
        }
        let unopened: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, slot)| !slot.phase.is_active())
            .map(|(id, _)| *id)
            .collect();
        for link in unopened {
            self.close_link(link, REASON, CloseKind::GoingAway, ctx);
        }
        self.check_drained(Instant::now(), ctx);
    }

    /// Finishes the drain once every link's queue is handed out, or at its deadline.
    pub(super) fn check_drained(&mut self, now: Instant, ctx: &mut Context<Self>) {
        let Some(deadline) = self.draining.as_ref().map(|d| d.deadline) else {
            return;
        };
        let flushed = self.links.values().all(|slot| slot.queue.is_empty());
        if !flushed && now < deadline {
            self.arm(deadline, ctx);
            return;
        }
        if !flushed {
            tracing::warn!(node = %self.node, "drain timed out with messages still queued");
        }
        // Taken first: closing the links below must not come back here.
        let waiters = self.draining.take().map(|d| d.waiters).unwrap_or_default();
        // Before the links close, or their requests would fail as `ConnectionLost`.
        let pending = self.pending.lock().drain();
        for (_, request) in pending {
            request.finish(Err(crate::error::TransportError::NodeStopped));
        }
        let links: Vec<LinkId> = self.links.keys().copied().collect();
        for link in links {
            self.goodbye_behind_data(link);
            self.close_link(link, REASON, CloseKind::GoingAway, ctx);
        }
        tracing::info!(node = %self.node, "drained; goodbye said on every link");
        for waiter in waiters {
            let _ = waiter.send(());
        }
        // Stopping fails what is still pending (`release`).
        ctx.stop();
    }

    /// Sends `Goodbye` on `link` in the data lane, after everything handed to it.
    fn goodbye_behind_data(&mut self, link: LinkId) {
        let mut goodbye = Message::new(
            self.node.clone(),
            MessageType::Control {
                operation: ControlOperation::Goodbye {
                    reason: REASON.into(),
                },
            },
        );
        self.stamp(&mut goodbye);
        if let Some(handle) = self.links.get(&link).and_then(|s| s.handle.as_ref()) {
            handle.outbound.do_send(LinkOutbound {
                message: Arc::new(goodbye),
                lane: Lane::Data,
            });
        }
    }
}
