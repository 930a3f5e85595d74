//! [`AgentLocation`]: where an agent is, as a node sees it (`Swarm::locate`).

use crate::link::LinkId;

/// Where an agent is, as this node sees it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentLocation {
    /// Registered on this node.
    Local,
    /// Reachable through this link.
    Link(LinkId),
}
