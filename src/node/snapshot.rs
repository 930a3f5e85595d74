//! What an operator sees of a node at one instant ([`Swarm::snapshot`]): its stats and links,
//! its local agents, the routes it learned to remote agents, and the subscriptions it knows
//! (local subscribers, and interest learned from each link). Serializable, for the JSON API
//! (`api`) and for tools.

use serde::Serialize;

use crate::error::TransportError;
use crate::link::LinkId;
use crate::node::stats::NodeStats;
use crate::node::supervisor::commands::GetSnapshot;
use crate::node::swarm::Swarm;

/// A node at one instant.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSnapshot {
    /// The node's name.
    pub node: String,
    /// Shutting down (see [`Swarm::shutdown`]).
    pub draining: bool,
    /// Sessions its endpoints serve now (WebSocket and other accepted links), out of
    /// `max_sessions`.
    pub sessions: usize,
    /// Other nodes it sees: linked directly, reported by a bus, or hosting a route, sorted.
    pub nodes: Vec<NodeView>,
    /// Counters and links, as [`Swarm::stats`] gives them.
    pub stats: NodeStats,
    /// Agents registered on this node, sorted.
    pub agents: Vec<String>,
    /// Remote agents this node can reach, sorted by agent then origin.
    pub routes: Vec<RouteView>,
    /// Topics and events someone here or beyond a link subscribed to, sorted.
    pub subscriptions: Vec<SubscriptionView>,
}

/// Another node as this one sees it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// The node's name.
    pub name: String,
    /// Links it is reached over: its own link to this node, or the bus that reported it.
    pub links: Vec<LinkId>,
    /// Agents this node routes to it, sorted.
    pub agents: Vec<String>,
}

/// A route to a remote agent.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteView {
    /// The agent (or pool) name.
    pub agent: String,
    /// The node hosting it.
    pub origin: String,
    /// The link it is reached over.
    pub link: LinkId,
    /// The peer at the other end of that link.
    pub peer: String,
    /// Whether the name is a pool (several members share the work).
    pub pool: bool,
}

/// Who wants one topic or event name.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionView {
    /// `"topic"` (broadcasts) or `"event"` (swarm-wide events).
    pub kind: &'static str,
    /// The topic or event name.
    pub name: String,
    /// Subscribers on this node.
    pub local_subscribers: usize,
    /// Interest learned from links: the node that wants it, and the link it came over.
    pub remote: Vec<RemoteInterest>,
}

/// Interest in a name from a node beyond a link.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteInterest {
    /// The node that subscribed.
    pub origin: String,
    /// The link its interest came over.
    pub link: LinkId,
    /// The peer at the other end of that link.
    pub peer: String,
}

impl NodeSnapshot {
    pub(crate) fn new(
        node: String,
        draining: bool,
        nodes: Vec<NodeView>,
        stats: NodeStats,
        agents: Vec<String>,
        routes: Vec<RouteView>,
        subscriptions: Vec<SubscriptionView>,
    ) -> Self {
        NodeSnapshot {
            node,
            draining,
            sessions: 0,
            nodes,
            stats,
            agents,
            routes,
            subscriptions,
        }
    }
}

impl NodeView {
    pub(crate) fn new(name: String) -> Self {
        NodeView {
            name,
            links: Vec::new(),
            agents: Vec::new(),
        }
    }
}

impl RouteView {
    pub(crate) fn new(agent: &str, origin: &str, link: LinkId, peer: String, pool: bool) -> Self {
        RouteView {
            agent: agent.to_owned(),
            origin: origin.to_owned(),
            link,
            peer,
            pool,
        }
    }
}

impl SubscriptionView {
    pub(crate) fn new(
        kind: &'static str,
        name: String,
        local_subscribers: usize,
        remote: Vec<RemoteInterest>,
    ) -> Self {
        SubscriptionView {
            kind,
            name,
            local_subscribers,
            remote,
        }
    }
}

impl RemoteInterest {
    pub(crate) fn new(origin: String, link: LinkId, peer: String) -> Self {
        RemoteInterest { origin, link, peer }
    }
}

impl Swarm {
    /// The node at this instant: stats, links, local agents, routes and subscriptions.
    pub async fn snapshot(&self) -> Result<NodeSnapshot, TransportError> {
        let mut snapshot = self
            .supervisor()
            .send(GetSnapshot)
            .await
            .map_err(|_| TransportError::NodeStopped)?;
        snapshot.sessions = self.acceptor_ref().sessions();
        Ok(snapshot)
    }
}
