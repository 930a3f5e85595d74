//! Presence on the bus: this node's own (what it reaches, published every heartbeat interval,
//! or goodbye), and other nodes' — turned into `Announce` / `Withdraw` toward the node and into
//! node up / down reports, paired by the [`NodeDirectory`](super::super::node_directory).

use actix::prelude::*;
use swarm_protocol::{ControlOperation, Message, MessageType};

use super::NatsLinkActor;
use crate::link::{BusNodeChange, Lane};
use crate::support::clock::Instant;

impl NatsLinkActor {
    /// Publishes this node's presence: what it reaches, or goodbye.
    pub(super) fn publish_presence(&mut self, operation: ControlOperation) {
        let msg = Message::control(self.node.as_str(), operation);
        match self.encode(&msg) {
            Ok(payload) => {
                let subject = self.subjects.presence(&self.node).into();
                self.publish(Some((subject, None, payload)), Lane::Control, 0);
            }
            Err(reason) => tracing::warn!(link = %self.link, %reason, "presence not published"),
        }
    }

    pub(super) fn announce_presence(&mut self) {
        let mut agents: Vec<String> = self.offered.keys().cloned().collect();
        agents.sort();
        let pools = agents
            .iter()
            .filter(|a| self.offered.get(*a).is_some_and(|o| o.pool))
            .cloned()
            .collect();
        self.publish_presence(ControlOperation::Announce {
            agents,
            origin: None,
            pools,
        });
    }

    /// Tells the node that agents of `node` are gone (outside a burst: used from timers).
    pub(super) fn inbound_withdraw(&mut self, node: &str, agents: Vec<String>) {
        let msg = Message::control(node, ControlOperation::withdraw(agents));
        // A withdrawal is small and must not be refused by the flood limit.
        self.inbound.flush();
        self.port.inbound(msg, 0, None);
    }

    pub(super) fn on_presence(&mut self, node: String, payload: &[u8], ctx: &mut Context<Self>) {
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
                operation: ControlOperation::Announce { agents, pools, .. },
            } => {
                let change = self
                    .nodes
                    .on_presence(&node, &agents, &pools, Instant::now());
                if change.node_up {
                    tracing::info!(link = %self.link, %node, "node joined the bus");
                    // The newcomer may have subscribed after our last presence: tell it now
                    // rather than a heartbeat interval later.
                    self.announce_presence();
                    self.bus_node(node.clone(), BusNodeChange::Up);
                }
                // One route per agent for the whole bus (its origin: this link's peer).
                if !change.announce.is_empty() {
                    self.control(
                        &node,
                        ControlOperation::Announce {
                            agents: change.announce,
                            origin: None,
                            pools: change.pools,
                        },
                        ctx,
                    );
                }
                // A second host of a name that is not a pool: the node reports it.
                if !change.duplicates.is_empty() {
                    self.control(
                        &node,
                        ControlOperation::Announce {
                            agents: change.duplicates,
                            origin: Some(node.clone()),
                            pools: Vec::new(),
                        },
                        ctx,
                    );
                }
                if !change.withdraw.is_empty() {
                    self.control(&node, ControlOperation::withdraw(change.withdraw), ctx);
                }
            }
            MessageType::Control {
                operation: ControlOperation::Goodbye { reason },
            } => {
                if let Some(gone) = self.nodes.on_goodbye(&node) {
                    if !gone.withdraw.is_empty() {
                        self.control(&node, ControlOperation::withdraw(gone.withdraw), ctx);
                    }
                    tracing::info!(link = %self.link, %node, %reason, "node left the bus");
                    self.bus_node(
                        node,
                        BusNodeChange::Down {
                            reason: format!("left: {reason}"),
                        },
                    );
                }
            }
            _ => tracing::warn!(link = %self.link, %node, "unexpected presence message ignored"),
        }
    }
}
