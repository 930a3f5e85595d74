//! The control traffic a bus link answers itself: the node's `Hello` (the bus accepts every
//! node; the answer carries the server's `max_payload`), its `Announce` / `Withdraw` (turned
//! into queue subscriptions and presence), `Goodbye`, and its heartbeat probes (echoed once
//! the connection has flushed).

use std::collections::BTreeMap;

use actix::prelude::*;
use async_nats::connection::State;
use swarm_protocol::core::handshake::CAP_GZIP;
use swarm_protocol::{ControlOperation, Message, ProtocolVersion};

use super::super::subjects::SubjectKind as Kind;
use super::{NatsLinkActor, BUS};

impl NatsLinkActor {
    pub(super) fn on_control(&mut self, operation: &ControlOperation, ctx: &mut Context<Self>) {
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
                metadata.insert(
                    swarm_protocol::core::handshake::META_BUS.to_owned(),
                    "nats".to_owned(),
                );
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
            ControlOperation::Announce {
                agents,
                origin,
                pools,
            } => {
                let mut changed = false;
                for agent in agents {
                    let origin = origin.clone().unwrap_or_default();
                    if let Some(offer) = self.offered.get_mut(agent) {
                        offer.origins.insert(origin);
                        continue;
                    }
                    let mut offer = super::Offer {
                        pool: pools.contains(agent),
                        ..Default::default()
                    };
                    offer.origins.insert(origin);
                    self.offered.insert(agent.clone(), offer);
                    {
                        let subject = self.subjects.agent(agent);
                        // The queue group is the agent's token: every node reaching the agent
                        // is one member, so each message reaches one of them.
                        let queue = subject.rsplit('.').next().unwrap_or_default().to_owned();
                        let keep = super::bus::Keep::Agent(agent.clone());
                        self.subscribe(subject, Some(queue), Some(keep), ctx);
                        changed = true;
                    }
                }
                if changed {
                    self.announce_presence();
                }
            }
            ControlOperation::Withdraw { agents, origin } => {
                let mut changed = false;
                for agent in agents {
                    let Some(offer) = self.offered.get_mut(agent) else {
                        continue;
                    };
                    offer.origins.remove(origin.as_deref().unwrap_or_default());
                    if !offer.origins.is_empty() {
                        // Still hosted by another origin this node reaches.
                        continue;
                    }
                    if let Some(handle) = self.offered.remove(agent).and_then(|o| o.subscription) {
                        // Dropping the subscriber unsubscribes.
                        ctx.cancel_future(handle);
                    }
                    changed = true;
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
            ControlOperation::Subscribe {
                topics,
                events,
                origin,
            }
            | ControlOperation::Unsubscribe {
                topics,
                events,
                origin,
            } => {
                let wanted = matches!(operation, ControlOperation::Subscribe { .. });
                self.listen(Kind::Topic, topics, origin.as_deref(), wanted, ctx);
                self.listen(Kind::Event, events, origin.as_deref(), wanted, ctx);
            }
            ControlOperation::HelloAck { .. }
            | ControlOperation::Reject { .. }
            | ControlOperation::FlowControl { .. } => {}
        }
    }

    /// The node's liveness probe: echoed once everything written so far has been flushed
    /// to the server on a connected connection.
    pub(super) fn probe(&mut self, seq: u64, sent_at: u64, ctx: &mut Context<Self>) {
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
}
