//! The node's side of the inbound shortcut (see [`crate::link::InboundShortcut`]): what a
//! link may deliver without the supervisor.
//!
//! * a response to a request of this node: its waiter is completed in the shared pending
//!   table;
//! * an event addressed to a local agent: into the agent's mailbox;
//! * a request (not idempotent) to a local agent: its return path is recorded in the shared
//!   table, then it goes into the agent's mailbox.
//!
//! Everything else goes to the supervisor: heartbeats and control, broadcasts and swarm-wide
//! events (flooded, de-duplicated), idempotent requests (de-duplicated and replayed), messages
//! for other nodes (forwarded, ttl counted), responses to forwarded requests, and messages whose
//! agent is gone or whose mailbox is full (the supervisor unregisters, counts and reports).

use std::sync::Arc;

use swarm_protocol::MessageType;

use crate::link::{InboundShortcut, LinkId};
use crate::node::directory::{LocalDelivery, LocalDirectory};
use crate::node::pending::SharedPending;
use crate::node::return_paths::ReturnPaths;
use crate::support::delivered_message::DeliveredMessage;

/// The tables of one node a link delivers through.
pub struct NodeShortcut {
    /// The local agents.
    pub directory: Arc<LocalDirectory>,
    /// The node's pending requests.
    pub pending: Arc<SharedPending>,
    /// Where responses to requests from links go.
    pub return_paths: Arc<ReturnPaths>,
}

impl InboundShortcut for NodeShortcut {
    fn deliver(&self, link: LinkId, mut message: DeliveredMessage) -> Result<(), DeliveredMessage> {
        let addressed = message.destination.is_some();
        match &message.payload {
            MessageType::Response { .. } => {
                let completed = match message.get_mut() {
                    // The only copy: its result moves to the requester.
                    Some(owned) => self.pending.complete_owned(owned),
                    None => self.pending.complete(&message),
                };
                if completed {
                    Ok(())
                } else {
                    Err(message)
                }
            }
            MessageType::Event { .. } if addressed => delivered(self.directory.deliver(message)),
            MessageType::Request { .. } if addressed && !message.is_idempotent() => {
                // The path is recorded before the request is queued, so the response, which
                // the agent sends after it reads the request, finds it.
                match self.directory.deliver_if(message, |m| {
                    self.return_paths.record(m.id, link);
                    true
                }) {
                    Ok(outcome) => delivered(outcome),
                    Err(message) => Err(message),
                }
            }
            _ => Err(message),
        }
    }
}

/// `Ok` when the directory delivered; the message back otherwise.
fn delivered(outcome: LocalDelivery<DeliveredMessage>) -> Result<(), DeliveredMessage> {
    match outcome {
        LocalDelivery::Delivered => Ok(()),
        LocalDelivery::Gone(m) | LocalDelivery::Full(m) | LocalDelivery::NotLocal(m) => Err(m),
    }
}
