//! Events the node publishes to subscribers of
//! [`Swarm::subscribe_swarm_events`](crate::Swarm::subscribe_swarm_events): link state changes
//! nodes joining and leaving a bus (NATS), and undeliverable messages.

use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::Message;

use crate::link::LinkId;

/// Something happened on this node that users may want to react to.
#[non_exhaustive]
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "()")]
pub enum SwarmEvent {
    /// A link changed state (`Active` = up; `Closed` = down).
    Link {
        /// The link.
        link: LinkId,
        /// Transport name (`in_process`, `websocket`...).
        transport: &'static str,
        /// Peer description (node name once known, otherwise its address).
        peer: String,
        /// The new state.
        state: LinkState,
        /// Why (for `Closed`).
        reason: Option<String>,
    },
    /// A supervised link gave up reconnecting (its attempt limit was reached).
    LinkGaveUp {
        /// Peer description.
        peer: String,
        /// Failed attempts.
        attempts: u32,
    },
    /// A node became reachable through a bus link (NATS): its first presence was heard.
    NodeUp {
        /// The node's name.
        node: String,
        /// Transport name of the bus (`nats`).
        transport: &'static str,
    },
    /// A node on a bus link left (said goodbye) or fell silent for the heartbeat timeout; its
    /// agents are no longer routable (unless another node offers them too).
    NodeDown {
        /// The node's name.
        node: String,
        /// Transport name of the bus (`nats`).
        transport: &'static str,
        /// Why (`"left: …"`, `"silent for …"`, or `"bus link lost: …"` when this node lost the
        /// bus: every node reported up through it is reported down, and up again on return).
        reason: String,
    },
    /// Two nodes host an agent of the same name, not both as pool members
    /// ([`Swarm::register_pool`](crate::Swarm::register_pool)): messages to it go to `kept`
    /// only. Reported once per name and node.
    DuplicateAgent {
        /// The agent's name.
        agent: String,
        /// The node whose agent gets the messages.
        kept: String,
        /// The node whose agent of that name is ignored here.
        ignored: String,
    },
    /// A fire-and-forget message could not be delivered.
    Undeliverable {
        /// The message.
        message: Box<Message>,
        /// Why.
        reason: String,
    },
}
